"""A statement: named fields, each with a normalised value and the evidence it came from.

The JSON shape is the contract in ``shared/statement-fields.md``. A field that was not heard is
absent from ``fields`` and, when the template needs it, named in a ``missing_required`` flag:
never an empty string or a guess.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import asdict, dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from models.transcript import Transcript


class Template(StrEnum):
    """The kinds of statement the service drafts."""

    MG11 = "mg11"  # witness statement (CJ Act 1967 s.9, form MG11)
    MISSING_PERSON = "missing_person"  # missing person report
    # A recorded interview that is itself the evidence (Achieving Best Evidence: vulnerable or
    # intimidated witnesses): the whole recording's timed, speaker-labelled transcript, never
    # condensed into an MG11.
    INTERVIEW_RECORD = "interview_record"


# Every field name the extractor may fill, in the order a reader expects them.
FIELD_NAMES: tuple[str, ...] = (
    "witness.name",
    "witness.age",
    "witness.date_of_birth",
    "witness.occupation",
    "witness.address",
    "witness.postcode",
    "witness.phone",
    "witness.email",
    "incident.date",
    "incident.time",
    "incident.location",
    "missing.name",
    "missing.age",
    "missing.last_seen_date",
    "missing.last_seen_time",
    "missing.last_seen_location",
    "missing.clothing",
    "missing.height",
)

# What a template asks for that is not a contract field, kept in ``Statement.details`` (same
# ``Field`` shape) so the contract's ``fields`` stay exactly the names it scores: "over 18" said
# instead of an age, and the missing person's physical description and risk factors, each as
# stated, lower case (risk factors joined with "; ").
DETAIL_NAMES: tuple[str, ...] = (
    "witness.over_18",
    "missing.description",
    "missing.risk_factors",
)

# Names an officer must fill (or mark "not stated") before a statement can be confirmed: fields
# or details. A name in ``SATISFIED_BY`` is also answered by any of its alternatives.
REQUIRED_FIELDS: dict[Template, tuple[str, ...]] = {
    Template.MG11: (
        "witness.name",
        "witness.age",
        "witness.occupation",
        "incident.date",
        "incident.location",
    ),
    Template.MISSING_PERSON: (
        "witness.name",
        "missing.name",
        "missing.age",
        "missing.last_seen_date",
        "missing.last_seen_time",
        "missing.last_seen_location",
        "missing.clothing",
        "missing.description",
        "missing.risk_factors",
    ),
    Template.INTERVIEW_RECORD: (),
}
# The MG11 asks for the age only when under 18: "over 18" answers it.
SATISFIED_BY: dict[str, tuple[str, ...]] = {"witness.age": ("witness.over_18",)}


def unanswered(template: Template, answered: AbstractSet[str]) -> list[str]:
    """The names ``template`` requires that neither ``answered`` (the names filled or marked not
    stated) nor one of their alternatives in it answers, in the template's order."""
    return [
        name
        for name in REQUIRED_FIELDS[template]
        if name not in answered and not any(alt in answered for alt in SATISFIED_BY.get(name, ()))
    ]


@dataclass(frozen=True)
class Field:
    """One filled field.

    ``value`` is the normal form (see the contract); ``text`` is the span as transcribed, and
    ``start_char``/``end_char`` locate it in the transcript text so a reviewer can see and hear
    where it came from. ``start_s``/``end_s`` are null when the input was text. ``source`` says
    which mechanism found it (``rule``, ``ner``, ...).
    """

    value: str | int
    text: str
    start_char: int
    end_char: int
    confidence: float
    source: str
    start_s: float | None = None
    end_s: float | None = None


# List items carry the same evidence as fields: characters into the transcript text, and the
# seconds of audio they were said in (null for typed text), so a reviewer can play exactly them.


@dataclass(frozen=True)
class Person:
    name: str
    role: str
    start_char: int
    end_char: int
    description: str | None = None
    start_s: float | None = None
    end_s: float | None = None
    # an officer named with a collar number ("PC 2231 Smith": role "officer", "2231")
    collar_number: str | None = None


@dataclass(frozen=True)
class Vehicle:
    registration: str
    start_char: int
    end_char: int
    make: str | None = None
    model: str | None = None
    colour: str | None = None
    start_s: float | None = None
    end_s: float | None = None


@dataclass(frozen=True)
class Weapon:
    value: str
    start_char: int
    end_char: int
    start_s: float | None = None
    end_s: float | None = None


@dataclass(frozen=True)
class Exhibit:
    """An item produced as an exhibit: ``reference`` is the producer's initials, a slash and a
    number ("KJT/1"); ``description`` what it is, as said ("CCTV footage"), when said."""

    reference: str
    description: str | None
    start_char: int
    end_char: int
    start_s: float | None = None
    end_s: float | None = None


@dataclass(frozen=True)
class Flag:
    """Something the officer must look at: ``missing_required``, ``low_confidence``,
    ``safeguarding``, ``confirm_spelling``, ``no_speech``, ``interpreter_check``, ...

    ``start_char``/``end_char`` locate the words that raised it (a safeguarding indicator, a
    name heard without a spelling); ``suggestions`` are values the officer may pick instead
    (ranked spellings of a name), never applied by the machine. ``indicator`` says which
    safeguarding indicator a ``safeguarding`` flag is (``child``, ``domestic_abuse``, ...), so a
    referral can be routed without reading the reason.
    """

    kind: str
    reason: str
    field: str | None = None
    start_char: int | None = None
    end_char: int | None = None
    suggestions: tuple[str, ...] = ()
    indicator: str | None = None


@dataclass(frozen=True)
class Exchange:
    """One question and the answer to it, from a recording with two voices.

    ``question`` is what the officer asked (None for what the witness said unprompted);
    ``answer`` what the witness said, as transcribed. ``narrative_start_char`` /
    ``narrative_end_char`` locate the narrative sentence(s) drafted from this answer, so each
    sentence of the statement can be traced to the words it came from and the question that
    drew them out (None when the answer gave no narrative sentence). Times are seconds into the
    recording.
    """

    answer: str
    answer_start_s: float
    answer_end_s: float
    question: str | None = None
    question_start_s: float | None = None
    question_end_s: float | None = None
    narrative_start_char: int | None = None
    narrative_end_char: int | None = None


@dataclass
class Statement:
    template: Template
    statement_date: date
    narrative: str
    fields: dict[str, Field] = field(default_factory=dict)
    # template items that are not contract fields (``DETAIL_NAMES``), not scored
    details: dict[str, Field] = field(default_factory=dict)
    persons: list[Person] = field(default_factory=list)
    vehicles: list[Vehicle] = field(default_factory=list)
    weapons: list[Weapon] = field(default_factory=list)
    exhibits: list[Exhibit] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)
    transcript: Transcript | None = None
    # For a statement drafted from a question-and-answer recording: each answer with its
    # question, in order (empty for a monologue or typed text).
    exchanges: list[Exchange] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The contract JSON. ``transcript`` is absent when the input was text."""
        out: dict[str, Any] = {
            "template": self.template.value,
            "statement_date": self.statement_date.isoformat(),
        }
        if self.transcript is not None:
            out["transcript"] = self.transcript.to_dict()
        out["fields"] = {
            name: asdict(self.fields[name]) for name in FIELD_NAMES if name in self.fields
        }
        out["details"] = {
            name: asdict(self.details[name]) for name in DETAIL_NAMES if name in self.details
        }
        out["persons"] = [asdict(p) for p in self.persons]
        out["vehicles"] = [asdict(v) for v in self.vehicles]
        out["weapons"] = [asdict(w) for w in self.weapons]
        out["exhibits"] = [asdict(e) for e in self.exhibits]
        out["narrative"] = self.narrative
        if self.exchanges:
            out["exchanges"] = [asdict(e) for e in self.exchanges]
        out["flags"] = [{**asdict(f), "suggestions": list(f.suggestions)} for f in self.flags]
        return out
