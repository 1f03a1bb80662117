"""When and where: ``incident.date/time/location`` on a witness statement and
``missing.last_seen_date/time/location`` on a missing person report.

Both read the first date, time and place told after an anchor (the start of the statement, or
the sentence where the person was last seen), skipping what belongs to the
witness's own details (a date of birth is not the incident date, their address is not where it
happened).
"""

from __future__ import annotations

import re

from models.statement import Template
from nlp.mentions import DATE, TIME
from nlp.normalise import normalise_date, normalise_time, number_from_words
from nlp.rules.context import INFERRED, WEAK, Context, Found
from nlp.rules.places import GENERIC, NAMED, PLACE, ROAD, STREET, TOWN, find_places

_WITNESS_DETAILS = (
    "witness.name",
    "witness.age",
    "witness.date_of_birth",
    "witness.address",
    "witness.postcode",
    "witness.phone",
    "witness.email",
)


def _date_after(ctx: Context, anchor: int) -> Found | None:
    for span in ctx.mentions(DATE):
        if span.start_char < anchor or ctx.overlaps_field(
            span.start_char, span.end_char, *_WITNESS_DETAILS
        ):
            continue
        span = ctx.corrected(span)
        when = normalise_date(span.text, statement_date=ctx.statement_date)
        if when is not None and when <= ctx.statement_date:
            return Found(when.isoformat(), span.start_char, span.end_char)
    return None


def _time_after(ctx: Context, anchor: int) -> Found | None:
    for span in ctx.mentions(TIME):
        if span.start_char < anchor or ctx.overlaps_field(
            span.start_char, span.end_char, *_WITNESS_DETAILS
        ):
            continue
        span = ctx.corrected(span)
        value = normalise_time(span.text, day_part_hint=ctx.day_part_near(span))
        if value is not None:
            return Found(value, span.start_char, span.end_char)
    return None


# "next door at number seven": a house in the witness's own street.
# (Not IGNORECASE: the look-ahead must see a capital to tell "number 5 West Road" apart.)
_AT_NUMBER_RE = re.compile(r"\b[Aa]t\s+[Nn]umber\s+(?P<n>\w+(?:[\s-]\w+)?)\b(?!\s+[A-Z])")


def _neighbour_address(ctx: Context, anchor: int) -> Found | None:
    address = ctx.fields.get("witness.address")
    if address is None or not isinstance(address.value, str):
        return None
    street = re.match(r"\d+[A-Za-z]?\s+(.+)", address.value)
    if not street:
        return None
    for m in _AT_NUMBER_RE.finditer(ctx.text, anchor):
        words = m.group("n").split()
        number = number_from_words(m.group("n")) or number_from_words(words[0])
        if number is not None:
            return Found(f"{number} {street.group(1)}", m.start(), m.end(), "inferred", INFERRED)
    return None


def _location_after(ctx: Context, anchor: int, *, at_home_fallback: bool) -> Found | None:
    places = [
        p
        for p in find_places(ctx.doc)
        if p.start >= anchor and not ctx.overlaps_field(p.start, p.end, *_WITNESS_DETAILS)
    ]
    candidates = [
        Found(p.value, p.start, p.end)
        for p in places
        if p.kind in {STREET, ROAD, PLACE, NAMED, GENERIC}
    ]
    neighbour = _neighbour_address(ctx, anchor)
    if neighbour is not None:
        candidates.append(neighbour)
    if candidates:
        return min(candidates, key=lambda f: f.start)
    address = ctx.fields.get("witness.address")
    if at_home_fallback and address is not None:
        # "my home", "my house", "our front door": it happened at the witness's address
        home = next((c for c in ctx.cues("HOME") if c.start_char >= anchor), None)
        if home is not None:
            return Found(address.value, home.start_char, home.end_char, "inferred", INFERRED)
    towns = [p for p in places if p.kind == TOWN]
    if towns:
        return Found(towns[0].value, towns[0].start, towns[0].end, "rule", WEAK)
    return None


def incident_when_where(ctx: Context) -> None:
    """The first date, time and place of the account (the witness's own details skipped)."""
    ctx.add("incident.date", _date_after(ctx, 0))
    ctx.add("incident.time", _time_after(ctx, 0))
    ctx.add("incident.location", _location_after(ctx, 0, at_home_fallback=True))


def last_seen_when_where(ctx: Context) -> None:
    """Date, time and place from the sentence that says when the person was last seen ("I
    last saw him at about six at Bitts Park in Carlisle")."""
    seen = ctx.cues("LAST_SEEN")
    if seen:
        anchor = seen[0].sent.start_char
    elif "missing.name" in ctx.fields:
        anchor = ctx.fields["missing.name"].start
    else:
        anchor = 0
    ctx.add("missing.last_seen_date", _date_after(ctx, anchor))
    ctx.add("missing.last_seen_time", _time_after(ctx, anchor))
    ctx.add("missing.last_seen_location", _location_after(ctx, anchor, at_home_fallback=True))


RULES = {
    Template.MG11: [incident_when_where],
    Template.MISSING_PERSON: [last_seen_when_where],
    # an interview record's fields index the account as a witness statement's would
    Template.INTERVIEW_RECORD: [incident_when_where],
}
