"""The person giving the account: name, age, date of birth, occupation, address, phone, email.

Each rule starts from a cue phrase (``data/patterns/cues.jsonl``) and reads the value right after
it, so another person's details read out in the statement ("his number is ...") are not taken as
the witness's own.
"""

from __future__ import annotations

import re

from spacy.tokens import Span

from nlp import lexicons
from nlp.mentions import DATE, EMAIL, PHONE, POSTCODE, REGISTRATION
from nlp.normalise import (
    canonical_town,
    normalise_address,
    normalise_date,
    normalise_email,
    normalise_phone,
    normalise_postcode,
    title_case_name,
)
from nlp.rules.ages import AGE_NUMBER, age_after_correction, age_value
from nlp.rules.context import NER, Context, Found, name_at, spelled_name

# How far after its cue a value may start ("My mobile number is, erm, oh seven ...").
_NEAR = 20


def witness_name(ctx: Context) -> None:
    """ "My name is X", "Statement of X", "Reporting person, X"; else "I am PC X" (an officer's
    own statement: when an officer dictates someone else's, that person's cue comes first)."""
    for label in ("WITNESS_NAME", "OFFICER_NAME"):
        for cue in ctx.cues(label):
            span = name_at(ctx.doc, cue.end_char)
            if span is not None:
                ctx.add("witness.name", spelled_name(ctx, span))
                return
    # No cue: "I'm Sarah Holloway", or a name opening the statement ("Sarah Holloway, 34, ...")
    for ent in ctx.doc.ents:
        if ent.label_ != "PERSON":
            continue
        before = ctx.doc[max(ent.start - 2, 0) : ent.start].text.lower().replace("’", "'")
        if ent.start == 0 or before in {"i am", "i 'm", "i'm"}:
            ctx.add(
                "witness.name",
                Found(title_case_name(ent.text), ent.start_char, ent.end_char, "ner", NER),
            )
            return


_WITNESS_AGE_RE = re.compile(
    r"\b(?:I['’]m|I am|Age[,:]?|age[,:]|(?<=,\s)age|[Mm]y age is|I turned)\s+"
    rf"(?:only\s+|just\s+|now\s+)?(?P<n>{AGE_NUMBER})(?P<years>\s+years?(?:\s+of\s+age|\s+old)?)?\b"
)


def witness_age(ctx: Context) -> None:
    """ "I'm twenty-nine", "I am 34 years old", "Age, forty-one" (not "Age, over eighteen")."""
    # A dictated "Age, N" after the missing person is introduced is theirs, not the witness's.
    others = ctx.cues("MISSING_NAME", "OTHER_NAME")
    others_from = min((c.start_char for c in others), default=len(ctx.text))
    for m in _WITNESS_AGE_RE.finditer(ctx.text):
        if not m.group().lower().startswith("i") and m.start() > others_from:
            continue
        found = age_value(ctx.text, m)
        if found is not None:
            ctx.add("witness.age", age_after_correction(ctx.text, found))
            return


def witness_date_of_birth(ctx: Context) -> None:
    """ "my date of birth is the third of May nineteen eighty-one" → "1981-05-03"."""
    for cue in ctx.cues("DOB"):
        span = ctx.first_after(ctx.mentions(DATE), cue.end_char, within=_NEAR)
        if span is None:
            continue
        born = normalise_date(span.text, statement_date=ctx.statement_date)
        if born is not None and born < ctx.statement_date:
            ctx.add(
                "witness.date_of_birth", Found(born.isoformat(), span.start_char, span.end_char)
            )
            return


# An occupation runs until a preposition or clause word ("a bus driver for Stagecoach").
_OCCUPATION_RE = re.compile(
    r"\s*,?\s*(?:(?:erm|um|er|uh)\b[\s,]*)*(?:(?:a|an|the)\s+)?(?P<job>[A-Za-z][A-Za-z'’-]*(?:\s+[A-Za-z][A-Za-z'’-]*){0,3}?)"
    r"(?=\s+(?:at|in|for|with|on|and|but|since|from|where|who|which|of|to|by|near|so|because)\b"
    r"|\s*[,.;:!?]|\s*$)"
)


def _occupation_after(ctx: Context, char: int, *, need_lexicon: bool) -> Found | None:
    m = _OCCUPATION_RE.match(ctx.text, char)
    if not m:
        return None
    job = m.group("job").strip()
    last = job.split()[-1].lower() if job else ""
    occupations = lexicons.lower_set("occupations")
    if need_lexicon and last not in occupations and last.rstrip("s") not in occupations:
        return None
    return Found(job.lower(), m.start("job"), m.end("job"))


def witness_occupation(ctx: Context) -> None:
    """ "I work as a staff nurse", "Occupation, plumber", and "I'm a postman" when the last
    word is a known occupation (so "I'm a bit shaken" is not one)."""
    for cue in sorted(ctx.cues("OCCUPATION", "OCCUPATION_IF_LEXICON"), key=lambda s: s.start_char):
        found = _occupation_after(
            ctx, cue.end_char, need_lexicon=cue.label_ == "OCCUPATION_IF_LEXICON"
        )
        if ctx.add("witness.occupation", found):
            return


# Where an address said without a postcode stops: "I live at 3 High Street with my husband".
_ADDRESS_STOP_RE = re.compile(
    r"\s+(?:with|and|since|for|where|which|who|but|so|because|in\s+(?:a|the)\b)\s+|[.;!?](?:\s|$)"
)


def _postcode_after(ctx: Context, start: int) -> tuple[Span, str] | None:
    """The postcode said in the address's sentence. Whisper's "C-A-14, O-Q-B" is also a
    well-formed registration (CA14 OQB); after "I live at ..." it is the postcode CA14 0QB."""
    sentence_end = ctx.sentence_at(start).end_char
    for span in sorted(ctx.mentions(POSTCODE, REGISTRATION), key=lambda s: s.start_char):
        if start <= span.start_char and span.start_char - start <= 200:
            value = normalise_postcode(span.text)
            if value and span.start_char < max(sentence_end, start + 60):
                return span, value
    return None


def _through_town(ctx: Context, start: int, end: int) -> int:
    """Without a postcode, an address ends with its town: "two brook street, Keswick, ..." is cut
    after "Wigton" (what follows is more likely misheard speech than more address)."""
    pos = start
    for part in ctx.text[start:end].split(","):
        pos += len(part)
        if canonical_town(part.strip()) is not None:
            return pos
        pos += 1
    return end


def witness_address(ctx: Context) -> None:
    """ "I live at fourteen Lowther Street, Carlisle, C A three, eight D A" → address
    "14 Lowther Street, Carlisle" and postcode "CA3 8DA"."""
    for cue in ctx.cues("ADDRESS"):
        start = cue.end_char
        postcode = _postcode_after(ctx, start)
        if postcode is not None:
            end = postcode[0].start_char
        else:
            stop = _ADDRESS_STOP_RE.search(ctx.text, start)
            end = _through_town(ctx, start, stop.start() if stop else len(ctx.text))
        raw = ctx.text[start:end]
        lead = len(raw) - len(raw.lstrip(" ,:"))
        raw = raw.strip(" ,:;")
        if raw:
            begin = start + lead
            ctx.add("witness.address", Found(normalise_address(raw), begin, begin + len(raw)))
        if postcode is not None:
            span, value = postcode
            ctx.add("witness.postcode", Found(value, span.start_char, span.end_char))
        if "witness.address" in ctx.fields:
            return


def witness_phone(ctx: Context) -> None:
    """The witness's own number: a phone number right after "my mobile is", "Telephone," ...
    (another person's number read out in the statement is not theirs)."""
    for cue in ctx.cues("PHONE"):
        span = ctx.first_after(ctx.mentions(PHONE), cue.end_char, within=_NEAR)
        if span is not None:
            value = normalise_phone(span.text)
            if value and ctx.add("witness.phone", Found(value, span.start_char, span.end_char)):
                return


def witness_email(ctx: Context) -> None:
    for cue in ctx.cues("EMAIL"):
        span = ctx.first_after(ctx.mentions(EMAIL), cue.end_char, within=_NEAR)
        if span is not None:
            value = normalise_email(span.text)
            if value and ctx.add("witness.email", Found(value, span.start_char, span.end_char)):
                return


RULES = [
    witness_name,
    witness_age,
    witness_date_of_birth,
    witness_occupation,
    witness_address,
    witness_phone,
    witness_email,
]
