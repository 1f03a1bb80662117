"""Names as the speaker spells them, one person's mentions taken together, and spellings to offer
when a name was not spelled.

Whisper ``tiny.en`` spells about one witness name in five exactly, so the extractor uses what the
speaker gives:

- a name spelled out letter by letter ("Ewa Wojcik, that's W O J C I K"; "spelt
  N-O-W-I-C-K-I"; "Foxtrot Echo Lima Lima" after "spelt"; "F E double L") replaces the heard word
  it spells (:func:`spelled_after`, :func:`spellings_in`, :meth:`HeardName.spelled_as`), there or
  anywhere else the same word was heard;
- mentions of one person ("Dean Harker ... Dean ... Mr Harker"; "Haley" and "Hayley", which
  sound the same) are one person, named in the spelled or the fullest form
  (:meth:`HeardName.same_person`, :meth:`HeardName.merged`);
- a name heard without a spelling is flagged for the officer to confirm with the witness
  (:func:`name_flags`), with listed names that sound the same ranked first
  (:func:`suggest_spellings`): ``data/names_first.txt`` and ``data/names_last.txt`` (US Census
  1990 name files, public domain; see ``scripts/make_names_lexicon.py``) and
  ``data/names_extra.txt`` (common British, Irish, South Asian and Polish names). A suggestion is
  never applied by the machine.

Sounding the same is sharing a Double Metaphone key (``Dilan``/``Dhillon`` ``TLN``,
``Luiz``/``Lewis`` ``LS``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache

import jellyfish
from metaphone import doublemetaphone

from models.statement import Field, Flag, Person
from nlp import lexicons
from nlp.normalise import title_case_name

# --------------------------------------------------------------------------------- spellings
# "that's", "spelt", "spelled as", "and that's spelt": what introduces a spelling.
_CUE_RE = re.compile(
    r"[\s,:;-]*(?:and\s+)?"
    r"(?:(?:that['’]?s|that is|it['’]?s|which is|surname|first name|name|so)\s+)?"
    r"(?:(?:spelt|spelled|spelling|spelt out|spelled out)\b[\s,:;-]*(?:as\s+)?)?",
    re.IGNORECASE,
)
# A cue on its own, for a spelling said away from the name ("my surname is spelt D H I ...",
# "reporting my son Jake Mawsen missing, that's M A W S O N").
_SPELT_RE = re.compile(r"\b(?:spelt|spelled|spelling|that['’]?s|that is)\b", re.IGNORECASE)
_SYMBOL_RE = re.compile(
    r"(?P<double>double|treble|triple)(?:[\s-]+|,\s*)(?P<repeated>[A-Za-z]+)|[A-Za-z]+",
    re.IGNORECASE,
)
_GAP_RE = re.compile(r"[\s,.\-–]*")
# A capitalised word: what a heard name word looks like in a transcript.
_NAME_WORD_RE = re.compile(r"\b[A-Z][a-z]+(?:['’-][A-Z]?[a-z]+)*\b")

# How the letter W is said after "double": "double U", "double you".
_U = frozenset({"u", "you"})
# Fewer letters than this is an initial or a word, not a spelling ("J. Smith", "a").
MIN_SPELLED_LETTERS = 3


@dataclass(frozen=True)
class Spelling:
    """A word spelled out: its letters, the characters it was said in and, when it was said
    right after a name word, that word as heard ("Woicik" in "Woicik, W O J C I K")."""

    letters: str
    start: int
    end: int
    heard: str | None = None


def _letter(word: str, *, cued: bool) -> str | None:
    """The letter a spoken word stands for: a capital letter alone ("N"), or after a cue also a
    lower-case letter or a phonetic-alphabet word ("november")."""
    if len(word) == 1 and word.isalpha() and (cued or word.isupper()):
        return word.upper()
    if cued:
        return lexicons.mapping("nato").get(word.lower())
    return None


def spelled_after(text: str, pos: int, *, within: int = 3) -> Spelling | None:
    """The spelling said right after ``pos`` (the end of a name), or ``None``.

    within: how many characters of pause (spaces, a comma) may come before the cue or the
    letters. Without a cue only capital letters count ("Wojcik, W O J C I K"); after one
    ("that's", "spelt") lower-case letters and phonetic-alphabet words count too, and a word of
    capitals alone is read as the spelling ("that's WOJCIK"). Letters run on by digits are a
    code (a registration, a postcode), not a spelling.
    """
    gap = _GAP_RE.match(text, pos)
    if gap is None or gap.end() - pos > within:
        return None
    cue = _CUE_RE.match(text, pos)
    cued = cue is not None and bool(re.search(r"[A-Za-z]", cue.group()))
    at = cue.end() if cued and cue is not None else gap.end()
    letters: list[str] = []
    start = end = at
    dotted: bool | None = None  # "N. O. W.": dots between letters; else a dot ends the spelling
    while (m := _SYMBOL_RE.match(text, at)) is not None:
        if m.group("double"):
            if m.group("double").lower() == "double" and m.group("repeated").lower() in _U:
                letters.append("W")  # "double U" (Whisper: "double-u", "double you") is W
            elif (letter := _letter(m.group("repeated"), cued=cued)) is not None:
                letters.append(letter * (2 if m.group("double").lower() == "double" else 3))
            else:
                break
        else:
            word = m.group()
            letter = _letter(word, cued=cued)
            if word in {"a", "i"} and letters and "," in text[end:at]:
                break  # "spelt W A double L, a nurse": the word "a" after a pause
            if dotted and not re.match(r"\.|\s*(?:[,;:!?]|$)", text[m.end() :]):
                break  # "D. U. N. N. I saw": the undotted "I" is the next sentence's word
            if letter is None:
                if cued and not letters and word.isupper() and len(word) >= MIN_SPELLED_LETTERS:
                    letters.append(word)  # "that's WOJCIK": Whisper wrote the letters as one
                    end = m.end()
                break
            letters.append(letter)
        end = m.end()
        gap = _GAP_RE.match(text, end)
        assert gap is not None
        has_dot = "." in gap.group()
        if dotted is None:
            dotted = has_dot
        elif has_dot and not dotted:
            break  # "... C K I. I live": the sentence ended
        at = gap.end()
    spelled = "".join(letters)
    if len(spelled) < MIN_SPELLED_LETTERS or _number_follows(text, end):
        return None
    return Spelling(spelled, start, end)


def _number_follows(text: str, pos: int) -> bool:
    """Whether a number comes right after ``pos``: letters run on by a number are a code (a
    registration, "Papa Alpha Tango Eleven"), not a spelling."""
    m = re.match(r"[\s,-]*(\d|[A-Za-z]+)", text[pos:])
    if m is None:
        return False
    return m.group(1).isdigit() or m.group(1).lower() in lexicons.int_mapping("number_words")


def spellings_in(text: str) -> list[Spelling]:
    """Every spelling in ``text``: those said right after a capitalised word (with that word as
    ``heard``), and those after "spelt", "spelled" or "that's" with no name right before them
    ("reporting my son Jake Mawsen missing, that's M A W S O N")."""
    found: dict[int, Spelling] = {}
    for m in _NAME_WORD_RE.finditer(text):
        spelling = spelled_after(text, m.end())
        if spelling is not None:
            found.setdefault(spelling.start, replace(spelling, heard=m.group()))
    for m in _SPELT_RE.finditer(text):
        spelling = spelled_after(text, m.start())
        if spelling is not None:
            found.setdefault(spelling.start, spelling)
    return sorted(found.values(), key=lambda s: s.start)


@cache
def _surname_cue_re() -> re.Pattern[str]:
    cues = "|".join(
        re.escape(c).replace(r"\ ", r"\s+")
        for c in sorted(lexicons.words("surname_cues"), key=len, reverse=True)
    )
    return re.compile(
        # "Colin, surname Coutts"; "Colin. My surname is Coutts" (a new sentence says whose)
        rf"(?:[\s,;:-]*(?:and\s+)?(?:(?:my|her|his|their|the)\s+)?|[\s.]+my\s+)(?:{cues})\b"
        r"(?:\s+is|['’]s)?[\s,:-]*",
        re.IGNORECASE,
    )


def surname_after(text: str, pos: int) -> int | None:
    """Where a surname said right after a first name starts ("Colin, surname Coutts";
    "Priya and my last name is Shaw"): after the cue, at ``pos`` or a pause later. ``None``
    when no cue follows."""
    m = _surname_cue_re().match(text, pos)
    return m.end() if m is not None else None


# ------------------------------------------------------------------------- sounding the same
@cache
def phonetic_keys(word: str) -> frozenset[str]:
    """The Double Metaphone keys of ``word`` (one or two; empty for a word with no sounds)."""
    return frozenset(k for k in doublemetaphone(word) if k)


def similarity(a: str, b: str) -> float:
    """How alike two spellings are (Jaro-Winkler, case ignored): 1.0 is the same."""
    return jellyfish.jaro_winkler_similarity(a.lower(), b.lower())


# Below this Jaro-Winkler similarity two words that sound alike are still two names.
SAME_WORD_SIMILARITY = 0.85
# Shorter words than this are one name only when spelled the same: the phonetic key leaves out
# vowels, which is all that tells "Dean" from "Dan", "Jon" from "Joan" or "Rob" from "Rab".
MIN_SOUND_ALIKE_LETTERS = 5


def same_word(heard: str, other: str) -> bool:
    """Whether two heard words are one name word: equal (case ignored), or, when long enough,
    sounding the same and spelled much alike ("Haley"/"Hayley", "Sutclife"/"Sutcliffe"). A
    hyphenated name counts each part ("Mary" is a word of "Mary-Jane")."""
    a, b = heard.lower(), other.lower()
    if a == b or a in b.split("-") or b in a.split("-"):
        return True
    return (
        min(len(a), len(b)) >= MIN_SOUND_ALIKE_LETTERS
        and bool(phonetic_keys(a) & phonetic_keys(b))
        and similarity(a, b) >= SAME_WORD_SIMILARITY
    )


def written_as_name(letters: str, *, heard: str | None = None) -> str:
    """Spelled letters written as a name: as heard when the speaker spelled the word heard
    ("McLeod", M C L E O D), else in title case with a capital after Mc ("Mcgarry" is
    "McGarry")."""
    if heard is not None and heard.lower() == letters.lower():
        return heard
    name = title_case_name(letters.lower())
    if name.startswith("Mc") and len(name) > 3:
        name = "Mc" + name[2:].capitalize()
    return name


# -------------------------------------------------------------------------- a heard name
@dataclass(frozen=True)
class HeardName:
    """A person's name as heard: its words, and which of them the speaker spelled."""

    words: tuple[str, ...]
    spelled: frozenset[int] = field(default_factory=frozenset)

    @classmethod
    def of(cls, said: str) -> HeardName:
        """The name in ``said``, titles ("Mr") and punctuation left out, written as a name."""
        titles = lexicons.lower_set("name_titles")
        words = [w for w in re.split(r"[^\w'’-]+", said) if w and w.lower() not in titles]
        return cls(tuple(title_case_name(w) for w in words))

    @property
    def text(self) -> str:
        return " ".join(self.words)

    @property
    def is_spelled(self) -> bool:
        """Whether the speaker spelled any of it (the name is then not flagged)."""
        return bool(self.spelled)

    def _closest(self, spelling: Spelling) -> int:
        """The word a spelling spells: the heard word said right before it if it is in the name,
        else the word that sounds and looks most like it (the later on a tie: a spelling
        mostly follows the surname)."""
        if spelling.heard is not None:
            for i, word in enumerate(self.words):
                if word.lower() == spelling.heard.lower():
                    return i
        return max(
            range(len(self.words)),
            key=lambda i: (
                bool(phonetic_keys(self.words[i]) & phonetic_keys(spelling.letters)),
                similarity(self.words[i], spelling.letters),
                i,
            ),
        )

    def spelled_as(self, spelling: Spelling) -> HeardName:
        """The name with the word the spelling spells replaced by it ("Ewa Woicik" + WOJCIK →
        "Ewa Wojcik")."""
        if not self.words:
            return self
        i = self._closest(spelling)
        words = list(self.words)
        words[i] = written_as_name(spelling.letters, heard=words[i])
        return HeardName(tuple(words), self.spelled | {i})

    def respelled(self, spelling: Spelling) -> HeardName:
        """The name with every word that is the one heard before a spelling said elsewhere
        replaced by it ("Haley Brooke" + "Hayley, H A Y L E Y" → "Hayley Brooke"). A
        spelling with no word before it ("my surname is spelt D H I L L O N") replaces the word
        that sounds the same as it and is most like it ("Dilan"). Unchanged when no word is."""
        spelled_word = written_as_name(spelling.letters)
        words, spelled = list(self.words), set(self.spelled)
        if spelling.heard is not None:
            targets = [i for i, w in enumerate(words) if same_word(spelling.heard, w)]
        else:
            sounding = [
                i for i, w in enumerate(words) if phonetic_keys(w) & phonetic_keys(spelled_word)
            ]
            targets = sorted(sounding, key=lambda i: similarity(words[i], spelled_word))[-1:]
        for i in targets:
            if i not in spelled:
                words[i] = spelled_word
                spelled.add(i)
        return HeardName(tuple(words), frozenset(spelled))

    def _pairs(self, other: HeardName) -> list[tuple[int, int]] | None:
        """Each word of this name paired with a different word of ``other`` in order, or
        ``None`` when one has no partner."""
        pairs: list[tuple[int, int]] = []
        j = 0
        for i, word in enumerate(self.words):
            while j < len(other.words) and not same_word(word, other.words[j]):
                j += 1
            if j == len(other.words):
                return None
            pairs.append((i, j))
            j += 1
        return pairs

    def part_of(self, other: HeardName) -> bool:
        """Whether every word of this name is a word of ``other``, in the same order ("Dean"
        and "Harker" of "Dean Harker"; "Haley" of "Hayley Brooke")."""
        return (
            bool(self.words)
            and len(self.words) <= len(other.words)
            and (self._pairs(other) is not None)
        )

    def same_person(self, other: HeardName) -> bool:
        """Whether two mentions name one person: the shorter is :meth:`part_of` the longer."""
        shorter, longer = sorted((self, other), key=lambda n: len(n.words))
        return shorter.part_of(longer)

    def merged(self, other: HeardName) -> HeardName:
        """One name for two mentions of one person: the fuller (the earlier on a tie), with
        each word the other spelled taken from it."""
        base, extra = (other, self) if len(other.words) > len(self.words) else (self, other)
        pairs = extra._pairs(base)
        if pairs is None:
            return base
        words, spelled = list(base.words), set(base.spelled)
        for i, j in pairs:
            if i in extra.spelled and j not in spelled:
                words[j] = extra.words[i]
                spelled.add(j)
        return HeardName(tuple(words), frozenset(spelled))


# --------------------------------------------------------------------------------- lexicon
@dataclass(frozen=True)
class _Listed:
    name: str
    rank: int  # frequency rank in its file, 1 the most common
    kind: str  # "first" or "last"


# The rank given to a hand-listed name: as common as a census name of this rank.
EXTRA_NAME_RANK = 200


@cache
def _lexicon() -> Mapping[str, tuple[_Listed, ...]]:
    """Listed names by Double Metaphone key (each under both its keys). Built on first use
    (about half a second) and kept."""
    by_key: defaultdict[str, list[_Listed]] = defaultdict(list)

    def add(entry: _Listed) -> None:
        for key in phonetic_keys(entry.name):
            by_key[key].append(entry)

    for kind in ("first", "last"):
        for line in lexicons.words(f"names_{kind}"):
            name, rank = line.split()
            add(_Listed(name, int(rank), kind))
    for line in lexicons.words("names_extra"):
        name, kind = line.split()
        add(_Listed(name, EXTRA_NAME_RANK, kind))
    return {k: tuple(v) for k, v in by_key.items()}


def suggest_spellings(word: str, *, kind: str | None = None, limit: int = 5) -> tuple[str, ...]:
    """Listed names that sound like ``word`` (a Double Metaphone key in common), ranked: the
    same main key first, then names of ``kind`` ("first" or "last": where the word stands in
    the name), then the most alike in spelling, then the most common. ``word`` itself is left
    out; empty when no listed name sounds like it.

    limit: how many to return at most.
    """
    by_key = _lexicon()
    primary = doublemetaphone(word)[0]
    best: dict[str, tuple[bool, bool, float, int]] = {}
    for key in phonetic_keys(word):
        for entry in by_key.get(key, ()):
            if entry.name.lower() == word.lower():
                continue
            score = (
                primary in phonetic_keys(entry.name),
                kind is None or entry.kind == kind,
                round(similarity(entry.name, word), 2),
                -entry.rank,
            )
            if entry.name not in best or score > best[entry.name]:
                best[entry.name] = score
    return tuple(sorted(best, key=lambda n: best[n], reverse=True)[:limit])


@cache
def _listed() -> frozenset[str]:
    """Every listed name, lower-cased."""
    return frozenset(e.name.lower() for entries in _lexicon().values() for e in entries)


def name_suggestions(name: str, *, limit: int = 5) -> tuple[str, ...]:
    """Whole-name spellings to offer for a heard name, each with one word changed and the rest
    as heard. The words take turns, best alternative first: first the words not in the names
    lists (most likely misheard), then the listed ones; the surname before the others."""
    words = name.split()
    order = sorted(
        reversed(range(len(words))), key=lambda i: words[i].lower() in _listed()
    )  # stable: the surname first within each group
    # a first name is spelled as a first name; a surname may be any name ("Dylan", "Thomas")
    ranked = [
        suggest_spellings(words[i], kind=None if i == len(words) - 1 and i else "first")
        for i in order
    ]
    out: list[str] = []
    for turn in range(max((len(r) for r in ranked), default=0)):
        for i, alternatives in zip(order, ranked, strict=True):
            if turn < len(alternatives):
                out.append(" ".join([*words[:i], alternatives[turn], *words[i + 1 :]]))
    return tuple(out[:limit])


# ------------------------------------------------------------------------------------ flags
# The fields that hold a person's name.
NAME_FIELDS = ("witness.name", "missing.name")


def name_flags(
    fields: Mapping[str, Field], persons: Iterable[Person], *, spelled: Iterable[str] = ()
) -> list[Flag]:
    """A ``confirm_spelling`` flag for every name the speaker did not spell (the name fields,
    then each person), on the words it was heard in, with up to five listed spellings that
    sound the same for the officer to offer the witness (never applied).

    spelled: the names (values) the speaker spelled, as the rules recorded them.
    """
    done = set(spelled)
    named: list[tuple[str | None, str, int, int]] = [
        (name, str(f.value), f.start_char, f.end_char)
        for name, f in fields.items()
        if name in NAME_FIELDS and f.source != "spelled"
    ]
    named += [(None, p.name, p.start_char, p.end_char) for p in persons]
    return [
        Flag(
            kind="confirm_spelling",
            field=field_name,
            reason=f"{value!r} was not spelled out: confirm the spelling with the witness",
            start_char=start,
            end_char=end,
            suggestions=name_suggestions(value),
        )
        for field_name, value, start, end in named
        if value not in done
    ]
