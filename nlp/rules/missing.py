"""The missing person on a missing person report: name, age, height and clothing."""

from __future__ import annotations

import re

from spacy.tokens import Span

from nlp import lexicons
from nlp.mentions import HEIGHT
from nlp.normalise import height_cm
from nlp.rules.ages import AGE_NUMBER, age_after_correction, age_value
from nlp.rules.context import Context, Found, name_at, name_tokens, spelled_name


def _anchor(ctx: Context) -> int:
    """Where the account of the missing person starts: their name, else the start."""
    found = ctx.fields.get("missing.name")
    return found.start if found else 0


def _fuller_name(ctx: Context, span: Span) -> Span:
    """The same person's full name said later ("my son Jamie ... Jamie Fell is 12")."""
    words = name_tokens(span.text)
    for ent in ctx.doc.ents:
        if ent.start >= span.end and ent.label_ == "PERSON":
            later = name_at(ctx.doc, ent.start_char)
            if later is not None and words < name_tokens(later.text):
                return later
    return span


def missing_name(ctx: Context) -> None:
    """ "I am reporting my son, Jack Dawson, missing"; "Her name is Mary-Jane Watts"."""
    witness = ctx.fields.get("witness.name")
    witness_words = name_tokens(str(witness.value)) if witness else set()
    for labels in (("MISSING_NAME",), ("OTHER_NAME",)):
        for cue in ctx.cues(*labels):
            span = name_at(ctx.doc, cue.end_char)
            if span is None or name_tokens(span.text) == witness_words:
                continue
            span = _fuller_name(ctx, span)
            ctx.add("missing.name", spelled_name(ctx, span))
            return


_MISSING_AGE_RES = (
    re.compile(
        r"\b(?:(?:[Ss]?[Hh]e|[Tt]hey)(?:['’]s|\s+is|\s+are)|aged|[Aa]ge[,:]|who\s+is)\s+"
        rf"(?:only\s+|just\s+)?(?P<n>{AGE_NUMBER})(?P<years>\s+years?\s+old)?\b"
    ),
    re.compile(rf"\b(?P<n>{AGE_NUMBER})(?P<years>[\s-]years?[\s-]old)\b"),
)


def missing_age(ctx: Context) -> None:
    """ "she's nine years old", "He is sixteen", "aged 14", "my nine-year-old daughter"."""
    start = ctx.sentence_at(_anchor(ctx)).start_char
    matches = sorted(
        (m for pattern in _MISSING_AGE_RES for m in pattern.finditer(ctx.text, start)),
        key=lambda m: m.start(),
    )
    for m in matches:
        found = age_value(ctx.text, m)
        if found is not None and not ctx.overlaps_field(found.start, found.end, "witness.age"):
            ctx.add("missing.age", age_after_correction(ctx.text, found))
            return


def missing_height(ctx: Context) -> None:
    """The first height told after the missing person is named ("about five foot four")."""
    span = ctx.first_after(ctx.mentions(HEIGHT), _anchor(ctx))
    if span is not None:
        value = height_cm(span.text)
        if value is not None:
            ctx.add("missing.height", Found(value, span.start_char, span.end_char))


# Items of a clothing list: "a red anorak, blue jeans and black trainers"
_ITEM_SEPARATOR = re.compile(r"\s*,\s*(?:and\s+|or\s+)?|\s+and\s+")
_ARTICLE = re.compile(r"^(?:a|an|the|some|his|her|their|my|and)\s+", re.IGNORECASE)


def _names_clothing(item: str) -> bool:
    words = re.findall(r"[a-z][a-z'-]*", item)
    single = lexicons.lower_set("clothing")
    if any(w in single or w.rstrip("s") in single for w in words):
        return True
    return any(" " in c and c in item for c in single)


def missing_clothing(ctx: Context) -> None:
    """What they were wearing, as a lower-case list: the "was wearing ..." sentence, item by
    item while the items name clothes (so "... and she had her bag" is not clothing)."""
    for cue in ctx.cues("CLOTHING"):
        if cue.start_char < _anchor(ctx):
            continue
        start, end = cue.end_char, cue.sent.end_char
        items: list[tuple[int, int, str]] = []
        pos = start
        for sep in [*_ITEM_SEPARATOR.finditer(ctx.text, start, end), None]:
            raw = ctx.text[pos : sep.start() if sep else end]
            item = raw.strip(" .,;:!?")
            if item:
                words = _ARTICLE.sub("", item).lower()
                if not _names_clothing(words):
                    break
                begin = pos + len(raw) - len(raw.lstrip(" .,;:!?"))
                items.append((begin, begin + len(item), words))
            if sep is None:
                break
            pos = sep.end()
        if items:
            value = ", ".join(i[2] for i in items)
            ctx.add("missing.clothing", Found(value, items[0][0], items[-1][1]))
            return


RULES = [missing_name, missing_age, missing_height, missing_clothing]
