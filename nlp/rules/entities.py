"""The lists: other people named, vehicles with a registration, weapons and exhibits."""

from __future__ import annotations

import re
from dataclasses import replace

from spacy.tokens import Span, Token

from models.statement import Exhibit, Person, Vehicle, Weapon
from nlp import lexicons
from nlp.mentions import COLLAR, EMAIL, EXHIBIT, REGISTRATION, collar_number, exhibit_reference
from nlp.names import HeardName, spelled_after, spellings_in
from nlp.normalise import normalise_registration
from nlp.pipeline import COLOUR, VEHICLE, WEAPON
from nlp.rules.context import Context, harm_in, is_name_word, name_at


# ----------------------------------------------------------------------------------------- persons
def _person_candidates(ctx: Context) -> list[Span]:
    """PERSON entities, and names after "known as", "called", "my neighbour," ... which the
    statistical NER misses in spoken text (a hyphenated first name can come out as ORG)."""
    found = [e for e in ctx.doc.ents if e.label_ == "PERSON"]
    # "PC 2231 Smith": the name after an officer's rank and collar number
    for cue in [
        *ctx.cues("NAME_INTRO", "OTHER_NAME", "RELATION", "MISSING_NAME"),
        *ctx.mentions(COLLAR),
    ]:
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


def _collar_number_of(ctx: Context, span: Span) -> str | None:
    """The collar number said with a name: right before it ("PC 2231 Smith", "Sergeant eleven
    eighty, Jones") or, without a rank, right after it ("Sarah Kemp, collar number 4521")."""
    for collar in ctx.mentions(COLLAR):
        if collar.end_char <= span.start_char:
            gap, rankless = ctx.text[collar.end_char : span.start_char], True
        elif collar.start_char >= span.end_char:
            gap = ctx.text[span.end_char : collar.start_char]
            # "PC Smith, DC 445 ..." is two officers; "Smith, collar number 445" is one
            rankless = collar.text.lower().split()[0] in {"collar", "shoulder", "warrant"}
        else:
            continue
        if rankless and re.fullmatch(r"[\s,]*", gap):
            return collar_number(collar.text)
    return None


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
    """Everyone named except the witness and the missing person, each once: mentions of one
    person ("Dean Harker ... Dean ... Mr Harker"; "Haley" and "Hayley", which sound the
    same) are one person, named in the spelled or the fullest form (:mod:`nlp.names`). A name
    spelled right after it ("Gary Sprot, that's S P R O T T") is written as spelled, its
    evidence running through the letters; a spelling said after a later mention of a word
    fixes every mention of it, the witness's and the missing person's names too."""
    own = [
        HeardName.of(said)
        for f in ("witness.name", "missing.name")
        if f in ctx.fields
        # the name as spelled and as heard ("Ewa Woicik, that's W O J C I K")
        for said in (str(ctx.fields[f].value), ctx.text[ctx.fields[f].start : ctx.fields[f].end])
    ]
    kept: list[tuple[HeardName, Person]] = []
    for span in _person_candidates(ctx):
        if not _plausible_name(ctx, span):
            continue
        start, end = ctx.tighten(span.start_char, span.end_char)
        heard = HeardName.of(ctx.text[start:end])
        if any(heard.part_of(o) for o in own):
            continue
        spelling = spelled_after(ctx.text, end)
        if spelling is not None:  # "Gary Sprot, that's S P R O T T"
            heard, end = heard.spelled_as(spelling), spelling.end
        collar = _collar_number_of(ctx, span)
        person = Person(
            name=heard.text,
            role="officer" if collar else _role(span),
            start_char=start,
            end_char=end,
            collar_number=collar,
        )
        same = next((i for i, (k, _) in enumerate(kept) if heard.same_person(k)), None)
        if same is None:
            kept.append((heard, person))
            continue
        known, first = kept[same]
        merged = known.merged(heard)
        # the person stays where their fullest mention was said
        where = person if len(heard.words) > len(known.words) else first
        kept[same] = (merged, replace(where, name=merged.text))
    kept = _spelled_elsewhere(ctx, kept)
    ctx.persons.extend(p for _, p in kept)
    ctx.spelled_names.update(p.name for n, p in kept if n.is_spelled)


def _spelled_elsewhere(
    ctx: Context, kept: list[tuple[HeardName, Person]]
) -> list[tuple[HeardName, Person]]:
    """The persons, and the witness's and missing person's names, with each spelling said
    anywhere applied to the words it spells ("Haley ... her name's Hayley, H A Y L E Y" fixes
    "Haley" too). A name field so fixed counts as spelled."""
    for spelling in spellings_in(ctx.text):
        kept = [(n.respelled(spelling), p) for n, p in kept]
        for f in ("witness.name", "missing.name"):
            found = ctx.fields.get(f)
            if found is None or found.source == "spelled":
                continue
            respelled = HeardName.of(str(found.value)).respelled(spelling)
            if respelled.is_spelled:
                ctx.fields[f] = replace(found, value=respelled.text, source="spelled")
                ctx.spelled_names.add(respelled.text)
    return [(n, replace(p, name=n.text)) for n, p in kept]


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
        # the mention finder only keeps a short plate shape where the words say it is one
        registration = normalise_registration(span.text, context=True)
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


# ---------------------------------------------------------------------------------------- exhibits
# What may come between an exhibit reference and what it is: "DH/3 the CCTV", "KJT/1, being a
# kitchen knife", "KJT/1 (a knife)".
_AFTER_REFERENCE_RE = re.compile(
    r"[ \t,:(–-]*(?:(?:being|namely|which\s+(?:is|was))\s+)?", re.IGNORECASE
)
# ... and between what it is and the reference said after it: "a kitchen knife, exhibit KJT/1",
# "the knife, which I produce as exhibit KJT/1", "the phone (exhibit DH/2)".
_BEFORE_REFERENCE_RE = re.compile(
    r"[ \t,(–-]*(?:(?:which|that)\s+I\s+(?:have\s+|now\s+|then\s+)*)?"
    r"(?:(?:produced?|exhibit(?:ed)?|label(?:led)?|mark(?:ed)?|seized)\s+(?:it\s+)?)?(?:as\s+)?"
    r"(?:(?:my\s+)?exhibits?(?:\s+(?:reference|ref|number|no)\.?)?)?[ \t,:]*",
    re.IGNORECASE,
)
_LEADING_DETERMINER_RE = re.compile(r"^(?:the|a|an|this|that|some|my|his|her|their)\s+", re.I)
# prepositions that carry a description on: "CCTV footage from the shop", "a bag of cannabis"
_DESCRIPTION_LINKS = frozenset({"of", "from", "showing", "containing", "with"})
_NOT_DESCRIPTIONS = frozenset({"exhibit", "exhibits", "reference", "number", "item"})


def _chunk_at(ctx: Context, char: int) -> Span | None:
    chunk = next((c for c in ctx.doc.noun_chunks if c.start_char == char), None)
    return None if chunk is None or not _describes(chunk) else chunk


def _describes(chunk: Span) -> bool:
    """Whether a noun chunk can say what an exhibit is ("it", "exhibit" cannot)."""
    return chunk.root.pos_ != "PRON" and chunk.root.lower_ not in _NOT_DESCRIPTIONS


def _exhibit_description(ctx: Context, span: Span) -> str | None:
    """What an exhibit is, as said right after its reference or right before it; ``None``
    when neither says it."""
    after = _AFTER_REFERENCE_RE.match(ctx.text, span.end_char)
    chunk = _chunk_at(ctx, after.end()) if after else None
    if chunk is not None:
        end = chunk.end
        if end < len(ctx.doc) and ctx.doc[end].lower_ in _DESCRIPTION_LINKS:
            more = _chunk_at(ctx, ctx.doc[end + 1].idx) if end + 1 < len(ctx.doc) else None
            if more is not None:
                end = more.end
        described = ctx.doc[chunk.start : end].text
    else:
        before = [c for c in ctx.doc.noun_chunks if c.end_char <= span.start_char]
        last = before[-1] if before else None
        if (
            last is None
            or not _describes(last)
            or not _BEFORE_REFERENCE_RE.fullmatch(ctx.text, last.end_char, span.start_char)
        ):
            return None
        described = last.text
    return _LEADING_DETERMINER_RE.sub("", described).strip() or None


def exhibits(ctx: Context) -> None:
    """Exhibit references ("KJT/1", "exhibit K J T stroke one") with what the item is, each
    reference once (the first description said wins)."""
    kept: dict[str, int] = {}
    for span in ctx.mentions(EXHIBIT):
        reference = exhibit_reference(span.text)
        if reference is None:
            continue
        description = _exhibit_description(ctx, span)
        if reference in kept:
            i = kept[reference]
            if ctx.exhibits[i].description is None and description is not None:
                ctx.exhibits[i] = Exhibit(
                    reference,
                    description,
                    ctx.exhibits[i].start_char,
                    ctx.exhibits[i].end_char,
                )
            continue
        start, end = ctx.tighten(span.start_char, span.end_char)
        kept[reference] = len(ctx.exhibits)
        ctx.exhibits.append(Exhibit(reference, description, start, end))


RULES = [persons, vehicles, weapons, exhibits]
