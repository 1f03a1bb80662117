"""Safeguarding indicators: what must reach a safeguarding team before the statement is signed.

A referral goes out as soon as a draft carries a ``safeguarding`` flag (the twenty-minute
missing-child case), so every indicator is a flag of its own, naming the indicator and quoting
its evidence, with ``start_char``/``end_char`` on the words that raised it:

- ``child``: a missing person or witness under 18 (from ``missing.age``/``witness.age``), an age
  or school year under 18 said of a person, or a child mentioned where something else here is
  of concern (a weapon, an injury, domestic abuse, ...) or in a missing person report;
- ``vulnerable_adult``: dementia, learning disability, mental ill health, needs medication, ...;
- ``domestic_abuse``: harm, threats or harassment between partners, ex-partners or family
  members (not an assault by a stranger);
- ``weapon``: each weapon in the extractor's weapons list;
- ``injury``, ``sexual_offence``, ``self_harm``;
- ``exploitation``: a child spending time with an older man, county lines, ... (only where a
  child or vulnerable adult is already flagged).

The phrases are spaCy Matcher token patterns in ``data/patterns/safeguarding.jsonl``; this module
holds the rules that combine them: negation ("he wasn't injured"), hypotheticals ("she could have
been hurt"), who did what to whom for domestic abuse, and at most one flag per indicator per
sentence (weapons excepted: one per weapon).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from spacy.matcher import Matcher
from spacy.tokens import Doc, Span, Token
from spacy.vocab import Vocab

from models import Field, Flag, Person, Template, Weapon
from nlp import lexicons

PATTERNS = "safeguarding"

# Indicator → the words its reasons start with ("injury: ...").
INDICATORS: dict[str, str] = {
    "child": "child",
    "vulnerable_adult": "vulnerable adult",
    "domestic_abuse": "domestic abuse",
    "weapon": "weapon",
    "injury": "injury",
    "sexual_offence": "sexual offence",
    "self_harm": "self-harm or suicide risk",
    "exploitation": "child exploitation risk",
}

# Pattern labels in the data file → the indicator they raise directly.
_DIRECT = {
    "VULNERABLE_ADULT": "vulnerable_adult",
    "DOMESTIC_ABUSE": "domestic_abuse",
    "INJURY": "injury",
    "SEXUAL_OFFENCE": "sexual_offence",
    "SELF_HARM": "self_harm",
}
_HELPERS = frozenset(
    {"CHILD_AGE", "SCHOOL_YEAR", "CHILD_WORD", "EXPLOITATION", "RELATION", "ABUSE_ACT",
     "NEGATION", "HYPOTHETICAL"}
)  # fmt: skip
LABELS = frozenset(_DIRECT) | _HELPERS

# Indicators that a mere threat or a "could have been" does not raise: "he said he would break
# her nose" is a threat (domestic abuse if a partner said it), not an injury.
_FACTUAL_ONLY = frozenset({"injury"})
# Indicators that make a passing mention of a child ("the kids were upstairs") worth a referral.
_HARM = frozenset({"domestic_abuse", "weapon", "injury", "sexual_offence", "self_harm"})
# Pronouns that stand for no one in particular: "someone hit him" is not domestic abuse.
_NOBODY_IN_PARTICULAR = frozenset(
    {"someone", "somebody", "anyone", "anybody", "everyone", "everybody", "nobody", "it",
     "something", "anything", "everything", "one", "this", "that", "which", "what"}
)  # fmt: skip
_RELATIVE = frozenset({"who", "that", "which", "whom"})
_AGE_IN_DAYS = frozenset({"month", "months", "week", "weeks", "day", "days"})


@dataclass(frozen=True)
class SafeguardingOptions:
    """child_under_age: a person younger than this is a child (Children Act 1989: 18).
    oldest_school_year: the last school year a child is in ("year 13" is 17 going on 18).
    relation_window: how many sentences before a harm act a partner or family member may be
    named and still make it domestic ("... lives with her boyfriend Ross. I saw Ross drag
    her ..."); each naming licenses one act, so an account of one incident gives one flag.
    quote_chars: the most characters of the evidence sentence quoted in a reason."""

    child_under_age: int = 18
    oldest_school_year: int = 13
    relation_window: int = 2
    quote_chars: int = 160


DEFAULT_OPTIONS = SafeguardingOptions()


def safeguarding_flags(
    doc: Doc,
    *,
    template: Template,
    fields: Mapping[str, Field],
    persons: Sequence[Person],
    weapons: Sequence[Weapon],
    options: SafeguardingOptions = DEFAULT_OPTIONS,
) -> list[Flag]:
    """The safeguarding flags for the statement parsed as ``doc`` (its fields, the persons and
    weapons the extractor found), in the order their evidence was said."""
    found = _Findings(doc, options, _matches(doc), persons)
    found.children_from_fields(template, fields)
    found.weapons(weapons)
    found.direct()
    found.domestic_abuse()
    found.children_from_text(template)
    found.exploitation()
    return sorted(found.flags, key=lambda f: (f.start_char is None, f.start_char or 0))


def indicator_of(flag: Flag) -> str | None:
    """The indicator a safeguarding flag names (``"injury"``)."""
    return flag.indicator if flag.kind == "safeguarding" else None


# ------------------------------------------------------------------------------------ findings
@dataclass
class _Findings:
    doc: Doc
    options: SafeguardingOptions
    spans: dict[str, list[Span]]
    persons: Sequence[Person]
    flags: list[Flag] = field(default_factory=list)
    # (indicator, first token of the sentence): one flag per indicator per sentence
    seen: set[tuple[str, int]] = field(default_factory=set)

    @property
    def indicators(self) -> set[str]:
        return {key for key, _ in self.seen}

    def add(self, indicator: str, span: Span, detail: str, *, name: str | None = None) -> None:
        sentence = span.sent
        key = (indicator, sentence.start)
        if indicator != "weapon" and key in self.seen:
            return
        self.seen.add(key)
        start, end = _tight(span)
        self.flags.append(
            Flag(
                kind="safeguarding",
                field=name,
                reason=f"{INDICATORS[indicator]}: {detail} in {self._quote(sentence)}",
                start_char=start,
                end_char=end,
                indicator=indicator,
            )
        )

    def _quote(self, sentence: Span) -> str:
        text = " ".join(sentence.text.split())
        limit = self.options.quote_chars
        return f'"{text}"' if len(text) <= limit else f'"{text[: limit - 1].rstrip()}…"'

    # ------------------------------------------------------------------ indicators
    def children_from_fields(self, template: Template, fields: Mapping[str, Field]) -> None:
        sources = [("witness.age", "witness")]
        if template is Template.MISSING_PERSON:
            sources.insert(0, ("missing.age", "missing child"))
        for name, who in sources:
            age = fields.get(name)
            if age is None or not isinstance(age.value, int):
                continue
            if age.value >= self.options.child_under_age:
                continue
            span = self.doc.char_span(age.start_char, age.end_char, alignment_mode="expand")
            if span is not None:
                self.add("child", span, f"{who} aged {age.value} ({age.text!r})", name=name)

    def weapons(self, weapons: Sequence[Weapon]) -> None:
        for weapon in weapons:
            span = self.doc.char_span(weapon.start_char, weapon.end_char, alignment_mode="expand")
            if span is None or self.negated(span):
                continue
            self.add("weapon", span, f"{weapon.value} described ({span.text!r})")

    def direct(self) -> None:
        """Indicators a phrase raises by itself: injury, vulnerable adult, ..."""
        for label, indicator in _DIRECT.items():
            for span in self.spans[label]:
                if self.negated(span):
                    continue
                if indicator in _FACTUAL_ONLY and self.hypothetical(span):
                    continue
                self.add(indicator, span, repr(span.text))

    def domestic_abuse(self) -> None:
        """Harm, threats or harassment ("ABUSE_ACT") done by or to a partner or family member:
        one named in the act ("my husband threatened me"), in its sentence, or shortly before
        it when the act is told with pronouns or names ("... with her boyfriend Ross. Ross
        dragged her ..."). An act by or on someone else ("a stranger punched me", "he kicked
        the door") is not domestic abuse."""
        relations = self.spans["RELATION"]
        sentences = {s.start: i for i, s in enumerate(self.doc.sents)}
        used: set[int] = set()
        for act in self.spans["ABUSE_ACT"]:
            if self.negated(act):
                continue
            verb = act.root
            actor = _actor(verb)
            target = None if len(act) > 1 else _target(verb)
            if any(t is not None and self.someone_else(t) for t in (actor, target)):
                continue
            named = next((t for t in (actor, target) if t is not None and _relation_word(t)), None)
            here = sentences[act.sent.start]
            in_sentence = [r for r in relations if r.sent.start == act.sent.start]
            people = [t for t in (actor, target) if t is not None]
            if named is not None:
                relation: Span = self.doc[named.i : named.i + 1]
            elif fitting := [r for r in in_sentence if _between(r, people)]:
                relation = fitting[0]
            else:
                window = self.options.relation_window
                earlier = [
                    r
                    for r in relations
                    if here - window <= sentences[r.sent.start] < here
                    and r.start not in used
                    and _between(r, people)
                ]
                if not earlier:
                    continue
                relation = earlier[-1]
                used.add(relation.start)
            self.add(
                "domestic_abuse",
                act,
                f"{act.text!r} by or against a partner or family member ({relation.text!r})",
            )

    def children_from_text(self, template: Template) -> None:
        numbers = lexicons.int_mapping("number_words")
        for span in self.spans["CHILD_AGE"]:
            age = _age(span, numbers)
            if age is None or age >= self.options.child_under_age or not _said_of_a_person(span):
                continue
            self.add("child", span, f"aged {age} ({span.text!r})")
        for span in self.spans["SCHOOL_YEAR"]:
            year = next((_number(t, numbers) for t in span if t.like_num), None)
            if year is None or not 0 <= year <= self.options.oldest_school_year:
                continue
            self.add("child", span, f"at school, year {year} ({span.text!r})")
        # A child mentioned in passing matters where there is harm, or in a missing report.
        if template is Template.MISSING_PERSON or self.indicators & _HARM:
            for span in self.spans["CHILD_WORD"]:
                if not self.negated(span):
                    self.add("child", span, f"a child mentioned ({span.text!r})")

    def exploitation(self) -> None:
        if not self.indicators & {"child", "vulnerable_adult"}:
            return
        for span in self.spans["EXPLOITATION"]:
            if not self.negated(span):
                self.add("exploitation", span, repr(span.text))

    # ------------------------------------------------------------------ reading
    def clause_start(self, span: Span) -> int:
        """The first token of the clause ``span`` is in (after a comma, "but", "and", ...)."""
        breaks = _lists()["clause_break"]
        i = span.start - 1
        while i >= span.sent.start:
            if self.doc[i].lower_ in breaks:
                return i + 1
            i -= 1
        return span.sent.start

    def _cue_before(self, label: str, span: Span) -> bool:
        start = self.clause_start(span)
        for cue in self.spans[label]:
            if start <= cue.start and cue.end <= span.start:
                after = self.doc[cue.end] if cue.end < len(self.doc) else None
                # "a Ford, no, sorry, a Vauxhall": a spoken correction, not a negation
                if (
                    cue.text.lower() == "no"
                    and after is not None
                    and after.lower_ in {",", "sorry"}
                ):
                    continue
                return True
        return False

    def negated(self, span: Span) -> bool:
        """Whether the clause says it did not happen ("he wasn't injured", "no children")."""
        return self._cue_before("NEGATION", span)

    def hypothetical(self, span: Span) -> bool:
        """Whether the clause says it might, would or could have happened, not that it did."""
        return self._cue_before("HYPOTHETICAL", span)

    def someone_else(self, token: Token) -> bool:
        """Whether ``token`` is a person (or thing) outside the household: a noun that is not a
        partner or family word, or "someone"; pronouns and names may be the partner."""
        if _relation_word(token) or self._in_persons(token) or self._in_relation(token):
            return False
        if token.pos_ == "PROPN":
            return False
        if token.pos_ == "PRON":
            return token.lower_ in _NOBODY_IN_PARTICULAR
        return True

    def _in_relation(self, token: Token) -> bool:
        return any(r.start <= token.i < r.end for r in self.spans["RELATION"])

    def _in_persons(self, token: Token) -> bool:
        return any(p.start_char <= token.idx < p.end_char for p in self.persons)


# ------------------------------------------------------------------------------------ grammar
def _actor(verb: Token) -> Token | None:
    """Who did it: the subject (or the agent of a passive), found through "came at me and
    punched me" and "was going to kill her"."""
    token = verb
    for _ in range(4):
        for child in token.children:
            if child.dep_ == "nsubj":
                if child.lower_ in _RELATIVE and token.dep_ == "relcl":
                    return token.head  # "the man who hit her": the man
                return child
            if child.dep_ == "agent":
                return next((c for c in child.children if c.dep_ == "pobj"), None)
        if token.dep_ not in {"conj", "xcomp"} or token.head is token:
            return None
        token = token.head
    return None


def _between(relation: Span, people: Sequence[Token]) -> bool:
    """Whether an act told with pronouns can be between the partner or family member named in
    ``relation`` ("his girlfriend") and whoever it belongs to: "He slapped her" can, "he
    punched me" cannot. Names can be anyone."""
    lists = _lists()
    holder = _pronoun_kind(relation[0])
    noun = relation[-1].lower_
    kind = None
    if noun in lists["male_relation"]:
        kind = "he"
    elif noun in lists["female_relation"]:
        kind = "she"
    for person in people:
        said = _pronoun_kind(person) if person.pos_ == "PRON" else None
        if said is None:
            continue
        is_relation = said != "speaker" and (kind is None or said == kind)
        if not is_relation and said != holder:
            return False
    return True


def _pronoun_kind(token: Token) -> str | None:
    """Which person a pronoun says: ``he``, ``she`` or ``speaker``; None for "they", "you"."""
    lists = _lists()
    return next((k for k in ("he", "she", "speaker") if token.lower_ in lists[k]), None)


def _target(verb: Token) -> Token | None:
    """Who (or what) it was done to: the object, or the subject of a passive."""
    return next((c for c in verb.children if c.dep_ in {"dobj", "nsubjpass"}), None)


def _relation_word(token: Token) -> bool:
    words = _lists()
    return token.lower_ in words["partner"] or token.lower_ in words["family"]


def _number(token: Token, numbers: Mapping[str, int]) -> int | None:
    text = token.text.lower()
    # isdecimal, not isdigit: int() refuses "²"; and no age is longer than three digits (int()
    # also refuses a run of thousands of them)
    if text.isdecimal():
        return int(text) if len(text) <= 3 else None
    return numbers.get(text)


def _age(span: Span, numbers: Mapping[str, int]) -> int | None:
    number = next((t for t in span if t.like_num), None)
    if number is None:
        return None
    value = _number(number, numbers)
    # "thirty-four" and "thirty four": the match starts at "four"; the tens are before it
    doc, before = span.doc, number.i - 1
    if before >= 0 and doc[before].text == "-":
        before -= 1
    tens = _number(doc[before], numbers) if before >= 0 and doc[before].like_num else None
    if value is not None and value < 10 and tens is not None and tens % 10 == 0 and tens >= 20:
        value += tens
    if value is not None and any(t.lower_ in _AGE_IN_DAYS for t in span):
        return 0  # "eighteen months old": a baby
    return value


def _said_of_a_person(span: Span) -> bool:
    """Whether an age is a person's ("she's nine", "my son, aged nine", "a boy aged ten"), not a
    thing's ("the car is five years old"): the nearest noun or pronoun before it in the
    sentence, or after it when there is none before ("a nine-year-old boy")."""
    sentence = span.sent
    before = [t for t in sentence if t.i < span.start and t.pos_ in {"PRON", "PROPN", "NOUN"}]
    after = [t for t in sentence if t.i >= span.end and t.pos_ in {"PROPN", "NOUN"}]
    holder = before[-1] if before else (after[0] if after else None)
    if holder is None:
        return False
    return holder.pos_ == "PROPN" or holder.lower_ in _lists()["people"] or _relation_word(holder)


def _tight(span: Span) -> tuple[int, int]:
    """The span's characters without punctuation at its ends ("nine." → "nine")."""
    # "is thirteen and": the word that ended an age is not evidence
    breaks = _lists()["clause_break"]
    tokens = [t for t in span if not t.is_punct and not t.is_space] or list(span)
    while len(tokens) > 1 and tokens[-1].lower_ in breaks:
        tokens.pop()
    return tokens[0].idx, tokens[-1].idx + len(tokens[-1].text)


# ------------------------------------------------------------------------------------ data
@cache
def _data() -> tuple[dict[str, frozenset[str]], tuple[tuple[str, list[list[dict[str, Any]]]], ...]]:
    """The word lists and the patterns by label, lists expanded, from the data file."""
    lists: dict[str, frozenset[str]] = {}
    by_label: dict[str, list[list[dict[str, Any]]]] = {label: [] for label in sorted(LABELS)}
    lines = lexicons.patterns(PATTERNS)
    for line in lines:
        if "list" in line:
            lists[line["list"]] = frozenset(w.lower() for w in line["words"])
    for line in lines:
        if "label" not in line:
            continue
        if line["label"] not in LABELS:
            raise ValueError(f"{PATTERNS}.jsonl: unknown label {line['label']!r}")
        by_label[line["label"]].append([_expand(token, lists) for token in line["pattern"]])
    return lists, tuple(by_label.items())


def _expand(token: dict[str, Any], lists: Mapping[str, frozenset[str]]) -> dict[str, Any]:
    """A token pattern with ``{"IN": "$list"}`` replaced by the list's words."""
    out: dict[str, Any] = {}
    for attr, value in token.items():
        if isinstance(value, dict):
            value = {
                op: sorted(lists[v[1:]]) if isinstance(v, str) and v.startswith("$") else v
                for op, v in value.items()
            }
        out[attr] = value
    return out


def _lists() -> dict[str, frozenset[str]]:
    return _data()[0]


@cache
def _matcher(vocab: Vocab) -> Matcher:
    matcher = Matcher(vocab)
    for label, patterns in _data()[1]:
        if patterns:
            matcher.add(label, patterns)
    return matcher


def _matches(doc: Doc) -> dict[str, list[Span]]:
    """Every match by label, longest first where two of a label start together, in order."""
    spans: dict[str, list[Span]] = {label: [] for label in LABELS}
    for span in _matcher(doc.vocab)(doc, as_spans=True):
        spans[span.label_].append(span)
    for label, found in spans.items():
        spans[label] = _longest(found)
    return spans


def _longest(spans: Iterable[Span]) -> list[Span]:
    """The spans with those inside a longer one of the same label dropped."""
    ordered = sorted(spans, key=lambda s: (s.start, -len(s)))
    out: list[Span] = []
    for span in ordered:
        if out and span.start >= out[-1].start and span.end <= out[-1].end:
            continue
        out.append(span)
    return out
