"""The statement narrative: the witness's account as they will sign it.

The words are evidence, so nothing is paraphrased, summarised or reordered. What changes is only
how the words are written down:

- spoken punctuation is applied ("the car comma then he ran full stop new paragraph" → "the
  car, then he ran." and a blank line), including Whisper's habit of writing the command as
  words with punctuation of its own ("the car, full stop. Then" → "the car. Then"); the first
  word of each sentence is capitalised;
- a dictated form header ("MG eleven, witness statement. Statement of Jane Smith. Age, over
  eighteen.") is left out: its items are extracted as fields, and the narrative starts where
  the account does (:attr:`Narrative.start_char`);
- hesitation sounds ("um", "erm") and exact stutters of short function words ("I I saw") go;
- numbers are written as a statement writes them (see :func:`write_numbers`).

Conventions for numbers and times:

- Whole numbers above ten said in words become digits ("twenty-nine" → "29", "the
  twenty-first" → "the 21st", "nineteen eighty-one" → "1981"); one to ten stay words.
- A time whose part of the day was said is written on the 24-hour clock, ``HH:MM``, the normal
  form of the statement contract: "quarter past ten at night" → "22:15", "fourteen ten hours"
  → "14:10", "10.15pm" → "22:15". A time said without it ("quarter past ten", "eight
  o'clock") is left as said: writing "10:15" would decide morning or night for the witness.
- A UK phone number read out digit by digit becomes digits ("oh seven seven double oh nine
  double oh one two three" → "07700 900123").
- Heights ("five foot eleven") are left as said.

Word lists are data in ``nlp/data/``: ``spoken_punctuation.txt`` (with
``spoken_punctuation_blockers.txt`` and ``spoken_punctuation_needs_pause.txt``),
``fillers.txt``, ``stutter_words.txt``, ``header_cues.txt`` and ``abbreviations.txt``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType

from nlp import lexicons
from nlp.mentions import EMAIL, POSTCODE, REGISTRATION, find_mentions
from nlp.normalise import (
    NUMBER_PATTERN,
    SMALL_PATTERN,
    TENS_PATTERN,
    UNIT_PATTERN,
    normalise_email,
    normalise_phone,
    normalise_postcode,
    normalise_registration,
    normalise_time,
    number_from_words,
    ordinal_from_words,
    word_alternation,
    year_from_words,
)


@dataclass(frozen=True)
class Narrative:
    """The statement body as it will be signed.

    ``start_char`` is where the body begins in the text it was composed from: after a dictated
    header that was left out, else at the first character that is not white space.
    """

    text: str
    start_char: int


# A sentence is a header item only when it is short: header items are lists of values, and a
# long sentence that happens to begin like one ("Address ...") is more likely the account.
MAX_HEADER_SENTENCE_WORDS = 40


def compose_narrative(
    text: str, *, max_header_sentence_words: int = MAX_HEADER_SENTENCE_WORDS
) -> Narrative:
    """The narrative of a transcript (or typed text).

    max_header_sentence_words: the longest leading sentence that can still be taken as a
    dictated header item; longer sentences always stay in the narrative.
    """
    tokens = _tokens(text)
    tokens = _apply_spoken_punctuation(tokens)
    body = _header_end(tokens, max_words=max_header_sentence_words)
    tokens = tokens[body:]
    tokens = _drop_fillers(tokens)
    tokens = _drop_stutters(tokens)
    start_char = next((t.start for t in tokens if t.kind != _BREAK), None)
    if start_char is None:
        start_char = len(text) - len(text.lstrip())
    return Narrative(text=write_numbers(_render(tokens)), start_char=start_char)


# ---------------------------------------------------------------------------------- tokens
_WORD, _PUNCT, _BREAK = "word", "punct", "break"
_PARAGRAPH, _LINE = "\n\n", "\n"
_OPEN_QUOTE, _CLOSE_QUOTE = "“", "”"
_TERMINAL = frozenset({".", "?", "!"})
# Punctuation a spoken command replaces when Whisper wrote it around the command as well.
_PAUSES = frozenset({",", ".", ";", ":", "...", "…"})
_ATTACH_LEFT = frozenset({",", ".", "?", "!", ";", ":", "...", "…", ")", "]", _CLOSE_QUOTE})
_ATTACH_RIGHT = frozenset({"(", "[", _OPEN_QUOTE})


@dataclass(frozen=True)
class _Token:
    kind: str  # _WORD, _PUNCT or _BREAK
    text: str
    start: int  # offset in the composed-from text

    @property
    def lower(self) -> str:
        return self.text.lower().replace("’", "'")


_CHUNK_RE = re.compile(r"\S+")
_LEADING_RE = re.compile(r'^[“"(\[]+')
_TRAILING_RE = re.compile(r'(?:\.{2,}|[.,?!;:”"…)\]])+$')
_PUNCT_PIECE_RE = re.compile(r'\.{2,}|[.,?!;:”"…)\]“(\[]')
_DOTTED_LETTERS_RE = re.compile(r"[a-z](?:\.[a-z])+", re.IGNORECASE)


def _keeps_its_dot(core: str) -> bool:
    """ "Mr." / "J." / "p.m.": the full stop belongs to the word, not to the sentence."""
    if (core.lower() + ".") in lexicons.lower_set("abbreviations"):
        return True
    if len(core) == 1 and core.isalpha() and core.lower() not in {"i", "a"}:
        return True  # an initial
    return bool(_DOTTED_LETTERS_RE.fullmatch(core))


def _tokens(text: str) -> list[_Token]:
    """Words (with what is inside them kept whole: "a.khan@example.org", "10.15pm", "O'Brien"),
    the punctuation around them, and paragraph breaks where the text has a blank line."""
    out: list[_Token] = []
    previous_end = 0
    for chunk in _CHUNK_RE.finditer(text):
        if out and re.search(r"\n[ \t\r]*\n", text[previous_end : chunk.start()]):
            out.append(_Token(_BREAK, _PARAGRAPH, chunk.start()))
        previous_end = chunk.end()
        s, offset = chunk.group(), chunk.start()
        lead = _LEADING_RE.match(s)
        lead_len = lead.end() if lead else 0
        trail = _TRAILING_RE.search(s, lead_len)
        trail_start = trail.start() if trail else len(s)
        core = s[lead_len:trail_start]
        if core and trail and trail.group().startswith(".") and _keeps_its_dot(core):
            trail_start += 1
            core += "."
        for piece in _PUNCT_PIECE_RE.finditer(s[:lead_len]):
            mark = _OPEN_QUOTE if piece.group() == '"' else piece.group()
            out.append(_Token(_PUNCT, mark, offset + piece.start()))
        if core:
            out.append(_Token(_WORD, core, offset + lead_len))
        for piece in _PUNCT_PIECE_RE.finditer(s, trail_start):
            mark = _CLOSE_QUOTE if piece.group() == '"' else piece.group()
            out.append(_Token(_PUNCT, mark, offset + piece.start()))
    return out


# ------------------------------------------------------------------------ spoken punctuation
@cache
def _phrases() -> Mapping[tuple[str, ...], str]:
    phrases = lexicons.mapping("spoken_punctuation")
    return MappingProxyType({tuple(k.split()): v for k, v in phrases.items()})


def _phrase_at(tokens: list[_Token], i: int) -> tuple[int, str] | None:
    """The longest spoken-punctuation phrase starting at word ``i``: (words in it, symbol)."""
    phrases = _phrases()
    longest = max(len(k) for k in phrases)
    for n in range(longest, 0, -1):
        words = tokens[i : i + n]
        if len(words) < n or any(t.kind != _WORD for t in words):
            continue
        symbol = phrases.get(tuple(t.lower for t in words))
        if symbol is not None:
            return n, symbol
    return None


def _next_index(tokens: list[_Token], i: int) -> int:
    """The first index at or after ``i`` that is not a pause mark."""
    while i < len(tokens) and tokens[i].kind == _PUNCT and tokens[i].text in _PAUSES | _TERMINAL:
        i += 1
    return i


def _is_command(tokens: list[_Token], i: int, n: int, symbol: str) -> bool:
    """Whether the phrase of ``n`` words at ``i`` is said as punctuation, not as a word."""
    before = tokens[i - 1] if i > 0 else None
    blockers = lexicons.lower_set("spoken_punctuation_blockers")
    if before is not None and before.kind == _WORD and before.lower in blockers:
        return False  # "came to a full stop", "the new line"
    phrase = " ".join(t.lower for t in tokens[i : i + n])
    if phrase in lexicons.lower_set("spoken_punctuation_needs_pause"):
        paused = before is None or before.kind != _WORD
        after = i + n
        followed_by_command = (
            after < len(tokens)
            and tokens[after].kind == _WORD
            and (_phrase_at(tokens, after) is not None)
        )
        if not (paused or followed_by_command or after >= len(tokens)):
            return False
        if before is None and after >= len(tokens):
            return False  # the whole text is the word
    if symbol == "QUOTE":
        return _closing_quote_follows(tokens, i + n)
    return True


def _closing_quote_follows(tokens: list[_Token], i: int) -> bool:
    """A bare "quote" opens a quotation only when "unquote"/"end quote" closes it later in the
    same paragraph ("he gave me a quote for the work" stays as said)."""
    while i < len(tokens):
        if tokens[i].kind == _BREAK and tokens[i].text == _PARAGRAPH:
            return False
        if tokens[i].kind == _WORD:
            found = _phrase_at(tokens, i)
            if found is not None:
                n, symbol = found
                if symbol == "CLOSE_QUOTE":
                    return True
                if symbol in {"QUOTE", "OPEN_QUOTE"}:
                    return False
                i += n
                continue
        i += 1
    return False


def _ends_in_word(out: list[_Token]) -> bool:
    return bool(out) and (out[-1].kind == _WORD or out[-1].text in {_CLOSE_QUOTE, ")", "]"})


def _apply_spoken_punctuation(tokens: list[_Token]) -> list[_Token]:
    out: list[_Token] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        found = _phrase_at(tokens, i) if token.kind == _WORD else None
        if found is None or not _is_command(tokens, i, *found):
            out.append(token)
            i += 1
            continue
        n, symbol = found
        start = token.start
        i = i + n
        if symbol in {"PARAGRAPH", "LINE"}:
            while out and out[-1].kind == _PUNCT and out[-1].text in _PAUSES - _TERMINAL:
                out.pop()
            if symbol == "PARAGRAPH" and _ends_in_word(out):
                out.append(_Token(_PUNCT, ".", start))  # a new paragraph ends the sentence
            if out and out[-1].kind != _BREAK:
                mark = _PARAGRAPH if symbol == "PARAGRAPH" else _LINE
                out.append(_Token(_BREAK, mark, start))
            i = _next_index(tokens, i)
        elif symbol == "OPEN_QUOTE" or symbol == "QUOTE":
            out.append(_Token(_PUNCT, _OPEN_QUOTE, start))
            while i < len(tokens) and tokens[i].kind == _PUNCT and tokens[i].text in _PAUSES:
                i += 1
        elif symbol == "CLOSE_QUOTE":
            while out and out[-1].kind == _PUNCT and out[-1].text in {",", ";", ":"}:
                out.pop()
            out.append(_Token(_PUNCT, _CLOSE_QUOTE, start))
        else:
            # Whisper often writes the command with punctuation of its own ("the car, full
            # stop. Then"): the said punctuation replaces what was written around it.
            while out and out[-1].kind == _PUNCT and out[-1].text in _PAUSES:
                out.pop()
            keep_written = bool(out) and out[-1].text in {"?", "!"} and symbol == "."
            if _ends_in_word(out) and not keep_written:
                out.append(_Token(_PUNCT, symbol, start))
            i = _next_index(tokens, i)
    while out and out[-1].kind == _BREAK:
        out.pop()
    return out


# ---------------------------------------------------------------------------------- header
def _sentences(tokens: list[_Token]) -> Iterator[tuple[int, int]]:
    """(start, end) token ranges of sentences: ended by . ? ! or a break."""
    start = 0
    for i, token in enumerate(tokens):
        if token.kind == _BREAK or (token.kind == _PUNCT and token.text in _TERMINAL):
            if any(t.kind == _WORD for t in tokens[start:i]):
                yield start, i + 1
            start = i + 1
    if any(t.kind == _WORD for t in tokens[start:]):
        yield start, len(tokens)


def _key(words: list[str]) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", " ".join(words).lower()).split())


_FIRST_PERSON = frozenset({"i", "i'm", "i've", "i'd", "i'll", "me", "my", "myself"})


def _is_header_item(tokens: list[_Token], *, max_words: int) -> bool:
    words = [t.lower for t in tokens if t.kind == _WORD]
    if not words or len(words) > max_words:
        return False
    if _FIRST_PERSON.intersection(words):
        return False  # "I", "my": the witness's own account, even if it begins "Address"
    key = _key(words)
    return any(key == cue or key.startswith(cue + " ") for cue in _header_cues())


@cache
def _header_cues() -> tuple[str, ...]:
    return tuple(_key([cue]) for cue in lexicons.words("header_cues"))


def _header_end(tokens: list[_Token], *, max_words: int) -> int:
    """The index of the first token after the leading header items (0 when there are none, and
    when every sentence would be header: then nothing is dropped rather than everything)."""
    end = 0
    for start, stop in _sentences(tokens):
        if not _is_header_item(tokens[start:stop], max_words=max_words):
            return end
        end = stop
    return 0


# ------------------------------------------------------------------------- fillers, stutters
def _drop_fillers(tokens: list[_Token]) -> list[_Token]:
    """Hesitation sounds go, with the commas written after them. A comma before one stays when
    it can end a clause ("Last Friday at night, um, I saw" → "..., I saw") but not after a short
    function word, where only the hesitation put it ("She's, um, about" → "She's about",
    ``stutter_words.txt``); "Um, so I went" → "So I went"."""
    fillers = lexicons.lower_set("fillers")
    function_words = lexicons.lower_set("stutter_words")
    hesitation_marks = {",", "...", "…"}
    out: list[_Token] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.kind != _WORD or token.lower not in fillers:
            out.append(token)
            i += 1
            continue
        i += 1
        while i < len(tokens) and tokens[i].kind == _PUNCT and tokens[i].text in hesitation_marks:
            i += 1
        before = [t for t in out[-3:] if t.kind == _WORD]
        after_function_word = not before or before[-1].lower in function_words
        while out and out[-1].kind == _PUNCT and out[-1].text in hesitation_marks:
            if after_function_word or out[-1].text != ",":
                out.pop()
            else:
                break
    return out


_HYPHEN_STUTTER_RE = re.compile(r"([a-z']+)-(?:\1)?", re.IGNORECASE)


def _drop_stutters(tokens: list[_Token]) -> list[_Token]:
    """ "I I saw", "the, the car", "I-I saw", "I- I saw" → one word, for short function words
    only (``stutter_words.txt``)."""
    stutter_words = lexicons.lower_set("stutter_words")
    out: list[_Token] = []
    for token in tokens:
        if token.kind == _WORD:
            m = _HYPHEN_STUTTER_RE.fullmatch(token.text)
            if m and m.group(1).lower() in stutter_words:
                # "I-I" is one "I"; "I-" (cut off) becomes "I" so the repeat check drops it
                token = _Token(_WORD, m.group(1), token.start)
            previous = out[-1] if out else None
            gap: _Token | None = None
            if previous is not None and previous.kind == _PUNCT and previous.text == ",":
                gap, previous = previous, out[-2] if len(out) >= 2 else None
            if (
                previous is not None
                and previous.kind == _WORD
                and previous.lower == token.lower
                and token.lower in stutter_words
            ):
                if gap is not None:
                    out.pop()
                continue  # the first said stays (with its capital at a sentence start)
        out.append(token)
    return out


# ---------------------------------------------------------------------------------- render
_LOWER_PRONOUN_I = frozenset({"i", "i'm", "i've", "i'd", "i'll"})


def _render(tokens: list[_Token]) -> str:
    parts: list[str] = []
    sentence_start = True
    glue_next = True  # no space before the next piece
    for token in tokens:
        if token.kind == _BREAK:
            parts.append(token.text)
            sentence_start, glue_next = True, True
            continue
        text = token.text
        if token.kind == _PUNCT:
            if text in _ATTACH_LEFT:
                parts.append(text)
                glue_next = False
            else:
                parts.append(text if glue_next else " " + text)
                glue_next = text in _ATTACH_RIGHT
            if text in _TERMINAL:
                sentence_start = True
            continue
        if token.lower in _LOWER_PRONOUN_I or (sentence_start and text[:1].islower()):
            text = text[:1].upper() + text[1:]
        parts.append(text if glue_next else " " + text)
        sentence_start, glue_next = False, False
    return "".join(parts).strip()


# --------------------------------------------------------------------------------- numbers
# between the words of one number: "twenty-nine", "twenty nine"
_SEP = r"(?:[ \t]*[-–][ \t]*|[ \t]+)"
_DAY_PART = (
    r"(?:[ \t]+(?:at[ \t]+night|in[ \t]+the[ \t]+(?:morning|afternoon|evening)"
    r"|(?:a\.m\.?|p\.m\.?|am|pm)(?![a-z])))"
)
# an hour and a part of the day with no minutes: a time only after "at", "about" ... or with am/pm
_HOUR_THEN_DAY_PART_RE = re.compile(
    rf"(?:{NUMBER_PATTERN})[ \t]+"
    rf"(?:(?P<ampm>a\.m\.?|p\.m\.?|am|pm)|at[ \t]+night|in[ \t]+the[ \t]+\w+)",
    re.IGNORECASE,
)
_DIGIT_TIME = r"(?:\d{1,2}(?:[:.]\d{2})?[ \t]*(?:a\.m\.?|p\.m\.?|am|pm)(?![a-z]))"
_HOUR = rf"(?:{NUMBER_PATTERN})"
_PHONE_WORD = rf"(?:oh|zero|nought|double|triple|treble|{TENS_PATTERN}|{SMALL_PATTERN}|\d{{1,5}})"
_PHONE_RE = re.compile(
    rf"\b{_PHONE_WORD}(?:(?:[ \t]*[,-][ \t]*|[ \t]+){_PHONE_WORD}){{6,}}\b", re.IGNORECASE
)
_ORDINALS = word_alternation(lexicons.int_mapping("ordinal_words"))
_CARDINALS = word_alternation(
    [w for w in lexicons.int_mapping("number_words") if w not in {"oh", "nought", "nil"}]
)
_NUMBER_ALTERNATIVES = "|".join(
    [
        # times: "quarter past ten at night", "ten o'clock in the morning", "ten thirty pm",
        # "fourteen ten hours", "10.15pm"
        rf"(?P<past_to>(?:a[ \t]+)?(?:quarter|half|{_HOUR}(?:[ \t]+minutes?)?)[ \t]+"
        rf"(?:past|after|to)[ \t]+{_HOUR}\b{_DAY_PART}?)",
        rf"(?P<oclock>{_HOUR}[ \t]+o['’]?[ \t]?clock{_DAY_PART}?)",
        rf"(?P<half>half[ \t]+{_HOUR}\b{_DAY_PART}?)",
        rf"(?P<hours>(?:oh|zero|{_HOUR})(?:{_SEP}(?:oh|zero|hundred|{_HOUR})){{1,2}}"
        rf"[ \t]+(?:hours|hrs)\b)",
        rf"(?P<digits>{_DIGIT_TIME})",
        rf"(?P<said>(?P<prep>(?:at|about|around|gone|after|before|until|till|by)[ \t]+)?"
        rf"{_HOUR}(?:{_SEP}(?:{TENS_PATTERN})(?:{_SEP}(?:{UNIT_PATTERN}))?|{_SEP}"
        rf"(?:{SMALL_PATTERN})|[ \t]+oh[ \t]+(?:{UNIT_PATTERN}))?{_DAY_PART})",
        # heights stay as said
        rf"(?P<height>{_HOUR}[ \t]+(?:foot|feet)(?:[ \t]+{_HOUR}\b)?)",
        rf"(?P<year_oh>(?:nineteen|twenty)[ \t]+oh[ \t]+(?:{UNIT_PATTERN}))",
        rf"(?P<ordinal>(?:(?:{TENS_PATTERN}){_SEP})?(?:{_ORDINALS}))",
        rf"(?P<cardinal>(?:a[ \t]+(?:hundred|thousand)|{_CARDINALS})"
        rf"(?:(?:{_SEP}|(?<=hundred)[ \t]+and[ \t]+|(?<=thousand)[ \t]+and[ \t]+)"
        rf"(?:{_CARDINALS}|hundred|thousand))*)",
    ]
)
# Tried left to right at each place: times first, then heights (kept), years, ordinals and
# last plain numbers, each ending at the end of a word.
_NUMBERS_RE = re.compile(rf"\b(?:{_NUMBER_ALTERNATIVES})(?![\w'’])", re.IGNORECASE)


def _ordinal_suffix(n: int) -> str:
    if 11 <= n % 100 <= 13:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def _phone(m: re.Match[str]) -> str:
    said = m.group()
    digits = normalise_phone(said)
    return f"{digits[:5]} {digits[5:]}" if digits else said


def _time(m: re.Match[str], said: str) -> str:
    """``said`` as ``HH:MM`` when the part of the day is known; as said otherwise."""
    kind = m.lastgroup
    has_day_part = kind in {"hours", "digits"} or re.search(rf"{_DAY_PART}$", said, re.IGNORECASE)
    if not has_day_part:
        return said
    lead = ""
    phrase = said
    if kind == "said":
        lead = m.group("prep") or ""
        phrase = said[len(lead) :]
        bare_hour = _HOUR_THEN_DAY_PART_RE.fullmatch(phrase)
        if not lead and bare_hour and not bare_hour.group("ampm"):
            return said  # "three in the evening were there": a count, not a time
    phrase = re.sub(r"^a[ \t]+", "", phrase, flags=re.IGNORECASE)
    clock = normalise_time(phrase)
    if clock is None:
        return said
    # "... at 10 p.m. Then": the abbreviation's dot also ended the sentence
    rest = m.string[m.end() :]
    if said.endswith(".") and (not rest.strip() or re.match(r"\s+[A-Z\n]", rest)):
        clock += "."
    return lead + clock


def _number(m: re.Match[str]) -> str:
    said = m.group()
    kind = m.lastgroup
    if kind in {"past_to", "oclock", "half", "hours", "digits", "said"}:
        return _time(m, said)
    if kind == "height":
        return said
    if kind == "year_oh":
        year = year_from_words(said)
        return str(year) if year else said
    if kind == "ordinal":
        value = ordinal_from_words(said)
        return f"{value}{_ordinal_suffix(value)}" if value and value > 10 else said
    value = number_from_words(said)
    if value is not None:
        return str(value) if value > 10 else said
    words = said.lower().replace("-", " ").split()
    if words[0] in {"nineteen", "twenty"} and len(words) <= 3:
        year = year_from_words(said)  # "nineteen eighty-one", "twenty twenty-six"
        if year is not None:
            return str(year)
    return said  # "one two three", "ten thirty": not one number, left as said


_CODE_WRITERS = {
    REGISTRATION: normalise_registration,
    POSTCODE: normalise_postcode,
    EMAIL: normalise_email,
}


def write_codes(text: str) -> str:
    """Registrations, postcodes and emails spelled out or read in the phonetic alphabet written
    as codes ("papa november fifteen, golf hotel echo" → "PN15 GHE"), as an officer types them."""
    out, pos = [], 0
    for mention in find_mentions(text):
        writer = _CODE_WRITERS.get(mention.label)
        written = writer(text[mention.start : mention.end]) if writer else None
        if written is None or mention.start < pos:
            continue
        out += [text[pos : mention.start], written]
        pos = mention.end
    return "".join(out) + text[pos:]


def write_numbers(text: str) -> str:
    """Numbers and times in ``text`` written as a statement writes them (see the module's
    conventions): codes as codes, digits above ten, 24-hour times where the part of the day
    was said, phone numbers read out as digits."""
    text = write_codes(text)
    text = _PHONE_RE.sub(_phone, text)
    return _NUMBERS_RE.sub(_number, text)
