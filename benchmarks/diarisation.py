"""Two voices: who spoke when, and what it does to the statement and to the time it takes.

    .venv/bin/python -m benchmarks.diarisation [--dialogues DIR] [--only d01 ...] [--repeat N]
                                               [--out FILE.json]

On the project's synthetic question-and-answer recordings (``tests/fixtures/dialogues``, made by
``scripts/make_dialogues.py``: an officer's espeak-ng voice, a witness's piper voice, gold
speaker turns), with the pipeline warm (models loaded once, as in the service), it reports for
each dialogue:

- word attribution: the share of Whisper's words given to the right voice (a word's gold voice
  is the gold turn its middle falls in or is nearest to; voices are named by the best one-to-one
  mapping onto the gold roles);
- diarisation error rate (DER): missed speech, false alarm and speaker confusion over the gold
  speech, in 10 ms frames, with the usual 0.25 s collar either side of each gold turn boundary
  left unscored (and without a collar, ``der_no_collar``); the system's speech is its turns;
- the officer identified: with the officer's enrolled voice (the sample named in the gold), and
  without it (proposed as the voice asking the questions);
- the MG11 (or missing person report) drafted from the dialogue: whether any officer question
  is in its narrative, and its fields scored against the gold by the contract's rules, beside
  the same account spoken as a monologue by the witness's voice;
- time: the median of ``repeat`` runs of transcription (decode, VAD, Whisper), of telling the
  voices apart (embeddings, clustering, attribution, roles) and of drafting; the added share is
  (time with voices - time without) / time without, for one recording.

Prints a Markdown table and writes JSON (default ``benchmarks/results/diarisation.json``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from benchmarks.common import REPO, write_results
from models import OFFICER, Statement, Template, Transcript, Word
from nlp import propose_roles
from nlp.scoring import Expected, GoldStatement, Produced, score_statements
from transcription.audio import decode_audio
from transcription.diarisation import DiarisationOptions, VoiceEmbedding, diarise
from transcription.transcribe import speech_regions
from transcription.vad import VadOptions
from workflow.pipeline import StatementPipeline, TranscribeRequest

DIALOGUES = REPO / "tests" / "fixtures" / "dialogues"
COLLAR_S = 0.25
FRAME_S = 0.01

T = TypeVar("T")


def timed(run: Callable[[], T], repeat: int) -> tuple[T, float]:
    """The result of ``run`` and the median of ``repeat`` timings of it, in seconds."""
    times, result = [], None
    for _ in range(max(repeat, 1)):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    assert result is not None
    return result, statistics.median(times)


# --- scoring who spoke -----------------------------------------------------------------------


def gold_role(word: Word, turns: Sequence[dict[str, Any]]) -> str:
    middle = (word.start + word.end) / 2

    def distance(turn: dict[str, Any]) -> float:
        return max(turn["start"] - middle, middle - turn["end"], 0.0)

    return str(min(turns, key=distance)["role"])


def best_mapping(overlap: Counter[tuple[str, str]]) -> dict[str, str]:
    """Voice → gold role, one to one, maximising the agreement counted in ``overlap``
    (keys ``(role, voice)``)."""
    voices = sorted({v for _, v in overlap})
    roles = sorted({r for r, _ in overlap})
    padded = roles + [""] * max(0, len(voices) - len(roles))
    best: dict[str, str] = {}
    best_score = -1
    for chosen in itertools.permutations(padded, len(voices)):
        mapping = dict(zip(voices, chosen, strict=True))
        score = sum(n for (role, voice), n in overlap.items() if mapping[voice] == role)
        if score > best_score:
            best, best_score = mapping, score
    return best


def word_attribution(transcript: Transcript, turns: Sequence[dict[str, Any]]) -> float:
    pairs = Counter((gold_role(w, turns), w.speaker or "") for w in transcript.words)
    if not pairs:
        return float("nan")
    mapping = best_mapping(pairs)
    right = sum(n for (role, voice), n in pairs.items() if mapping[voice] == role)
    return right / sum(pairs.values())


def der(
    transcript: Transcript, turns: Sequence[dict[str, Any]], *, collar_s: float = COLLAR_S
) -> float:
    """Diarisation error rate over the gold speech, in 10 ms frames (see the module doc)."""
    end = max([t["end"] for t in turns] + [t.end for t in transcript.turns]) + 1.0
    n = int(end / FRAME_S) + 1
    truth = np.full(n, "", dtype=object)
    scored = np.ones(n, dtype=bool)
    for turn in turns:
        truth[int(turn["start"] / FRAME_S) : int(turn["end"] / FRAME_S)] = turn["role"]
        for edge in (turn["start"], turn["end"]):
            scored[max(int((edge - collar_s) / FRAME_S), 0) : int((edge + collar_s) / FRAME_S)] = (
                False
            )
    said = np.full(n, "", dtype=object)
    for heard in transcript.turns:
        said[int(heard.start / FRAME_S) : int(heard.end / FRAME_S)] = heard.speaker
    overlap = Counter(
        (str(r), str(s)) for r, s in zip(truth[scored], said[scored], strict=True) if r and s
    )
    mapping = best_mapping(overlap) if overlap else {}
    speech = truth[scored] != ""
    hyp = said[scored] != ""
    missed = int(np.sum(speech & ~hyp))
    false_alarm = int(np.sum(~speech & hyp))
    confused = sum(
        1
        for r, s in zip(truth[scored], said[scored], strict=True)
        if r and s and mapping.get(str(s)) != r
    )
    return (missed + false_alarm + confused) / max(int(np.sum(speech)), 1)


def officer_identified(transcript: Transcript, turns: Sequence[dict[str, Any]]) -> bool:
    """Whether the voice given the officer's role is the officer's: most of its words are in
    the gold officer's turns (False when no voice was given the role)."""
    officers = [s.id for s in transcript.speakers if s.role == OFFICER]
    if len(officers) != 1:
        return False
    roles = [gold_role(w, turns) for w in transcript.words if w.speaker == officers[0]]
    return bool(roles) and roles.count(OFFICER) > len(roles) / 2


def _plain(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split())


def questions_in_narrative(statement: Statement, turns: Sequence[dict[str, Any]]) -> list[str]:
    """The officer's turns (of three words or more) whose words appear, in order, in the
    narrative."""
    narrative = _plain(statement.narrative)
    leaked = []
    for turn in turns:
        said = _plain(turn["text"])
        if turn["role"] == OFFICER and len(said.split()) >= 3 and said in narrative:
            leaked.append(turn["text"])
    return leaked


# --- one dialogue ----------------------------------------------------------------------------


@dataclass
class DialogueResult:
    id: str
    template: str
    duration_s: float
    words: int
    voices_found: int
    word_attribution: float
    der: float
    der_no_collar: float
    officer_identified_enrolled: bool
    officer_identified_proposed: bool
    officer_similarity: float | None
    questions_in_narrative: list[str]
    transcribe_s: float
    diarise_s: float
    draft_plain_s: float
    draft_dialogue_s: float
    added_share: float

    def row(self) -> str:
        return (
            f"| {self.id} | {self.template} | {self.duration_s:.0f} | {self.voices_found} | "
            f"{self.word_attribution:.1%} | {self.der:.1%} | {self.der_no_collar:.1%} | "
            f"{'yes' if self.officer_identified_enrolled else 'NO'} | "
            f"{'yes' if self.officer_identified_proposed else 'no'} | "
            f"{len(self.questions_in_narrative)} | {self.transcribe_s:.2f} | "
            f"{self.diarise_s:.2f} | {self.added_share:+.1%} |"
        )


def enrolled_voice(
    pipeline: StatementPipeline, gold: dict[str, Any], folder: Path
) -> VoiceEmbedding:
    return pipeline.enrol(folder / gold["officer_enrolment"])


def run_dialogue(
    pipeline: StatementPipeline, gold_path: Path, *, repeat: int
) -> tuple[DialogueResult, Statement, Statement]:
    gold = json.loads(gold_path.read_text(encoding="utf-8"))
    folder = gold_path.parent
    audio_path = folder / gold["audio"]["file"]
    template = Template(gold["template"])
    statement_date = date.fromisoformat(gold["statement_date"])
    turns = gold["turns"]
    speakers = len({t["role"] for t in turns})
    options = DiarisationOptions(speakers=speakers)
    officer_voice = enrolled_voice(pipeline, gold, folder)

    transcript, transcribe_s = timed(lambda: pipeline.transcribe(audio_path), repeat)
    audio = decode_audio(audio_path)
    regions = speech_regions(audio.samples, VadOptions())

    def tell_voices(voice: VoiceEmbedding | None) -> Transcript:
        found = diarise(
            audio.samples,
            regions,
            transcript,
            pipeline.speaker_encoder,
            options=options,
            officer_voice=voice,
        )
        return propose_roles(found.transcript)

    enrolled, diarise_s = timed(lambda: tell_voices(officer_voice), repeat)
    proposed = tell_voices(None)
    _, draft_plain_s = timed(
        lambda: pipeline.draft(transcript, template=template, statement_date=statement_date),
        repeat,
    )
    dialogue, draft_dialogue_s = timed(
        lambda: pipeline.draft(enrolled, template=template, statement_date=statement_date),
        repeat,
    )
    # The time the diarised path costs beyond the one-voice path: telling the voices apart, and
    # any difference in drafting. The voices are told apart from the decoded audio and the VAD
    # regions the transcription already has (StatementPipeline.transcribe reuses them).
    without = transcribe_s + draft_plain_s
    with_voices = transcribe_s + diarise_s + draft_dialogue_s
    similarity = next((s.similarity for s in enrolled.speakers if s.role == OFFICER), None)
    result = DialogueResult(
        id=gold["id"],
        template=template.value,
        duration_s=float(gold["audio"]["duration_s"]),
        words=len(enrolled.words),
        voices_found=len(enrolled.speakers),
        word_attribution=round(word_attribution(enrolled, turns), 4),
        der=round(der(enrolled, turns), 4),
        der_no_collar=round(der(enrolled, turns, collar_s=0.0), 4),
        officer_identified_enrolled=officer_identified(enrolled, turns),
        officer_identified_proposed=officer_identified(proposed, turns),
        officer_similarity=similarity,
        questions_in_narrative=questions_in_narrative(dialogue, turns),
        transcribe_s=round(transcribe_s, 3),
        diarise_s=round(diarise_s, 3),
        draft_plain_s=round(draft_plain_s, 3),
        draft_dialogue_s=round(draft_dialogue_s, 3),
        added_share=round((with_voices - without) / without, 4),
    )

    monologue_path = folder / gold["monologue_audio"]["file"]
    monologue = pipeline.draft(
        pipeline.transcribe(monologue_path), template=template, statement_date=statement_date
    )
    return result, dialogue, monologue


def field_scores(
    golds: Sequence[dict[str, Any]], statements: dict[str, Statement]
) -> dict[str, float]:
    gold = [
        GoldStatement(
            id=g["id"], template=g["template"], expected=Expected.from_dict(g["expected"])
        )
        for g in golds
    ]
    report = score_statements(
        gold, {i: Produced.from_dict(s.to_dict()) for i, s in statements.items()}
    )
    return {
        "precision": round(report.precision, 4),
        "recall": round(report.recall, 4),
        "f1": round(report.f1, 4),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dialogues", type=Path, default=DIALOGUES)
    parser.add_argument("--only", nargs="*", default=None, metavar="ID")
    parser.add_argument("--repeat", type=int, default=3, help="timings per stage (median)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    paths = sorted(args.dialogues.glob("d*.json"))
    if args.only:
        paths = [p for p in paths if p.stem in args.only]
    if not paths:
        parser.error(f"no dialogues in {args.dialogues}")
    pipeline = StatementPipeline()
    started = time.perf_counter()
    # Warm every model once (Whisper, spaCy, the speaker encoder, and their first calls).
    first = json.loads(paths[0].read_text(encoding="utf-8"))
    warm = pipeline.transcribe(
        args.dialogues / first["audio"]["file"],
        TranscribeRequest(diarisation=DiarisationOptions()),
    )
    pipeline.draft(warm, template=Template.MG11, statement_date=date(2026, 1, 1))
    warm_s = time.perf_counter() - started

    results, dialogues, monologues, golds = [], {}, {}, []
    for path in paths:
        result, dialogue, monologue = run_dialogue(pipeline, path, repeat=args.repeat)
        results.append(result)
        dialogues[result.id] = dialogue
        monologues[result.id] = monologue
        golds.append(json.loads(path.read_text(encoding="utf-8")))

    words = sum(r.words for r in results)
    summary = {
        "dialogues": len(results),
        "words": words,
        "word_attribution": round(
            sum(r.word_attribution * r.words for r in results) / max(words, 1), 4
        ),
        "worst_word_attribution": min(r.word_attribution for r in results),
        "der_mean": round(statistics.mean(r.der for r in results), 4),
        "der_no_collar_mean": round(statistics.mean(r.der_no_collar for r in results), 4),
        "officer_identified_enrolled": sum(r.officer_identified_enrolled for r in results),
        "officer_identified_proposed": sum(r.officer_identified_proposed for r in results),
        "officer_questions_in_narratives": sum(len(r.questions_in_narrative) for r in results),
        "fields_dialogue": field_scores(golds, dialogues),
        "fields_monologue": field_scores(golds, monologues),
        "added_share_median": round(statistics.median(r.added_share for r in results), 4),
        "added_share_worst": max(r.added_share for r in results),
        "warm_up_s": round(warm_s, 2),
    }
    print(
        "| dialogue | template | s | voices | words right | DER | DER no collar | officer "
        "(enrolled) | officer (proposed) | questions in narrative | transcribe s | voices s | "
        "added |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(r.row())
    print()
    print(json.dumps(summary, indent=2))
    write_results(
        "diarisation",
        {
            "summary": summary,
            "dialogues": [r.__dict__ for r in results],
            "narratives": {i: s.narrative for i, s in dialogues.items()},
        },
        args.out,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
