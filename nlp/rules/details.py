"""Template details that are not contract fields (``models.statement.DETAIL_NAMES``): the
witness's age given as "over 18", and the missing person's description and risk factors.

Each is read from what was said, never assumed, and kept as said (lower case, hesitations
dropped):

- ``witness.over_18``: "I'm over eighteen", "Age, over 18" → ``over 18`` (never an age);
- ``missing.description``: what the missing person looks like (height, build, hair, complexion,
  marks, glasses), from the sentences about them that hold a description word
  (``data/description_words.txt``) or a height, after their subject and verb ("He is about six
  foot tall and slim" → "about six foot tall and slim"), clothing left to ``missing.clothing``;
- ``missing.risk_factors``: each clause about the missing person that holds a risk cue (an
  illness, medication, vulnerability, self-harm, exploitation, "never done this before"), after
  its subject, joined with "; " in the order said.

Cue phrases are data (labels ``WITNESS_OVER_18``, ``DESCRIPTION``, ``RISK``, ``RISK_HEADER`` in
``data/patterns/cues.jsonl``).

Who a sentence is about: from where the missing person is first spoken of, a subject is theirs
when it is their name, or the pronoun used for them ("her name is" says which; else the first
he/she/they subject) until someone else named becomes a subject without them being referred to.
When that is in doubt the clause is left out: a detail not heard is flagged for the officer to
ask, which is safer than one given to the wrong person.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from spacy.tokens import Span, Token

from nlp import lexicons
from nlp.mentions import HEIGHT
from nlp.rules.context import FILLERS, Context, Found, name_tokens

OVER_18 = "over 18"

_SUBJECT_DEPS = frozenset({"nsubj", "nsubjpass"})
# The forms of each pronoun a sentence refers to someone by.
_PRONOUN_FORMS: dict[str, frozenset[str]] = {
    "he": frozenset({"he", "him", "his", "himself"}),
    "she": frozenset({"she", "her", "hers", "herself"}),
    "they": frozenset({"they", "them", "their", "theirs", "themselves", "themself"}),
}
_POSSESSIVE_TO_PRONOUN = {"his": "he", "her": "she", "their": "they"}
# The words after a subject that only link it to what is said of it ("She's diabetic").
_COPULAS = frozenset({"is", "'s", "’s", "was", "are", "'re", "’re", "were"})
# A description says what someone is, has, wears or looks like, not what they did.
_DESCRIBING_VERBS = frozenset({"be", "have", "wear", "look", "appear", "seem", "get"})
_FILLER = "(?:" + "|".join(sorted(FILLERS, key=len, reverse=True)) + ")"
# Spaces, commas and hesitations between words: ", erm, "
_PAUSE = rf"(?:[\s,]+(?i:{_FILLER})\b)*[\s,]+"
# The subject and verb a description follows: "He is", "She's, erm, got", "Jamie has".
_DESCRIPTION_LEAD = re.compile(
    r"[\s,]*(?:and\s+)?(?:[Hh]e|[Ss]he|[Tt]hey|[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*)*)"
    r"(?:\s+(?:was|is|were|are|had|has)|['’]s|['’]d|['’]re)?"
    rf"{_PAUSE}(?:got{_PAUSE})?"
)
_FILLER_RE = re.compile(rf"(?<![\w'’]){_FILLER}\b[\s,]*", re.IGNORECASE)
_EDGE = " \t\n,;:.!?-"
# What is left at the end of a description once the clothing is cut off: "..., and".
_TRAILING = re.compile(r"(?:[\s,;:.!?-]|\band\b)+\Z")


def _as_stated(text: str) -> str:
    """Lower case, single-spaced, hesitations and edge punctuation dropped."""
    return " ".join(_FILLER_RE.sub("", text).split()).strip(_EDGE).lower()


# ------------------------------------------------------------------------------- over 18
def witness_over_18(ctx: Context) -> None:
    """ "I'm over eighteen", "Age, over 18", "my age is over the age of eighteen" → "over 18".
    A dictated "Age, over 18" after the missing person or someone else is introduced is
    theirs, not the witness's (as for ``witness.age``)."""
    others = ctx.cues("MISSING_NAME", "OTHER_NAME")
    others_from = min((c.start_char for c in others), default=len(ctx.text))
    for cue in ctx.cues("WITNESS_OVER_18"):
        if cue[0].lower_ != "i" and cue.start_char > others_from:
            continue
        over = next((t for t in cue if t.lower_ in {"over", "above"}), cue[0])
        ctx.add_detail("witness.over_18", Found(OVER_18, over.idx, cue.end_char))
        return


# ------------------------------------------------------------------------- who it is about
@dataclass
class _MissingPerson:
    """Which subjects in the statement are the missing person."""

    words: frozenset[str]  # the words of their name
    start: int  # where the account of them starts
    pronoun: str | None = None
    # sentence start → whether their pronoun in that sentence is theirs
    theirs: dict[int, bool] = field(default_factory=dict)

    def named(self, token: Token) -> bool:
        """The token is (part of) their name: "Jack", "Dawson", "Lily-Mae"."""
        flat = [token, *(c for c in token.children if c.dep_ in {"compound", "flat"})]
        return bool(self.words & name_tokens(" ".join(t.text for t in flat)))

    def is_them(self, subject: Token) -> bool:
        """The subject is the missing person: their name, or their pronoun where it is theirs."""
        if self.named(subject):
            return True
        pronoun = subject.lower_
        return (
            pronoun in _PRONOUN_FORMS
            and self.pronoun == pronoun
            and self.theirs.get(subject.sent.start_char, False)
        )

    def possessed(self, subject: Token) -> bool:
        """The subject is something of theirs: "her tablets", "Jack's inhaler"."""
        for child in subject.children:
            if child.dep_ != "poss":
                continue
            if _POSSESSIVE_TO_PRONOUN.get(child.lower_) == self.pronoun and self.theirs.get(
                subject.sent.start_char, False
            ):
                return True
            if self.named(child):
                return True
        return False


def _subjects(verb: Token) -> list[Token]:
    return [c for c in verb.children if c.dep_ in _SUBJECT_DEPS]


def _named_other(token: Token, person: _MissingPerson) -> bool:
    return (token.ent_type_ == "PERSON" or token.pos_ == "PROPN") and not person.named(token)


def _missing_person(ctx: Context) -> _MissingPerson:
    """Where the account of the missing person starts, their name, and whose each sentence's
    pronouns are."""
    name = ctx.fields.get("missing.name")
    starts = [c.start_char for c in ctx.cues("MISSING_NAME", "MISSING")]
    if name is not None:
        starts.append(name.start)
    start = ctx.sentence_at(min(starts)).start_char if starts else 0
    person = _MissingPerson(
        words=frozenset(name_tokens(str(name.value))) if name else frozenset(), start=start
    )
    if name is not None:
        # "Her name is Lily Shaw": the pronoun said with the name
        for cue in ctx.cues("OTHER_NAME"):
            if 0 <= name.start - cue.end_char <= 3:
                person.pronoun = _POSSESSIVE_TO_PRONOUN.get(cue[0].lower_)
    theirs = True
    for sentence in ctx.doc.sents:
        if sentence.end_char <= start:
            continue
        subjects = _subjects(sentence.root)
        mentioned = any(person.named(t) for t in sentence if t.pos_ == "PROPN")
        if any(person.named(s) for s in subjects) or mentioned:
            theirs = True
        elif any(_named_other(s, person) for s in subjects):
            # "Brian saw her there": her pronoun is still theirs, so a later "she" is too
            forms = _PRONOUN_FORMS.get(person.pronoun or "", frozenset())
            theirs = any(t.lower_ in forms for t in sentence)
        if theirs and person.pronoun is None:
            for s in subjects:
                if s.lower_ in _PRONOUN_FORMS and not any(
                    _named_other(t, person) for t in sentence
                ):
                    person.pronoun = s.lower_
                    break
        person.theirs[sentence.start_char] = theirs
    return person


# ------------------------------------------------------------------------------ description
def _describes(ctx: Context, start: int, end: int) -> bool:
    words = lexicons.lower_set("description_words")
    if any(
        t.idx >= start and t.idx < end and (t.lower_ in words or t.lower_.rstrip("s") in words)
        for t in ctx.doc
    ):
        return True
    return any(m.start_char >= start and m.end_char <= end for m in ctx.mentions(HEIGHT))


def _without_clothing(ctx: Context, start: int, end: int) -> int:
    """``end``, or where a "was wearing ..." in ``[start, end)`` starts: clothing is its own
    field."""
    for cue in ctx.cues("CLOTHING"):
        if cue.end_char > start and cue.start_char < end:
            end = max(start, cue.start_char)
    trailing = _TRAILING.search(ctx.text, start, end)
    return trailing.start() if trailing else end


def missing_description(ctx: Context) -> None:
    """ "He is about six foot tall and slim, with short black hair." → "about six foot tall and
    slim, with short black hair"; "Description, ..." and "she's described as ..." too."""
    person = _missing_person(ctx)
    parts: list[tuple[int, int]] = []
    for cue in ctx.cues("DESCRIPTION"):
        if cue.start_char >= person.start:
            parts.append((cue.end_char, cue.sent.end_char))
    for sentence in ctx.doc.sents:
        if sentence.end_char <= person.start:
            continue
        if sentence.root.lemma_.lower() not in _DESCRIBING_VERBS:
            continue
        if not any(person.is_them(s) for s in _subjects(sentence.root)):
            continue
        lead = _DESCRIPTION_LEAD.match(ctx.text, sentence.start_char, sentence.end_char)
        parts.append((lead.end() if lead else sentence.start_char, sentence.end_char))
    kept: list[tuple[int, int]] = []
    for start, end in sorted(parts):
        end = _without_clothing(ctx, start, end)
        if end - start >= 3 and _describes(ctx, start, end):
            if kept and start < kept[-1][1]:
                continue  # "described as ..." inside a sentence already taken
            kept.append(ctx.tighten(start, end))
    if kept:
        value = "; ".join(_as_stated(ctx.text[s:e]) for s, e in kept)
        ctx.add_detail("missing.description", Found(value, kept[0][0], kept[-1][1]))


# ----------------------------------------------------------------------------- risk factors
def _clause_of(token: Token) -> tuple[Token, list[Token]] | None:
    """The nearest verb above ``token`` (or itself) that has a subject, and its subjects."""
    verb = token
    while not (subjects := _subjects(verb)):
        if verb.head.i == verb.i:
            return None
        verb = verb.head
    return verb, subjects


def _risk_clause(ctx: Context, person: _MissingPerson, cue: Span) -> tuple[int, int] | None:
    """The characters of the clause about the missing person that ``cue`` is in, from after
    its subject ("she's diabetic and hasn't got her insulin" → "diabetic and ... insulin"), or
    from its subject when that is something of theirs ("her tablets are at home")."""
    found = _clause_of(cue.root)
    if found is None:
        return None
    verb, subjects = found
    subject = subjects[0]
    if subject.left_edge.i <= cue.root.i <= subject.right_edge.i:
        if not person.possessed(subject):
            return None
        start = subject.left_edge.idx
    elif person.is_them(subject):
        after = subject.right_edge.i + 1
        while after < len(ctx.doc) and (
            ctx.doc[after].lower_ in _COPULAS or ctx.doc[after].lower_ in FILLERS
        ):
            after += 1
        if after >= len(ctx.doc):
            return None
        start = ctx.doc[after].idx
    else:
        return None
    sentence = cue.sent
    last = verb.right_edge if verb.head.i != verb.i else sentence[-1]
    end = min(last.idx + len(last), sentence.end_char)
    if start > cue.start_char:
        return None
    start, end = ctx.tighten(start, end)
    return (start, end) if end > start else None


def missing_risk_factors(ctx: Context) -> None:
    """Each clause about the missing person holding a risk cue, as said, joined with "; ":
    "She has dementia and gets confused at night; needs her tablets every morning"."""
    person = _missing_person(ctx)
    items: list[tuple[int, int]] = []
    for cue in ctx.cues("RISK_HEADER"):
        if cue.start_char >= person.start:
            items.append(ctx.tighten(cue.end_char, cue.sent.end_char))
    for cue in ctx.cues("RISK"):
        if cue.start_char >= person.start and (clause := _risk_clause(ctx, person, cue)):
            items.append(clause)
    merged: list[tuple[int, int]] = []
    for start, end in sorted(items):
        if end <= start:
            continue
        if merged and start < merged[-1][1]:  # two cues in one clause: the clause once
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    if merged:
        value = "; ".join(_as_stated(ctx.text[s:e]) for s, e in merged)
        ctx.add_detail("missing.risk_factors", Found(value, merged[0][0], merged[-1][1]))


WITNESS_RULES = [witness_over_18]
MISSING_RULES = [missing_description, missing_risk_factors]
