"""What the field rules share: the parsed statement, what has been found so far, and small
helpers for reading spans (cues, mentions, names) out of the spaCy ``Doc``."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cache, cached_property

from spacy.tokens import Doc, Span, Token

from models.statement import Exhibit, Person, Template, Vehicle, Weapon
from nlp import lexicons
from nlp.names import HeardName, spelled_after, surname_after
from nlp.normalise import MONTHS, WEEKDAYS, day_part, title_case_name
from nlp.pipeline import BRAND, CUES, LEXICON, MENTIONS, VEHICLE

# How much a value found each way is trusted when there is no audio to say otherwise.
RULE = 0.9  # a cue phrase and a value that parsed ("my mobile is" + eleven digits)
NER = 0.8  # spaCy's statistical entities
INFERRED = 0.6  # taken from elsewhere in the statement ("at number five" + the witness's street)
WEAK = 0.5  # a town alone where a street would be expected

_EDGE = frozenset(" \t\n,;:.!?")
# Hesitations a speaker puts before a value ("my name is, erm, Sarah").
FILLERS = frozenset({"erm", "um", "umm", "er", "uh", "uhm", "ah"})


@dataclass(frozen=True)
class Found:
    """A field value and the characters of the text it was read from."""

    value: str | int
    start: int
    end: int
    source: str = "rule"
    confidence: float = RULE


@dataclass
class Context:
    doc: Doc
    template: Template
    statement_date: date
    fields: dict[str, Found] = field(default_factory=dict)
    # template items that are not contract fields (``models.statement.DETAIL_NAMES``)
    details: dict[str, Found] = field(default_factory=dict)
    persons: list[Person] = field(default_factory=list)
    vehicles: list[Vehicle] = field(default_factory=list)
    weapons: list[Weapon] = field(default_factory=list)
    exhibits: list[Exhibit] = field(default_factory=list)
    # the names (values) the speaker spelled out, which need no confirming (nlp.names)
    spelled_names: set[str] = field(default_factory=set)

    @cached_property
    def text(self) -> str:
        # Doc.text joins every token afresh on each call; rules read it dozens of times.
        return self.doc.text

    # -------------------------------------------------------------------------- span groups
    def cues(self, *labels: str) -> list[Span]:
        return [s for s in self.doc.spans[CUES] if s.label_ in labels]

    def mentions(self, *labels: str) -> list[Span]:
        return [s for s in self.doc.spans[MENTIONS] if s.label_ in labels]

    def lexicon(self, *labels: str) -> list[Span]:
        return [s for s in self.doc.spans[LEXICON] if s.label_ in labels]

    def add(self, name: str, found: Found | None) -> bool:
        """Record a field unless it is already filled (rules run best-first). The evidence is
        trimmed of spaces and punctuation at its ends: a span that spaCy's tokens widened to
        "D A." is evidence "D A"."""
        if found is None or name in self.fields:
            return False
        start, end = self.tighten(found.start, found.end)
        self.fields[name] = replace(found, start=start, end=end)
        return True

    def add_detail(self, name: str, found: Found | None) -> bool:
        """:meth:`add` for a template detail (``DETAIL_NAMES``): kept out of ``fields``."""
        if found is None or name in self.details:
            return False
        start, end = self.tighten(found.start, found.end)
        self.details[name] = replace(found, start=start, end=end)
        return True

    def tighten(self, start: int, end: int) -> tuple[int, int]:
        """``[start, end)`` without spaces and punctuation at its ends."""
        while start < end and self.text[start] in _EDGE:
            start += 1
        while end > start and self.text[end - 1] in _EDGE:
            end -= 1
        return start, end

    def overlaps_field(self, start: int, end: int, *names: str) -> bool:
        """Whether ``[start, end)`` overlaps the evidence of one of the named fields (all when
        none are named)."""
        for name, f in self.fields.items():
            if (not names or name in names) and start < f.end and f.start < end:
                return True
        return False

    def corrected(self, span: Span) -> Span:
        """The value the speaker gave instead, when ``span`` is taken back straight away
        ("twenty past seven, no, sorry, it was nearer half past seven" → "half past seven"):
        the next mention of the same kind right after a correction cue. ``span`` otherwise. A
        correction of the correction is followed too."""
        while (m := _correction_re().match(self.text, span.end_char)) is not None:
            later = next(
                (
                    s
                    for s in self.mentions(span.label_)
                    if s.start_char >= m.end() and s.start_char - m.end() <= 2
                ),
                None,
            )
            if later is None:
                break
            span = later
        return span

    # -------------------------------------------------------------------------- positions
    def token_at(self, char: int) -> Token | None:
        """The first non-space token starting at or after ``char``."""
        for token in self.doc:
            if token.idx + len(token) > char and not token.is_space:
                return token
        return None

    def sentence_at(self, char: int) -> Span:
        token = self.token_at(char)
        if token is None:
            return self.doc[len(self.doc) - 1 :].sent if len(self.doc) else self.doc[:]
        return token.sent

    def first_after(
        self, spans: list[Span], char: int, *, within: int | None = None
    ) -> Span | None:
        """The first span starting at or after ``char`` (and at most ``within`` characters
        later)."""
        for span in sorted(spans, key=lambda s: s.start_char):
            if span.start_char >= char:
                if within is not None and span.start_char - char > within:
                    return None
                return span
        return None

    def day_part_near(self, span: Span) -> str | None:
        """The part of the day ("night", "morning", ...) said nearest to ``span`` in its
        sentence, so "last night, at about quarter to twelve" reads as 23:45."""
        sent = span.sent
        best: tuple[int, str] | None = None
        for m in re.finditer(r"\b(?:morning|afternoon|evening|night|tonight)\b", sent.text, re.I):
            part = day_part(m.group())
            if part is None:
                continue
            at = sent.start_char + m.start()
            distance = span.start_char - at if at < span.start_char else at - span.end_char
            if best is None or distance < best[0]:
                best = (distance, part)
        return best[1] if best else None


@cache
def _correction_re() -> re.Pattern[str]:
    """A correction cue and the words that may lead into the corrected value, from
    ``data/correction_cues.txt`` and ``data/correction_leads.txt``."""
    cues = "|".join(re.escape(c).replace(r"\ ", r"\s+") for c in lexicons.words("correction_cues"))
    leads = "|".join(
        re.escape(w).replace(r"\ ", r"\s+") for w in lexicons.words("correction_leads")
    )
    pause = r"[\s,.;:!-]*"
    return re.compile(
        # "on Friday morning, no, sorry, ...": the part of the day said with the value
        rf"(?:\s+(?:in\s+the\s+)?(?:morning|afternoon|evening|night)\b)?"
        rf"{pause}(?:{cues})\b{pause}(?:(?:{cues})\b{pause})*(?:(?:{leads})\b{pause})*",
        re.IGNORECASE,
    )


# ------------------------------------------------------------------------------------ names
_NOT_NAMES = frozenset(
    {"I", "Im", "The", "A", "An", "And", "But", "He", "She", "They", "We", "It", "My", "His",
     "Her", "Our", "Their", "That", "This", "Then", "There", "When", "So", "Yes", "No", "Sorry",
     "Erm", "Um", "Er", "Mr", "Mrs", "Ms", "Miss", "Dr", "Police", "PC", "DC", "Officer"}
)  # fmt: skip
_NAME_WORD_RE = re.compile(r"[A-Z][A-Za-z]*(?:['’][A-Z][A-Za-z]+)?|[A-Z]['’][A-Z][a-z]+")


def is_name_word(token: Token) -> bool:
    """A word that can be part of a person's name as Whisper or a typist writes it."""
    text = token.text
    if len(text) < 2 or not _NAME_WORD_RE.fullmatch(text) or text.isupper():
        return False
    if text in _NOT_NAMES or text.lower() in MONTHS or text.lower() in WEEKDAYS:
        return False
    return token.ent_type_ not in {VEHICLE, BRAND}


_TOKEN_STARTS = "voice_statement_token_starts"


def first_token_from(doc: Doc, char: int) -> int:
    """The index of the first non-space token starting at or after ``char`` (``len(doc)`` if
    none). Found by bisection over the token offsets, kept in ``doc.user_data``: a scan from
    the start for every name candidate made a long statement's extraction quadratic."""
    starts = doc.user_data.get(_TOKEN_STARTS)
    if starts is None or len(starts) != len(doc):  # built once; again if retokenised
        starts = doc.user_data[_TOKEN_STARTS] = [t.idx for t in doc]
    i = bisect.bisect_left(starts, char)
    while i < len(doc) and doc[i].is_space:
        i += 1
    return i


def name_at(doc: Doc, char: int, *, max_words: int = 4) -> Span | None:
    """The name that starts at ``char`` (after spaces, commas and "erm"): capitalised words, with
    hyphenated names kept whole ("Mary-Jane Watts"). ``None`` if no name starts there."""
    i = first_token_from(doc, char)
    while i < len(doc) and (doc[i].text in {",", ":", "-"} or doc[i].lower_ in FILLERS):
        i += 1
    j, words = i, 0
    while j < len(doc) and words < max_words:
        token = doc[j]
        if is_name_word(token):
            j, words = j + 1, words + 1
            continue
        # "Mary-Jane": the tokenizer splits the hyphen off; keep it when nothing is spaced
        if (
            token.text in {"-", "‐"}
            and words
            and not doc[j - 1].whitespace_
            and not token.whitespace_
            and j + 1 < len(doc)
            and is_name_word(doc[j + 1])
        ):
            j += 1
            continue
        break
    return doc[i:j] if words else None


def spelled_name(ctx: Context, span: Span) -> Found:
    """The name in ``span`` as a field value, with a spelling said right after it applied
    ("Ewa Woicik, that's W O J C I K" → "Ewa Wojcik", evidence through the letters,
    ``source`` "spelled"), and a surname said after a first name ("Colin, surname Coutts,
    C O U T T S") joined to it."""
    heard, end = HeardName.of(title_case_name(span.text)), span.end_char
    spelling = spelled_after(ctx.text, end)
    if spelling is not None:
        heard, end = heard.spelled_as(spelling), spelling.end
    at = surname_after(ctx.text, end)
    surname = name_at(ctx.doc, at, max_words=2) if at is not None else None
    if surname is not None:
        said = HeardName.of(surname.text)
        heard, end = HeardName(heard.words + said.words, heard.spelled), surname.end_char
        if (spelling := spelled_after(ctx.text, end)) is not None:
            heard = heard.spelled_as(replace(spelling, heard=said.words[-1]))
            end = spelling.end
    if not heard.is_spelled:
        return Found(heard.text, span.start_char, end)
    ctx.spelled_names.add(heard.text)
    return Found(heard.text, span.start_char, end, "spelled")


def name_tokens(name: str) -> set[str]:
    return {w.lower() for w in re.split(r"[\s\-]+", name) if w}


# ------------------------------------------------------------------------------------ lexicons
def harm_in(sentence: Span) -> bool:
    """Whether a sentence says something was used to hurt, threaten or damage."""
    # verbs only: "to glass someone" is a threat, "she wears glasses" is not
    lemmas = {t.lemma_.lower() for t in sentence if t.pos_ in {"VERB", "AUX", "ADJ", "ADV"}}
    # phrases by spelling and by lemma: "in his hand", "pulled out" (= "pull out")
    said = " " + " ".join(t.lower_ for t in sentence) + " "
    lemmatised = " " + " ".join(t.lemma_.lower() for t in sentence) + " "
    for entry in lexicons.words("harm_words"):
        if " " in entry:
            if f" {entry} " in said or f" {entry} " in lemmatised:
                return True
        elif entry in lemmas:
            return True
    return False
