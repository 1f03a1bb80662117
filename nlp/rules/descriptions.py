"""What the other people named looked like, attached to the person described.

An account describes someone in the sentences after naming them ("Darren Pike came over. He was
about six foot, stocky, with a shaved head, wearing a grey hoodie."). A sentence is taken as
describing a person when its subject is that person (their name, or a pronoun while they are the
last person named) and it holds a description word (``data/description_words.txt``), a height,
or a clothing word. The description is the witness's words from after the subject and its verb
("was", "had", "is wearing" stay when they carry meaning: "wearing a grey hoodie"), joined with
"; " in the order said. Nothing is inferred: a person with no such sentence gets no description.
"""

from __future__ import annotations

import re
from dataclasses import replace

from spacy.tokens import Span

from models.statement import Person
from nlp import lexicons
from nlp.mentions import HEIGHT
from nlp.rules.context import Context, name_tokens

_PRONOUNS = frozenset({"he", "she", "they"})
# The subject and copula a description starts after: "He was", "She's", "They were", "He had".
_LEAD = re.compile(
    r"^\s*(?:and\s+)?(?:[Hh]e|[Ss]he|[Tt]hey|[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*)"
    r"(?:\s+(?:was|is|were|are|had|has)|['’]s|['’]d)?\s+(?:got\s+)?",
)


# A description sentence says what someone was or had, not what they did ("He punched me").
_DESCRIBING_VERBS = frozenset({"be", "have", "wear", "look", "appear", "seem"})


def _describes(ctx: Context, sentence: Span) -> bool:
    if sentence.root.lemma_.lower() not in _DESCRIBING_VERBS:
        return False
    words = lexicons.lower_set("description_words")
    clothing = lexicons.lower_set("clothing")
    if any(t.lower_ in words or t.lower_.rstrip("s") in clothing for t in sentence):
        return True
    return any(
        m.start_char >= sentence.start_char and m.end_char <= sentence.end_char
        for m in ctx.mentions(HEIGHT)
    )


def _mentioned(person: Person, sentence: Span, text: str) -> bool:
    said = name_tokens(text[sentence.start_char : sentence.end_char])
    return bool(name_tokens(person.name) & said)


def _subject_is(sentence: Span, person: Person, *, current: Person | None) -> bool:
    """The sentence's subject is ``person``: named, or a pronoun while they are ``current``."""
    subjects = [t for t in sentence if t.dep_ in {"nsubj", "nsubjpass"} and t.head.dep_ == "ROOT"]
    for subject in subjects:
        if subject.lower_ in _PRONOUNS and current is person:
            return True
        span_words = {t.lower_ for t in subject.subtree}
        if span_words & name_tokens(person.name):
            return True
    return False


def _fragment(ctx: Context, sentence: Span) -> tuple[int, int] | None:
    """The characters of the description in a sentence: after its subject and verb."""
    text = ctx.text[sentence.start_char : sentence.end_char]
    lead = _LEAD.match(text)
    start = sentence.start_char + (lead.end() if lead else 0)
    end = sentence.end_char
    while end > start and ctx.text[end - 1] in " .,;:!?":
        end -= 1
    return (start, end) if end - start >= 3 else None


def person_descriptions(ctx: Context) -> None:
    if not ctx.persons:
        return
    by_name = {p.name: p for p in ctx.persons}
    parts: dict[str, list[tuple[int, int]]] = {name: [] for name in by_name}
    current: Person | None = None
    for sentence in ctx.doc.sents:
        named = [p for p in ctx.persons if _mentioned(p, sentence, ctx.text)]
        for person in named:
            if not _subject_is(sentence, person, current=None):
                continue
            if _describes(ctx, sentence) and (span := _fragment(ctx, sentence)):
                parts[person.name].append(span)
        if (
            not named
            and current is not None
            and _subject_is(sentence, current, current=current)
            and _describes(ctx, sentence)
            and (span := _fragment(ctx, sentence))
        ):
            parts[current.name].append(span)
        if named:
            current = named[-1]
        elif any(t.pos_ == "PROPN" and t.ent_type_ == "PERSON" for t in sentence):
            current = None  # someone not in the list (the witness): pronouns are theirs now
    ctx.persons[:] = [
        replace(p, description="; ".join(ctx.text[s:e] for s, e in parts[p.name]))
        if parts[p.name]
        else p
        for p in ctx.persons
    ]


RULES = [person_descriptions]
