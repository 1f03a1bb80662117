"""Run the extractor over a gold set and score what it drafts (``voice-statement evaluate``).

A gold directory holds ``NN.json`` files in the shape of the shared dev set::

    {"template": "mg11", "statement_date": "2026-04-09", "spoken": "My name is ...",
     "expected": {"fields": {...}, "persons": [...], "vehicles": [...], "weapons": [...]},
     "audio": {"file": "audio/01.mp3"}}          # audio: optional, relative to the directory

From text, each statement is drafted from its ``spoken`` words (as ``extract`` does); with
``from_audio`` its recording is transcribed and then drafted (as ``transcribe`` does). The drafts
are scored by :mod:`nlp.scoring`, the rules of ``shared/statement-fields.md``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from models import Statement, Template
from nlp.scoring import GoldError, GoldStatement, Produced, ScoreReport, load_gold_dir
from nlp.scoring import score_statements as score_produced
from workflow.pipeline import StatementPipeline


class EvaluationError(ValueError):
    """A gold set that cannot be evaluated as asked: no gold there, a gold file without what the
    run needs (its words, its recording), or an output directory that cannot be written."""


@dataclass(frozen=True)
class GoldInput:
    """What one gold statement gives the extractor."""

    gold: GoldStatement
    template: Template
    statement_date: date
    spoken: str | None  # None: the file has no words (from-audio sets)
    audio_path: Path | None  # None: the file names no recording


@dataclass
class EvaluationReport:
    """The score of one run, and the statements it drafted (by gold id)."""

    gold_dir: Path
    from_audio: bool
    score: ScoreReport
    statements: dict[str, Statement] = field(default_factory=dict)
    out_dir: Path | None = None
    elapsed_s: float = 0.0

    @property
    def f1(self) -> float:
        return self.score.f1

    @property
    def precision(self) -> float:
        return self.score.precision

    @property
    def recall(self) -> float:
        return self.score.recall

    def lines(self, *, verbose: bool = False) -> list[str]:
        """The scorer's report (per-field table; ``verbose`` adds each statement's misses); the
        last line is ``F1 0.xxx precision 0.xxx recall 0.xxx``."""
        return self.score.lines(verbose=verbose)


def load_gold_inputs(gold_dir: Path, *, from_audio: bool = False) -> list[GoldInput]:
    """The gold statements of ``gold_dir`` with what drafting them needs; raises
    ``EvaluationError`` naming the file when one lacks it (``spoken`` from text, a recording
    with ``from_audio``) or when the directory holds no gold."""
    try:
        golds = load_gold_dir(gold_dir)
    except GoldError as exc:
        raise EvaluationError(str(exc)) from exc
    inputs = []
    for gold in golds:
        document = gold.document
        where = gold_dir / f"{gold.id}.json"
        try:
            template = Template(str(document.get("template")))
            statement_date = date.fromisoformat(str(document.get("statement_date")))
        except ValueError as exc:
            raise EvaluationError(
                f"{where}: needs a template (mg11 or missing_person) and a statement_date "
                f"(YYYY-MM-DD): {exc}"
            ) from exc
        spoken = document.get("spoken")
        audio = document.get("audio")
        audio_file = audio.get("file") if isinstance(audio, dict) else None
        audio_path = gold_dir / audio_file if audio_file else None
        if from_audio and audio_path is None:
            raise EvaluationError(f"{where}: names no recording (audio.file) to evaluate from")
        if not from_audio and not (isinstance(spoken, str) and spoken.strip()):
            raise EvaluationError(f"{where}: has no spoken text to evaluate from")
        inputs.append(
            GoldInput(
                gold=gold,
                template=template,
                statement_date=statement_date,
                spoken=spoken if isinstance(spoken, str) else None,
                audio_path=audio_path,
            )
        )
    return inputs


def _prepare_out_dir(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        raise EvaluationError(f"{out_dir}: not a directory to write statements into") from exc


def draft_gold(item: GoldInput, pipeline: StatementPipeline, *, from_audio: bool) -> Statement:
    """Draft one gold statement from its recording (``from_audio``) or from its words."""
    if from_audio:
        assert item.audio_path is not None  # load_gold_inputs checked it
        transcript = pipeline.transcribe(item.audio_path)
        return pipeline.draft(
            transcript, template=item.template, statement_date=item.statement_date
        )
    assert item.spoken is not None  # load_gold_inputs checked it
    return pipeline.extract_text(
        item.spoken, template=item.template, statement_date=item.statement_date
    )


def evaluate(
    gold_dir: Path,
    pipeline: StatementPipeline,
    *,
    from_audio: bool = False,
    out_dir: Path | None = None,
) -> EvaluationReport:
    """Draft every statement of ``gold_dir`` with ``pipeline`` and score the drafts.

    from_audio: transcribe each statement's recording and draft from the transcript (else draft
        from its ``spoken`` text).
    out_dir: where to write each draft as ``NN.json`` (the statement JSON, ``score.py``'s input);
        None writes nothing.

    Raises ``EvaluationError`` before drafting anything when the gold cannot be evaluated;
    transcription and extraction errors pass through.
    """
    started = time.perf_counter()
    inputs = load_gold_inputs(gold_dir, from_audio=from_audio)
    if out_dir is not None:
        _prepare_out_dir(out_dir)
    statements: dict[str, Statement] = {}
    for item in inputs:
        statement = draft_gold(item, pipeline, from_audio=from_audio)
        statements[item.gold.id] = statement
        if out_dir is not None:
            (out_dir / f"{item.gold.id}.json").write_text(
                json.dumps(statement.to_dict(), indent=2, ensure_ascii=False) + "\n",
                encoding="utf-8",
            )
    produced: dict[str, Produced | None] = {
        gold_id: Produced.from_dict(statement.to_dict())
        for gold_id, statement in statements.items()
    }
    score = score_produced([item.gold for item in inputs], produced)
    return EvaluationReport(
        gold_dir=gold_dir,
        from_audio=from_audio,
        score=score,
        statements=statements,
        out_dir=out_dir,
        elapsed_s=time.perf_counter() - started,
    )
