"""Places said in a statement, in the form the contract wants for ``incident.location``:
"street, town" when a street is named ("on King Street in Whitehaven" → "King Street,
Whitehaven"), a road and the place on it ("along the A66 at Threlkeld" → "A66, Threlkeld"),
otherwise the named place and town ("at Bitts Park in Carlisle" → "Bitts Park, Carlisle").
Shop and pub names are left out because only the street after them is taken.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from spacy.tokens import Doc, Token

from nlp import lexicons
from nlp.normalise import canonical_town, normalise_road, number_from_words

STREET = "street"
ROAD = "road"
PLACE = "place"
NAMED = "named"  # a capitalised name followed by a town: "the Green in Dalston"
TOWN = "town"
GENERIC = "generic"  # a kind of place in a town: "the skate park in Maryport"

# Prepositions that put something *at* a place (not "towards" or "from": where someone went
# or came from is not where it happened).
_AT = frozenset(
    {"on", "in", "at", "along", "outside", "near", "by", "down", "up", "into", "onto", "opposite",
     "behind", "off", "across", "through", "inside", "beside", "round", "around"}
)  # fmt: skip
_TOWN_LINK = frozenset({",", "in", "at", "near", "of"})
_ROAD_RE = re.compile(r"[ABM]\d{1,4}(?:\(M\))?")


@dataclass(frozen=True)
class Place:
    value: str
    start: int
    end: int
    kind: str


def _is_cap(token: Token) -> bool:
    return token.text[:1].isupper() and token.is_alpha and token.text not in {"I", "A"}


def _word_run(doc: Doc, i: int) -> int:
    """End of the capitalised phrase starting at token ``i``; hyphenated parts that are not
    spaced ("Appleby-in-Westmorland", "Barrow-in-Furness") stay inside it."""
    j = i
    while j < len(doc):
        token = doc[j]
        if _is_cap(token):
            j += 1
        elif (
            token.text == "-"
            and j > i
            and not doc[j - 1].whitespace_
            and not token.whitespace_
            and j + 1 < len(doc)
            and doc[j + 1].is_alpha
        ):
            j += 2
        else:
            break
    return j


def _town_at(doc: Doc, i: int) -> tuple[int, str] | None:
    """The town name starting at token ``i`` (a listed town, allowing a one-letter slip, or a
    GPE entity): its end token and its name as the list spells it."""
    if i >= len(doc) or not _is_cap(doc[i]):
        return None
    end = _word_run(doc, i)
    # the longest listed town at i ("Kirkby Stephen" rather than a town "Kirkby")
    for n in range(end, i, -1):
        town = canonical_town(doc[i:n].text)
        if town is not None:
            return n, town
    if doc[i].ent_type_ == "GPE" and doc[i].ent_iob_ == "B":
        ent = next(e for e in doc.ents if e.start == i)
        return ent.end, ent.text
    return None


def _street_kind(words: list[str]) -> str | None:
    if not words:
        return None
    street_types = lexicons.lower_set("street_types")
    place_types = lexicons.lower_set("place_types")
    last = words[-1].lower()
    if len(words) >= 2 and last in street_types:
        return STREET
    if len(words) == 1 and any(last.endswith(s) for s in lexicons.words("street_suffixes")):
        return STREET  # "Highgate", "Fishergate"
    if last in place_types or " ".join(words[-2:]).lower() in place_types:
        return PLACE
    return None


def _leading_number(doc: Doc, i: int) -> tuple[str | None, int]:
    """A house number before a street ("at 5 West Road", "at five West Road")."""
    if i < len(doc) and (doc[i].like_num or doc[i].is_digit):
        text = doc[i].text
        value = text if text.isdigit() else number_from_words(text)
        if value is not None:
            return str(value), i + 1
    return None, i


def _lower_place_type(doc: Doc, i: int) -> int:
    """End of a lower-case place word after a name ("Penrith bus station", "Kendal park")."""
    place_types = lexicons.lower_set("place_types")
    for n in (3, 2, 1):
        words = doc[i : i + n]
        if len(words) == n and all(t.is_lower for t in words) and words.text in place_types:
            return i + n
    return i


def _place_at(doc: Doc, j: int, *, has_the: bool, street_only: bool) -> tuple[str, str, int] | None:
    """The place phrase starting at token ``j``: (name, kind, end token)."""
    # a classified road: "the A66", "the A six six", "the M6"
    if (
        not street_only
        and j < len(doc)
        and (_ROAD_RE.fullmatch(doc[j].text) or doc[j].text in {"A", "B", "M"})
    ):
        k = j + 1
        while k < len(doc) and (doc[k].like_num or doc[k].lower_ in {"oh", "double"}):
            k += 1
        road = normalise_road(doc[j:k].text)
        if road:
            return road, ROAD, k
    number, j = _leading_number(doc, j)
    end = _word_run(doc, j)
    if end == j:
        return None
    words = [t.text for t in doc[j:end] if t.is_alpha]
    kind = _street_kind(words)
    if street_only and (kind != STREET or number is None):
        return None
    name = doc[j:end].text
    if kind is None and (after := _lower_place_type(doc, end)) > end:
        kind, name, end = PLACE, doc[j:after].text, after  # "Penrith bus station"
    if kind is None:
        town = _town_at(doc, j)
        if town is not None and town[0] == end:
            kind, name = TOWN, town[1]
    if kind is None and number is not None:
        return None
    if kind == STREET and number:
        name = f"{number} {name}"
    if kind == PLACE and has_the and len(words) == 1:
        name = f"The {name}"  # "the Green" is called The Green
    return name, kind or NAMED, end


def find_places(doc: Doc) -> list[Place]:
    """Every place phrase after a locative preposition ("on King Street in Whitehaven"), and
    every numbered street address ("at our home, 12 Beech Grove, Ulverston"), in text order."""
    places: list[Place] = []
    i = 0
    while i < len(doc):
        if doc[i].lower_ in _AT:
            j = i + 1
            has_the = j < len(doc) and doc[j].lower_ == "the"
            j += has_the
            place = _place_at(doc, j, has_the=has_the, street_only=False)
        elif doc[i].like_num and (i == 0 or doc[i - 1].lower_ not in _AT | {"the"}):
            j = i
            place = _place_at(doc, j, has_the=False, street_only=True)
        elif doc[i].lower_ == "the" and (end := _lower_place_type(doc, i + 1)) > i + 1:
            # "leaving the skate park in Maryport": a kind of place, named by its town
            j = i + 1
            place = (doc[j:end].text, GENERIC, end)
        else:
            place = None
        if place is None:
            i += 1
            continue
        name, kind, end = place
        # the town after it: ", Kendal", "in Kendal", "at Threlkeld"
        town = None
        if kind != TOWN and end < len(doc) and doc[end].lower_ in _TOWN_LINK:
            town = _town_at(doc, end + 1)
        if town is not None:
            value = f"{name}, {town[1]}"
            end = town[0]
        elif kind in {NAMED, GENERIC}:
            i += 1  # "the Green" or "the park" with no town: not enough to go on
            continue
        else:
            value = name
        places.append(Place(value, doc[j].idx, doc[end - 1].idx + len(doc[end - 1]), kind))
        i = end
    return places
