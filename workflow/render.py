"""Statements and transcripts laid out for people: a readable draft, plain text, SRT, WebVTT."""

from __future__ import annotations

from models import Statement, Transcript
from models.statement import FIELD_NAMES


def _timestamp(seconds: float, *, decimal: str) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal}{millis:03d}"


def render_srt(transcript: Transcript) -> str:
    blocks = [
        f"{i}\n{_timestamp(s.start, decimal=',')} --> {_timestamp(s.end, decimal=',')}\n{s.text}\n"
        for i, s in enumerate(transcript.segments, start=1)
    ]
    return "\n".join(blocks)


def render_vtt(transcript: Transcript) -> str:
    blocks = [
        f"{_timestamp(s.start, decimal='.')} --> {_timestamp(s.end, decimal='.')}\n{s.text}\n"
        for s in transcript.segments
    ]
    return "WEBVTT\n\n" + "\n".join(blocks)


def render_txt(transcript: Transcript) -> str:
    return transcript.text + "\n" if transcript.text else ""


def render_statement(statement: Statement) -> str:
    """The draft as an officer reads it on a screen: fields, people, vehicles, flags, text."""
    title = {"mg11": "Witness statement (MG11)", "missing_person": "Missing person report"}
    lines = [
        f"{title.get(statement.template.value, statement.template.value)} — DRAFT, "
        f"statement date {statement.statement_date.isoformat()}",
    ]
    t = statement.transcript
    if t is not None:
        lines.append(
            f"Recording: {t.duration_s:.1f} s, language {t.language}"
            + (f", SHA-256 {t.audio.sha256}" if t.audio else "")
            + (f", model {t.model.name} ({t.model.engine})" if t.model else "")
        )
    lines.append("")
    lines.append("Fields")
    if not statement.fields:
        lines.append("  (none found)")
    width = max((len(n) for n in statement.fields), default=0)
    for name in FIELD_NAMES:
        if name not in statement.fields:
            continue
        f = statement.fields[name]
        heard = f' (heard "{f.text}"' + (f" at {f.start_s:.1f} s" if f.start_s is not None else "")
        lines.append(f"  {name.ljust(width)}  {f.value}{heard})")
    if statement.persons:
        lines += ["", "People"]
        lines += [f"  {p.name} ({p.role})" for p in statement.persons]
    if statement.vehicles:
        lines += ["", "Vehicles"]
        for v in statement.vehicles:
            extra = " ".join(x for x in (v.colour, v.make, v.model) if x)
            lines.append(f"  {v.registration}" + (f" ({extra})" if extra else ""))
    if statement.weapons:
        lines += ["", "Weapons"]
        lines += [f"  {w.value}" for w in statement.weapons]
    if statement.flags:
        lines += ["", "To check"]
        for flag in statement.flags:
            where = f" {flag.field}:" if flag.field else ""
            lines.append(f"  [{flag.kind}]{where} {flag.reason}")
    lines += ["", "Statement", statement.narrative or "(no speech)"]
    return "\n".join(lines) + "\n"
