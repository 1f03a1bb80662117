"""Flags the recording itself raises, and the layouts a person reads."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from models import Segment, Statement, Template, Transcript, Word
from workflow.pipeline import StatementPipeline, transcript_flags
from workflow.render import render_srt, render_statement, render_vtt
from workflow.settings import Settings


def _transcript(
    *, language: str = "en", task: str = "transcribe", logprob: float = -0.2
) -> Transcript:
    words = (Word("Hello", 1.0, 1.4, 0.9), Word(" there.", 1.4, 1.9, 0.8))
    segment = Segment(
        start=1.0,
        end=3661.5,
        text="Hello there.",
        avg_logprob=logprob,
        no_speech_prob=0.01,
        words=words,
    )
    return Transcript(
        text="Hello there.", language=language, duration_s=3700.0, segments=(segment,), task=task
    )


def test_a_plain_english_recording_raises_no_flag() -> None:
    assert transcript_flags(_transcript()) == []


def test_no_speech_is_flagged() -> None:
    empty = Transcript(text="", language="en", duration_s=60.0)
    assert [f.kind for f in transcript_flags(empty)] == ["no_speech"]


def test_another_language_or_a_translation_needs_an_interpreter() -> None:
    polish = transcript_flags(_transcript(language="pl"))
    assert [f.kind for f in polish] == ["interpreter_check"]
    assert "'pl'" in polish[0].reason
    translated = transcript_flags(_transcript(language="pl", task="translate"))
    assert "translated" in translated[0].reason


def test_hard_to_hear_speech_is_flagged_low_confidence() -> None:
    flags = transcript_flags(_transcript(logprob=-1.4))
    assert [f.kind for f in flags] == ["low_confidence"]
    assert "Hello there." in flags[0].reason


def test_subtitles_carry_hours_minutes_seconds_and_milliseconds() -> None:
    srt = render_srt(_transcript())
    assert srt == "1\n00:00:01,000 --> 01:01:01,500\nHello there.\n"
    vtt = render_vtt(_transcript())
    assert vtt == "WEBVTT\n\n00:00:01.000 --> 01:01:01.500\nHello there.\n"


def test_readable_statement_shows_no_speech_plainly() -> None:
    statement = Statement(
        template=Template.MISSING_PERSON, statement_date=date(2026, 11, 20), narrative=""
    )
    text = render_statement(statement)
    assert text.startswith("Missing person report — DRAFT, statement date 2026-11-20")
    assert "(none found)" in text and "(no speech)" in text


def test_names_known_on_the_job_lead_the_prompt(tmp_path: Path) -> None:
    vocabulary = tmp_path / "vocabulary.txt"
    vocabulary.write_text("Penrith\nKeswick\nAnna Nowicki\n", encoding="utf-8")
    pipeline = StatementPipeline(Settings(vocabulary_file=vocabulary, data_dir=tmp_path))
    # (a colon at the end, not a full stop: see transcription.vocabulary.build_prompt)
    assert pipeline.prompt_with(()) == "Penrith, Keswick, Anna Nowicki:"
    # the job's own names first (a long vocabulary is cut at its end, never they), once each
    assert pipeline.prompt_with(("Anna Nowicki", "Ross Tinnion")) == (
        "Anna Nowicki, Ross Tinnion, Penrith, Keswick:"
    )
