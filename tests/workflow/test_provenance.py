"""Every value a draft holds can be played back: its characters in the transcript and the
seconds of audio it was said in, for fields and for every list item (issue 3, item 7)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from models.statement import Statement, Template
from nlp.timing import locate_words
from workflow.pipeline import StatementPipeline

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "audio"

# Whisper's word times are rounded to its 20 ms frames; allow one frame either way.
FRAME_S = 0.02


def evidenced_items(statement: Statement) -> list[tuple[str, Any]]:
    """(label, item) for every field, detail and list item the draft holds."""
    items: list[tuple[str, Any]] = [(name, f) for name, f in statement.fields.items()]
    items += [(name, f) for name, f in getattr(statement, "details", {}).items()]
    items += [(f"person {p.name}", p) for p in statement.persons]
    items += [(f"vehicle {v.registration}", v) for v in statement.vehicles]
    items += [(f"weapon {w.value}", w) for w in statement.weapons]
    return items


def assert_playable(statement: Statement) -> int:
    """Each item's span lies inside the transcript and the audio, and its seconds cover every
    word Whisper heard inside its characters. Returns how many items were checked."""
    transcript = statement.transcript
    assert transcript is not None
    words = locate_words(transcript)
    items = evidenced_items(statement)
    for label, item in items:
        assert 0 <= item.start_char < item.end_char <= len(transcript.text), label
        assert item.start_s is not None and item.end_s is not None, f"{label}: no audio time"
        assert 0.0 <= item.start_s < item.end_s <= transcript.duration_s + FRAME_S, (
            label,
            item.start_s,
            item.end_s,
            transcript.duration_s,
        )
        inside = [
            w.word for w in words if w.start_char < item.end_char and item.start_char < w.end_char
        ]
        assert inside, f"{label}: no heard word inside its characters"
        for word in inside:
            assert item.start_s - FRAME_S <= word.start and word.end <= item.end_s + FRAME_S, (
                label,
                word,
            )
    return len(items)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("fixture", "template", "names_others"),
    [("mg11_assault", Template.MG11, True), ("missing_person", Template.MISSING_PERSON, False)],
)
def test_fixture_recordings_draft_with_playable_evidence(
    faster_pipeline: StatementPipeline, fixture: str, template: Template, names_others: bool
) -> None:
    transcript = faster_pipeline.transcribe(FIXTURES / f"{fixture}.ogg")
    statement = faster_pipeline.draft(
        transcript, template=template, statement_date=date(2026, 11, 20)
    )
    if names_others:  # the assault names the suspect, the victim and the car
        assert statement.persons and statement.vehicles
    assert assert_playable(statement) >= 5


@pytest.mark.slow
def test_dev_recordings_draft_with_playable_evidence(
    faster_pipeline: StatementPipeline, shared: Path
) -> None:
    """Across the whole dev set from its recordings: no value without its audio."""
    dev = shared / "eval" / "dev"
    checked = 0
    for path in sorted(dev.glob("*.json")):
        item = json.loads(path.read_text(encoding="utf-8"))
        transcript = faster_pipeline.transcribe(dev / item["audio"]["file"])
        statement = faster_pipeline.draft(
            transcript,
            template=Template(item["template"]),
            statement_date=date.fromisoformat(item["statement_date"]),
        )
        checked += assert_playable(statement)
    assert checked >= 50  # the ten recordings yield dozens of values between them
