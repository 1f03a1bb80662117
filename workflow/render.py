"""Statements and transcripts laid out for people: a readable draft, plain text, SRT, WebVTT."""

from __future__ import annotations

from dataclasses import dataclass

from models import UNKNOWN, Statement, Transcript
from models.statement import FIELD_NAMES


def _timestamp(seconds: float, *, decimal: str) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal}{millis:03d}"


@dataclass(frozen=True)
class _Cue:
    start: float
    end: float
    text: str
    voice: str | None = None  # who said it, for a diarised recording


def speaker_label(transcript: Transcript, speaker: str) -> str:
    """How a voice is named to a reader: its role when known ("Officer", "Witness (proposed)"
    while the officer has not confirmed it), else "Speaker S3"."""
    for found in transcript.speakers:
        if found.id == speaker and found.role != UNKNOWN:
            return found.role.title() + ("" if found.confirmed else " (proposed)")
    return f"Speaker {speaker}"


def _cues(transcript: Transcript) -> list[_Cue]:
    """Subtitle cues: a turn each for a diarised recording (who spoke is the point), a segment
    each otherwise."""
    if transcript.diarised:
        return [
            _Cue(t.start, t.end, t.text, speaker_label(transcript, t.speaker))
            for t in transcript.turns
        ]
    return [_Cue(s.start, s.end, s.text) for s in transcript.segments]


def render_srt(transcript: Transcript) -> str:
    blocks = [
        f"{i}\n{_timestamp(c.start, decimal=',')} --> {_timestamp(c.end, decimal=',')}\n"
        + (f"{c.voice}: " if c.voice else "")
        + f"{c.text}\n"
        for i, c in enumerate(_cues(transcript), start=1)
    ]
    return "\n".join(blocks)


def render_vtt(transcript: Transcript) -> str:
    # WebVTT's voice span (<v Officer>) names the speaker of a cue.
    blocks = [
        f"{_timestamp(c.start, decimal='.')} --> {_timestamp(c.end, decimal='.')}\n"
        + (f"<v {c.voice}>" if c.voice else "")
        + f"{c.text}\n"
        for c in _cues(transcript)
    ]
    return "WEBVTT\n\n" + "\n".join(blocks)


def render_txt(transcript: Transcript) -> str:
    if transcript.diarised:
        return "".join(
            f"{speaker_label(transcript, t.speaker)}: {t.text}\n" for t in transcript.turns
        )
    return transcript.text + "\n" if transcript.text else ""


def render_statement(statement: Statement) -> str:
    """The draft as an officer reads it on a screen: fields, people, vehicles, flags, text."""
    title = {
        "mg11": "Witness statement (MG11)",
        "missing_person": "Missing person report",
        "interview_record": "Record of a recorded interview (the recording's transcript)",
    }
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
        if t.diarised:
            lines.append(
                "Voices: "
                + "; ".join(
                    f"{s.id} {speaker_label(t, s.id)}, {s.speech_s:.0f} s"
                    + (f", {s.questions} questions" if s.questions else "")
                    + (f", enrolled voice similarity {s.similarity:.2f}" if s.similarity else "")
                    for s in t.speakers
                )
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
    if statement.exchanges:
        lines += ["", "Questions and answers (the record behind the statement)"]
        for e in statement.exchanges:
            if e.question:
                lines.append(f"  Q [{e.question_start_s or 0:.1f} s] {e.question}")
            lines.append(f"  A [{e.answer_start_s:.1f} s] {e.answer}")
    return "\n".join(lines) + "\n"
