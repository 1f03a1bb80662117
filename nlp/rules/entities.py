"""The lists: other people named, vehicles with a registration, and weapons."""

from __future__ import annotations

import re

from spacy.tokens import Span, Token

from models.statement import Person, Vehicle, Weapon
from nlp import lexicons
from nlp.mentions import EMAIL, REGISTRATION
from nlp.normalise import normalise_registration, title_case_name
from nlp.pipeline import COLOUR, VEHICLE, WEAPON
from nlp.rules.context import Context, harm_in, is_name_word, name_at, name_tokens
from nlp.spelling import apply_spelling, spelled_after


# ----------------------------------------------------------------------------------------- persons
def _person_candidates(ctx: Context) -> list[Span]:
    """PERSON entities, and names after "known as", "called", "my neighbour," ... which the
    statistical NER misses in spoken text (a hyphenated first name can come out as ORG)."""
    found = [e for e in ctx.doc.ents if e.label_ == "PERSON"]
    for cue in ctx.cues("NAME_INTRO", "OTHER_NAME", "RELATION", "MISSING_NAME"):
        span = name_at(ctx.doc, cue.end_char)
        if span is not None:
            found.append(span)
    return sorted(found, key=lambda s: (s.start_char, -len(s)))


def _plausible_name(ctx: Context, span: Span) -> bool:
    tokens = [t for t in span if not t.is_punct]
    if not tokens or not all(is_name_word(t) for t in tokens):
        return False  # "charlie tango", "tom dot baker", "grey hair"
    nato = lexicons.mapping("nato")
    if all(t.lower_ in nato for t in tokens):
        return False
    if span.start > 0 and ctx.doc[span.start - 1].lower_ == "the":
        return False  # "the Green": a place
    last = tokens[-1].lower_
    if last in lexicons.lower_set("street_types") or last in lexicons.lower_set("place_types"):
        return False  # "Beech Grove", "Bitts Park"
    # not a town, a vehicle or a value (a registration read as a name)
    if any(t.ent_type_ in {"GPE", VEHICLE} for t in tokens):
        return False
    if span.text in lexicons.words("towns"):
        return False  # "moved down from Glasgow": NER's PERSON, but a listed town
    return not any(
        m.start_char < span.end_char and span.start_char < m.end_char
        for m in ctx.mentions(REGISTRATION, EMAIL)
    )


def _subjects(verb: Token) -> list[Token]:
    """The subjects of a verb, following "came up to me and threatened me" back to "came"."""
    subjects = [c for c in verb.children if c.dep_ in {"nsubj", "nsubjpass"}]
    if not subjects and verb.dep_ == "conj" and verb.head is not verb:
        return _subjects(verb.head)
    return subjects


def _role(span: Span) -> str:
    """ "suspect" when the person is the subject of a harm verb in the sentence ("a man I know as
    Darren Pike ... threatened me"), "victim" when its object; "other" when it is less clear
    (for the officer to decide)."""
    for verb in span.sent:
        if verb.pos_ != "VERB" or verb.lemma_.lower() not in _HARM_LEMMAS:
            continue
        if any(span.root in s.subtree for s in _subjects(verb)):
            return "suspect"
        objects = [c for c in verb.children if c.dep_ in {"dobj", "obj", "dative"}]
        if any(span.root in o.subtree for o in objects):
            return "victim"
    return "other"


# Verbs whose subject did the harm: the harm lexicon plus what is done to a person or property.
_HARM_LEMMAS = frozenset(w for w in lexicons.words("harm_words") if " " not in w) | {
    "drag",
    "slap",
    "kick",
    "steal",
    "rob",
    "grab",
    "push",
    "shove",
}


def persons(ctx: Context) -> None:
    """Everyone named except the witness and the missing person, each once: a first name said
    after the full name ("Ross" after "Ross Baxter") is the same person."""
    own = [
        name_tokens(re.sub(r"[^\w\s'-]", " ", said))
        for f in ("witness.name", "missing.name")
        if f in ctx.fields
        # the name as spelled and as heard ("Anna Nowiki, that's N O W I C K I")
        for said in (str(ctx.fields[f].value), ctx.text[ctx.fields[f].start : ctx.fields[f].end])
    ]
    kept: list[tuple[set[str], Person]] = []
    for span in _person_candidates(ctx):
        if not _plausible_name(ctx, span):
            continue
        words = name_tokens(span.text)
        if any(words <= o for o in own):
            continue
        same = next((i for i, (w, _) in enumerate(kept) if words <= w or w <= words), None)
        start, end = ctx.tighten(span.start_char, span.end_char)
        name = title_case_name(ctx.text[start:end])
        spelling = spelled_after(ctx.text, end)
        if spelling is not None:  # "Ross Tinian, that's T I N N I O N"
            name, end = apply_spelling(name, spelling), spelling.end
        person = Person(name=name, role=_role(span), start_char=start, end_char=end)
        if same is None:
            kept.append((words, person))
        elif kept[same][0] < words:  # the full name said after a first name
            kept[same] = (words, person)
    ctx.persons.extend(p for _, p in kept)


# ---------------------------------------------------------------------------------------- vehicles
def _split_make(text: str) -> tuple[str, str | None]:
    for make in sorted(lexicons.words("vehicle_makes"), key=len, reverse=True):
        if text == make or text.startswith(make + " "):
            return make, text[len(make) :].strip() or None
    return text, None


def vehicles(ctx: Context) -> None:
    """Each registration said, with the make, model and colour said before it in the same
    sentence. The last make wins, so a correction ("a Mercedes Sprinter, no, sorry, a Ford
    Transit") keeps the corrected one."""
    for span in ctx.mentions(REGISTRATION):
        registration = normalise_registration(span.text)
        if registration is None or ctx.overlaps_field(
            span.start_char, span.end_char, "witness.postcode"
        ):
            continue  # read as the witness's postcode ("C-A-13, O-P-Z")
        sent = span.sent
        makes = [e for e in sent.ents if e.label_ == VEHICLE and e.end_char <= span.start_char]
        make = model = colour = None
        if makes:
            make, model = _split_make(makes[-1].text)
            colours = [
                c
                for c in ctx.lexicon(COLOUR)
                if c.end <= makes[-1].start and makes[-1].start - c.end <= 2 and c.sent == sent
            ]
            if colours:
                colour = colours[-1].text.lower()
        start, end = ctx.tighten(span.start_char, span.end_char)
        ctx.vehicles.append(
            Vehicle(
                registration=registration,
                start_char=start,
                end_char=end,
                make=make,
                model=model,
                colour=colour,
            )
        )


# ----------------------------------------------------------------------------------------- weapons
# Prepositions that make their object a place or a part of one: "outside the club", "at the
# bar", "the window of the pub" (but "with a bar", "hit him over the head with a club").
_PLACE_PREPOSITIONS = frozenset(
    {"at", "outside", "inside", "in", "into", "near", "behind", "from", "to", "towards",
     "toward", "past", "opposite", "by", "of", "beside", "outside of", "round", "around"}
)  # fmt: skip


def _is_a_place(span: Span) -> bool:
    root = span.root
    return root.dep_ == "pobj" and root.head.lower_ in _PLACE_PREPOSITIONS


def _used_in_next_sentence(span: Span) -> bool:
    """ "He picked up a brick. He threw it at my windscreen.": the next sentence says it was
    used, referring back to it ("it", or the same noun again)."""
    doc, end = span.doc, span.sent.end
    if end >= len(doc):
        return False
    following = doc[end].sent
    refers = any(
        t.lower_ == "it" or t.lemma_.lower() == span.root.lemma_.lower() for t in following
    )
    return refers and harm_in(following)


def weapons(ctx: Context) -> None:
    """Weapon-lexicon nouns in a sentence that says they were used or shown to hurt, threaten
    or damage ("took a baseball bat ... and smashed our front window with it"). The longest
    phrase wins ("baseball bat", not "bat")."""
    spans = sorted(ctx.lexicon(WEAPON), key=lambda s: (s.start, -len(s)))
    seen: set[str] = set()
    covered_to = -1
    for span in spans:
        if span.start < covered_to:
            continue  # inside a longer weapon phrase
        if span.root.pos_ not in {"NOUN", "PROPN"} or _is_a_place(span):
            continue
        if not harm_in(span.sent) and not _used_in_next_sentence(span):
            continue
        covered_to = span.end
        value = " ".join([*(t.lower_ for t in span[:-1]), span[-1].lemma_.lower()])
        if value not in seen:
            seen.add(value)
            ctx.weapons.append(
                Weapon(value=value, start_char=span.start_char, end_char=span.end_char)
            )


RULES = [persons, vehicles, weapons]
