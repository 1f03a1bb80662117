"""A recording with two voices: who is the officer, and the statement drafted from the witness's
answers.

A diarised transcript (``Transcript.turns`` and ``Transcript.speakers``, filled by the audio side)
says which voice said which words. This module does the language side:

- :func:`propose_roles`: when no voice was recognised as the officer's enrolled voice, the voice
  that asked most of the questions is proposed as the officer and the voice that spoke most of
  the rest as the witness (``role_basis`` "questions", not confirmed: the officer must confirm).
- :func:`group_exchanges`: the turns as officer question(s) followed by witness answer(s).
- :func:`draft_dialogue`: the statement. For ``mg11`` and ``missing_person`` the narrative is
  drafted from the witness's answers only, in the first person, one sentence (or more, as said)
  per answer and none of the officer's words. An answer that means nothing without its question
  ("Twenty nine.") is framed by it ("I am 29 years old."), by the question frames kept as data in
  ``nlp/data/patterns/question_frames.jsonl``; an answer that is already a sentence is kept as
  said. Fields are extracted from that narrative, so their ``start_char``/``end_char`` index it,
  and their times and confidence come from the witness's own words (frame words carry none).
  For ``interview_record`` the narrative is the whole recording as a timed, speaker-labelled
  transcript, every voice, never condensed; the fields are still read from the witness's answers
  as above, as an index for the case builder, and point into that record.

Question frames (one JSON object a line, tried in order, the first whose ``question`` regular
expression is found in the question wins): ``frame`` is the first-person sentence with
``{answer}`` where the answer goes; ``bare`` (optional) is used instead when the answer already
starts with a preposition or a word of when (``answer_leads.txt``: "yesterday", "at the park");
``lower`` lower-cases the answer's first word unless it is a name; ``field`` names the field the
question asks for, read straight from the answer when the sentence rules did not find it. A named
group ``who`` in the question (he/she/they/him/her/them) gives ``{subject}``, ``{object}``,
``{is}`` and ``{was}``; other named groups are used as they are (a capitalised placeholder,
``{Whose}``, capitalises the value).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import cache
from typing import TYPE_CHECKING, Any

from models.statement import Exchange, Field, Flag, Statement, Template
from models.transcript import OFFICER, UNKNOWN, WITNESS, Speaker, Transcript, Turn, Word
from nlp import lexicons
from nlp.mentions import POSTCODE, REGISTRATION
from nlp.narrative import compose_narrative
from nlp.normalise import MONTHS, WEEKDAYS, normalise_address, normalise_postcode
from nlp.rules import Rule
from nlp.rules.context import Context, Found, name_at, spelled_name
from nlp.timing import LocatedWord, locate_words

if TYPE_CHECKING:
    from nlp.extractor import Extractor

# How a role was decided (models.transcript.Speaker.role_basis).
ENROLLED_VOICE = "enrolled_voice"
OFFICER_CONFIRMED = "officer_confirmed"
QUESTIONS = "questions"
NO_BASIS = "none"
_DECIDED = frozenset({ENROLLED_VOICE, OFFICER_CONFIRMED})

_SENTENCE_RE = re.compile(r"[^.?!]+[.?!]*")
_WORD_RE = re.compile(r"[a-z]+(?:['’][a-z]+)?")
_EDGE_PUNCT = " \t\n.,;:!?\"“”'‘’()[]…-"
_TERMINAL = (".", "?", "!")
# Seconds a word's timestamps may stray outside its turn and still belong to it (the audio side
# cuts turns from the same timestamps, so only rounding separates them).
_TURN_SLACK_S = 0.05
# Between two words of an answer there is at most a comma or a hesitation; further than this, a
# word is not looked for (it was rewritten: "twenty nine" → "29") and gets the gap it left.
_MAX_GAP = 24


# ------------------------------------------------------------------------------ questions
def is_question(sentence: str) -> bool:
    """A sentence ending "?", or starting with a question word ("what", "did", "could" ... in
    ``question_words.txt``) after a lead-in ("and", "okay"), or "and your ..."."""
    sentence = sentence.strip()
    if not sentence:
        return False
    if sentence.endswith("?"):
        return True
    words = _WORD_RE.findall(sentence.lower().replace("’", "'"))
    if len(words) >= 2 and words[0] == "and" and words[1] == "your":
        return True  # "And your date of birth."
    lead_ins = lexicons.lower_set("question_lead_ins")
    while words and words[0] in lead_ins:
        words = words[1:]
    return bool(words) and words[0] in lexicons.lower_set("question_words")


def _sentences(text: str) -> list[str]:
    return [m.group().strip() for m in _SENTENCE_RE.finditer(text) if m.group().strip()]


def count_questions(text: str) -> int:
    """How many of the sentences of ``text`` are questions (:func:`is_question`)."""
    return sum(is_question(s) for s in _sentences(text))


def question_counts(transcript: Transcript) -> dict[str, int]:
    """The number of questions each voice asked, by speaker id (every speaker, 0 included)."""
    counts = {s.id: 0 for s in transcript.speakers}
    for turn in transcript.turns:
        counts[turn.speaker] = counts.get(turn.speaker, 0) + count_questions(turn.text)
    return counts


def _speech_seconds(transcript: Transcript) -> dict[str, float]:
    """Seconds each voice spoke: ``Speaker.speech_s``, or its turns' lengths when not given."""
    from_turns: dict[str, float] = {}
    for turn in transcript.turns:
        from_turns[turn.speaker] = from_turns.get(turn.speaker, 0.0) + max(
            turn.end - turn.start, 0.0
        )
    return {s.id: s.speech_s or from_turns.get(s.id, 0.0) for s in transcript.speakers}


def propose_roles(transcript: Transcript) -> Transcript:
    """``transcript`` with each voice's role decided or proposed, and every turn's role set.

    A role decided by voice (``role_basis`` "enrolled_voice" or "officer_confirmed") is kept.
    When no voice is the officer by voice, the voice that asked the most questions is proposed
    as the officer (``role_basis`` "questions", not confirmed); a tie, or no questions at all,
    proposes nobody (every undecided voice "unknown"). When there is an officer, the other voice
    that spoke most is the witness: with the officer's own ``role_basis`` when the officer was
    decided (confirmed only when it is the one other voice), "questions" when the officer was
    proposed. Any further voice is "unknown". ``Speaker.questions`` is counted
    afresh. A transcript that was not diarised is returned unchanged.
    """
    if not transcript.diarised:
        return transcript
    counts = question_counts(transcript)
    speech = _speech_seconds(transcript)
    decided = {s.id: s for s in transcript.speakers if s.role_basis in _DECIDED}
    roles: dict[str, Speaker] = {}
    for s in transcript.speakers:
        if s.id in decided:
            roles[s.id] = replace(s, questions=counts.get(s.id, 0))
        else:
            roles[s.id] = replace(
                s,
                role=UNKNOWN,
                role_basis=NO_BASIS,
                confirmed=False,
                questions=counts.get(s.id, 0),
                speech_s=speech.get(s.id, 0.0),
            )
    undecided = [s.id for s in transcript.speakers if s.id not in decided]
    officer = next((s for s in decided.values() if s.role == OFFICER), None)
    officer_by_voice = officer is not None
    if officer is None and undecided:
        ranked = sorted(undecided, key=lambda i: counts.get(i, 0), reverse=True)
        most = counts.get(ranked[0], 0)
        if most > 0 and (len(ranked) == 1 or counts.get(ranked[1], 0) < most):
            roles[ranked[0]] = replace(
                roles[ranked[0]], role=OFFICER, role_basis=QUESTIONS, confirmed=False
            )
            undecided.remove(ranked[0])
            officer = roles[ranked[0]]
    has_witness = any(s.role == WITNESS for s in decided.values())
    if officer is not None and not has_witness and undecided:
        witness = max(undecided, key=lambda i: speech.get(i, 0.0))
        roles[witness] = replace(
            roles[witness],
            role=WITNESS,
            # decided with the officer: by their enrolled voice, or by the officer's say
            role_basis=officer.role_basis if officer_by_voice else QUESTIONS,
            confirmed=officer_by_voice and len(undecided) == 1,
        )
    speakers = tuple(roles[s.id] for s in transcript.speakers)
    role_of = {s.id: s.role for s in speakers}
    turns = tuple(replace(t, role=role_of.get(t.speaker, UNKNOWN)) for t in transcript.turns)
    return replace(transcript, speakers=speakers, turns=turns)


# ------------------------------------------------------------------------------ exchanges
@dataclass(frozen=True)
class _Block:
    """Consecutive turns of one role, merged, with the words said in them."""

    role: str
    turns: tuple[Turn, ...]
    words: tuple[Word, ...]

    @property
    def text(self) -> str:
        return " ".join(t.text.strip() for t in self.turns if t.text.strip())

    @property
    def start(self) -> float:
        return self.turns[0].start

    @property
    def end(self) -> float:
        return self.turns[-1].end


@dataclass(frozen=True)
class _QA:
    question: _Block | None
    answer: _Block


def _turn_words(turn: Turn, words: Sequence[Word]) -> tuple[Word, ...]:
    return tuple(
        w
        for w in words
        if (w.speaker is None or w.speaker == turn.speaker)
        and w.start >= turn.start - _TURN_SLACK_S
        and w.end <= turn.end + _TURN_SLACK_S
    )


def _blocks(transcript: Transcript) -> list[_Block]:
    """The turns in order, consecutive turns of the same role merged (an unknown voice's turns
    merge only with the same voice's)."""
    words = transcript.words
    blocks: list[_Block] = []
    for turn in transcript.turns:
        said = _turn_words(turn, words)
        last = blocks[-1] if blocks else None
        same = last is not None and last.role == turn.role
        if same and last is not None and turn.role == UNKNOWN:
            same = last.turns[-1].speaker == turn.speaker
        if same and last is not None:
            blocks[-1] = _Block(turn.role, (*last.turns, turn), last.words + said)
        else:
            blocks.append(_Block(turn.role, (turn,), said))
    return blocks


def _exchanges(transcript: Transcript) -> list[_QA]:
    """Witness answers with the officer question before each (None when the witness spoke
    unprompted). An unknown voice in between does not break an exchange; a question the witness
    did not answer before the officer spoke again gives no exchange."""
    out: list[_QA] = []
    question: _Block | None = None
    for block in _blocks(transcript):
        if block.role == OFFICER:
            question = block
        elif block.role == WITNESS:
            out.append(_QA(question, block))
            question = None
    return out


def _exchange(qa: _QA, narrative_span: tuple[int, int] | None) -> Exchange:
    q = qa.question
    return Exchange(
        answer=qa.answer.text,
        answer_start_s=qa.answer.start,
        answer_end_s=qa.answer.end,
        question=q.text if q is not None else None,
        question_start_s=q.start if q is not None else None,
        question_end_s=q.end if q is not None else None,
        narrative_start_char=narrative_span[0] if narrative_span else None,
        narrative_end_char=narrative_span[1] if narrative_span else None,
    )


def group_exchanges(transcript: Transcript) -> list[Exchange]:
    """The recording's exchanges (roles as the transcript has them; see :func:`propose_roles`),
    without narrative positions."""
    return [_exchange(qa, None) for qa in _exchanges(transcript)]


# --------------------------------------------------------------------------------- frames
@dataclass(frozen=True)
class QuestionFrame:
    """One entry of ``question_frames.jsonl`` (see the module docstring)."""

    id: str
    question: re.Pattern[str]
    frame: str
    bare: str | None = None
    lower: bool = False
    field: str | None = None


@cache
def question_frames() -> tuple[QuestionFrame, ...]:
    frames = []
    for entry in lexicons.patterns("question_frames"):
        frames.append(
            QuestionFrame(
                id=entry["id"],
                question=re.compile(entry["question"], re.IGNORECASE),
                frame=entry["frame"],
                bare=entry.get("bare"),
                lower=bool(entry.get("lower", False)),
                field=entry.get("field"),
            )
        )
    return tuple(frames)


def match_frame(question: str) -> tuple[QuestionFrame, re.Match[str]] | None:
    """The frame for the last question the officer asked in ``question`` (the whole of it when
    no sentence reads as one)."""
    asked = [s for s in _sentences(question) if is_question(s)] or [question]
    for sentence in reversed(asked):
        for frame in question_frames():
            m = frame.question.search(sentence.replace("’", "'"))
            if m is not None:
                return frame, m
    return None


_PRONOUNS = {  # said in the question → (subject, object, is, was)
    "he": ("he", "him", "is", "was"),
    "him": ("he", "him", "is", "was"),
    "she": ("she", "her", "is", "was"),
    "her": ("she", "her", "is", "was"),
    "they": ("they", "them", "are", "were"),
    "them": ("they", "them", "are", "were"),
}


def _placeholders(m: re.Match[str]) -> dict[str, str]:
    values = {k: v.lower() for k, v in m.groupdict().items() if v}
    who = values.pop("who", None)
    if who in _PRONOUNS:
        subject, obj, is_, was = _PRONOUNS[who]
        values.update(subject=subject, object=obj, **{"is": is_, "was": was})
    values.update({k[:1].upper() + k[1:]: v[:1].upper() + v[1:] for k, v in list(values.items())})
    return values


# ---------------------------------------------------------------------------------- drafting
# A sentence starts with one of these when it already says who: kept as said.
_FULL_SENTENCE_STARTS = frozenset(
    {
        *("i", "i'm", "i've", "i'd", "i'll", "my", "we", "we're", "we've", "we'd"),
        *("he", "he's", "he'd", "she", "she's", "she'd", "it", "it's"),
        *("they", "they're", "they've", "they'd", "there", "there's", "that's"),
    }
)
_FINITE_TAGS = frozenset({"VBD", "VBZ", "VBP", "MD"})
_CLOSED_CLASS = frozenset({"DET", "ADP", "ADV", "CCONJ", "SCONJ", "PART", "NUM", "INTJ", "PRON"})
_PROPER_WORDS = frozenset(m.lower() for m in [*MONTHS, *WEEKDAYS])


@dataclass(frozen=True)
class _Drafted:
    qa: _QA
    sentence: str  # "" when the answer was only hesitation
    answer_at: tuple[int, int]  # the answer's characters in ``sentence``
    frame: QuestionFrame | None
    unframed_fragment: bool  # a bare fragment no frame fits: it needs its question


# An answer's first words that only point back at the question ("It's ...", "That's ...",
# "Yes, ..."): dropped when the rest is framed by the question ("My address is ...").
_POINTING_LEAD = re.compile(
    r"(?:(?:yes|yeah|right|ok|okay)[,.]?\s+)?(?:it's|it is|that's|that is|it was|that was)\s+",
    re.IGNORECASE,
)


def _tagged(extractor: Extractor, text: str) -> Any:
    """``text`` through the tagger only (not the whole pipeline: a fragment needs no entities).
    ``disable`` is per call, so a shared extractor is not changed for other threads."""
    keep = {"tok2vec", "tagger", "attribute_ruler"}
    return extractor.nlp(text, disable=[n for n in extractor.nlp.pipe_names if n not in keep])


def _is_fragment(doc: Any) -> bool:
    words = [t for t in doc if not t.is_punct and not t.is_space]
    if not words:
        return False
    first = words[0].text.lower().replace("’", "'")
    if first in _FULL_SENTENCE_STARTS or (
        len(words) > 1 and f"{first}{words[1].text.lower()}" in _FULL_SENTENCE_STARTS
    ):
        return False
    return not any(t.tag_ in _FINITE_TAGS for t in words)


def _words_of(text: str) -> list[str]:
    return [w.strip(_EDGE_PUNCT).lower() for w in text.split() if w.strip(_EDGE_PUNCT)]


def _drop_overlap(prefix: str, core: str, suffix: str) -> tuple[str, str]:
    """The frame's own words that the answer repeats, dropped from the frame ("I live at" +
    "at 14 Lowther Street"; "years old" + "29 years old"): the answer's words are evidence and
    stay."""
    head, tail = prefix.split(), _words_of(core)
    for k in range(min(len(head), len(tail), 3), 0, -1):
        if [w.strip(_EDGE_PUNCT).lower() for w in head[-k:]] == tail[:k]:
            prefix = " ".join(head[:-k]) + " " if head[:-k] else ""
            break
    end = suffix.rstrip(".!?")
    said, rest = end.split(), suffix[len(end) :]
    for k in range(min(len(said), len(tail), 3), 0, -1):
        if [w.lower() for w in said[:k]] == tail[-k:]:
            suffix = (" " + " ".join(said[k:]) if said[k:] else "") + rest
            break
    return prefix, suffix


def _frame_answer(
    extractor: Extractor, frame: QuestionFrame, m: re.Match[str], core: str
) -> tuple[str, tuple[int, int]] | None:
    """``core`` (the answer without its final full stop) put in ``frame``: the sentence and where
    the answer is in it. None when the frame does not fit (an answer starting with a verb form
    the frame does not end with: "Walking home")."""
    doc = _tagged(extractor, core)
    first = next((t for t in doc if not t.is_punct), None)
    if first is None:
        return None
    first_lower = first.text.lower()
    template = frame.frame
    if frame.bare is not None and first_lower in lexicons.lower_set("answer_leads"):
        template = frame.bare
    before, _, after = template.partition("{answer}")
    values = _placeholders(m)
    try:
        prefix, suffix = before.format_map(values), after.format_map(values)
    except KeyError:
        return None  # a placeholder the question did not give: keep the answer as said
    if first.tag_ in {"VBG", "VBN"} and not prefix.lower().rstrip().endswith(first_lower):
        return None
    name_like = first.pos_ == "PROPN" or first_lower in _PROPER_WORDS or first.text == "I"
    if not name_like and (frame.lower or first.pos_ in _CLOSED_CLASS):
        core = core[: first.idx] + core[first.idx].lower() + core[first.idx + 1 :]
    prefix, suffix = _drop_overlap(prefix, core, suffix)
    if not suffix.endswith(_TERMINAL):
        suffix += "."
    sentence = prefix + core + suffix
    if prefix:
        sentence = sentence[0].upper() + sentence[1:]
    return sentence, (len(prefix), len(prefix) + len(core))


def _draft(extractor: Extractor, qa: _QA) -> _Drafted:
    composed = compose_narrative(qa.answer.text).text.strip()
    if not composed:
        return _Drafted(qa, "", (0, 0), None, False)
    if not composed.endswith(_TERMINAL):
        composed += "."
    whole = (composed, (0, len(composed)))
    fragment = _is_fragment(_tagged(extractor, composed))
    # "It's 12 Scotland Road." / "That's right, 38.": the lead only points back at the
    # question; what follows is the fragment the question gives its meaning to.
    lead = _POINTING_LEAD.match(composed)
    if not fragment and lead is not None and qa.question is not None:
        fragment = _is_fragment(_tagged(extractor, composed[lead.end() :]))
    if not fragment or qa.question is None:
        return _Drafted(qa, *whole, None, False)
    matched = match_frame(qa.question.text)
    if matched is None:
        return _Drafted(qa, *whole, None, True)
    core = composed[:-1] if composed.endswith(".") else composed
    if lead is not None:
        core = core[lead.end() :]
    framed = _frame_answer(extractor, *matched, core)
    if framed is None:
        return _Drafted(qa, *whole, None, True)
    return _Drafted(qa, *framed, matched[0], False)


def place_words(words: Iterable[Word], text: str, start: int, end: int) -> list[LocatedWord]:
    """``words`` positioned in ``text[start:end]``, where they were written down (composed:
    fillers dropped, numbers as digits). Each word is looked for in order; a run of words not
    found (rewritten: "twenty nine" → "29") gets the characters between the words found around
    it, so a value written differently still carries the times of the words said for it."""
    placed: list[tuple[Word, tuple[int, int] | None]] = []
    cursor = start
    for word in words:
        needle = word.word.strip().strip(_EDGE_PUNCT)
        at: tuple[int, int] | None = None
        if needle:
            pattern = re.compile(rf"(?<!\w){re.escape(needle)}(?!\w)", re.IGNORECASE)
            m = pattern.search(text, cursor, min(end, cursor + _MAX_GAP + len(needle)))
            if m is not None:
                at = (m.start(), m.end())
                cursor = m.end()
        placed.append((word, at))
    out: list[LocatedWord] = []
    i = 0
    while i < len(placed):
        word, at = placed[i]
        if at is not None:
            out.append(LocatedWord(at[0], at[1], word))
            i += 1
            continue
        j = i
        while j < len(placed) and placed[j][1] is None:
            j += 1
        gap_start = out[-1].end_char if out else start
        following = placed[j][1] if j < len(placed) else None
        gap_end = following[0] if following is not None else end
        while gap_start < gap_end and text[gap_start] in _EDGE_PUNCT:
            gap_start += 1
        while gap_end > gap_start and text[gap_end - 1] in _EDGE_PUNCT:
            gap_end -= 1
        if gap_start < gap_end:
            out.extend(LocatedWord(gap_start, gap_end, w) for w, _ in placed[i:j])
        i = j
    return sorted(out, key=lambda w: (w.start_char, w.word.start))


# ---------------------------------------------------------------------------- answer rules


def _answer_rule(field: str, start: int, end: int) -> Rule | None:
    """A rule reading ``field`` straight from the answer at ``[start, end)`` of the narrative,
    for a question that asked for it: a frame no cue phrase covers ("My daughter's name is
    Chloe", "My postcode is CA3 8DA"), or a value the sentence rules would run past ("I live at
    X." followed by "My postcode is Y.")."""
    if field.endswith(".name"):

        def read_name(ctx: Context) -> None:
            span = name_at(ctx.doc, start)
            if span is not None and span.end_char <= end:
                ctx.add(field, spelled_name(ctx, span))

        return read_name
    if field == "witness.address":

        def read_address(ctx: Context) -> None:
            # the answer only: "I live at X. My postcode is Y" would otherwise run on to Y
            stop = end
            for span in ctx.mentions(POSTCODE, REGISTRATION):
                if start <= span.start_char < stop and normalise_postcode(span.text):
                    stop = span.start_char
            begin, finish = ctx.tighten(start, stop)
            if begin < finish:
                value = normalise_address(ctx.text[begin:finish])
                ctx.add(field, Found(value, begin, finish))

        return read_address
    if field.endswith(".postcode"):

        def read_postcode(ctx: Context) -> None:
            for span in ctx.mentions(POSTCODE, REGISTRATION):
                value = normalise_postcode(span.text)
                if start <= span.start_char < end and value is not None:
                    ctx.add(field, Found(value, span.start_char, span.end_char))
                    return

        return read_postcode
    return None


def _answer_rules(drafted: Sequence[tuple[_Drafted, int]], template: Template) -> list[Rule]:
    rules = []
    for d, at in drafted:
        field = d.frame.field if d.frame is not None else None
        if field is None or (
            field.startswith("missing.") and template is not Template.MISSING_PERSON
        ):
            continue
        rule = _answer_rule(field, at + d.answer_at[0], at + d.answer_at[1])
        if rule is not None:
            rules.append(rule)
    return rules


# ---------------------------------------------------------------------------------- flags
def _role_flags(transcript: Transcript) -> list[Flag]:
    flags: list[Flag] = []
    total = sum(s.questions for s in transcript.speakers)
    officer = next((s for s in transcript.speakers if s.role == OFFICER), None)
    witness = next((s for s in transcript.speakers if s.role == WITNESS), None)
    if officer is None or witness is None:
        asked = ", ".join(f"{s.id} asked {s.questions}" for s in transcript.speakers)
        flags.append(
            Flag(
                kind="speaker_roles",
                reason=f"could not tell the officer's voice from the witness's ({asked} of "
                f"{total} questions): the narrative is the whole recording; say who is who "
                "and draft it again",
            )
        )
    elif not (officer.confirmed and witness.confirmed):
        if officer.role_basis == QUESTIONS:
            who = f"voice {officer.id} is proposed as the officer (it asked {officer.questions} "
            who += f"of {total} questions)"
        else:
            who = f"voice {officer.id} is the officer (its voice matched the enrolled voice)"
        others = "of the rest" if officer.role_basis == QUESTIONS else "of the other voices"
        flags.append(
            Flag(
                kind="speaker_roles",
                reason=f"{who} and {witness.id} is proposed as the witness (it spoke most "
                f"{others}, {witness.speech_s:.0f} s): the officer must confirm who is who; "
                "the narrative holds only the witness's words",
            )
        )
    for s in transcript.speakers:
        if s.role == UNKNOWN and officer is not None and witness is not None:
            turns = sum(1 for t in transcript.turns if t.speaker == s.id)
            flags.append(
                Flag(
                    kind="speaker_roles",
                    reason=f"voice {s.id} ({turns} turn{'s' if turns != 1 else ''}, "
                    f"{s.speech_s:.0f} s) is neither the "
                    "officer nor the witness: its words are not in the narrative; listen to "
                    "them in the recording",
                )
            )
    return flags


def _unframed_flag(d: _Drafted, at: int) -> Flag:
    question = d.qa.question.text if d.qa.question is not None else ""
    return Flag(
        kind="answer_needs_question",
        reason=f"the answer {d.qa.answer.text.strip()!r} means little without its question "
        f"{question!r}: it is kept as said; write it as a sentence with the witness",
        start_char=at + d.answer_at[0],
        end_char=at + d.answer_at[1],
    )


RECORDING_FLAG_REASON = (
    "this is the recording's own transcript (Achieving Best Evidence interview record): every "
    "voice as said, with times. Handle it as the record of the recording; it is not an MG11 "
    "and is not signed as one. Its fields are an index for the case file"
)


def _recording_flag() -> Flag:
    return Flag(kind="recording_transcript", reason=RECORDING_FLAG_REASON)


# -------------------------------------------------------------------------------- drafting
def draft_dialogue(
    extractor: Extractor,
    transcript: Transcript,
    *,
    template: Template,
    statement_date: date,
) -> Statement:
    """The statement of a recording, drafted by who said what (see the module docstring).

    ``Statement.exchanges`` trace each answer: into the narrative sentence(s) drafted from it,
    or, for ``interview_record``, into the record line(s) of the answer. A transcript that was
    not diarised gives what :meth:`Extractor.extract` gives (for ``interview_record``: one
    voice, labelled "Speaker"). Roles are proposed first
    (:func:`propose_roles`); when no voice can be taken as the witness, the narrative is the
    whole recording as for a monologue, with a ``speaker_roles`` flag.
    """
    template = Template(template)
    if template is Template.INTERVIEW_RECORD:
        return _interview_record(extractor, transcript, statement_date=statement_date)
    if not transcript.diarised:
        return extractor.extract_located(
            transcript.text,
            words=locate_words(transcript),
            template=template,
            statement_date=statement_date,
            transcript=transcript,
        )
    roled = propose_roles(transcript)
    return _witness_statement_and_words(extractor, roled, template, statement_date)[0]


def _witness_statement_and_words(
    extractor: Extractor, transcript: Transcript, template: Template, statement_date: date
) -> tuple[Statement, list[LocatedWord]]:
    """The statement and the answer words as placed in its narrative."""
    flags = _role_flags(transcript)
    if not any(s.role == WITNESS for s in transcript.speakers):
        statement = extractor.extract_located(
            transcript.text,
            words=locate_words(transcript),
            template=template,
            statement_date=statement_date,
            transcript=transcript,
        )
        statement.flags[:0] = flags
        return statement, locate_words(transcript)
    narrative, located, drafted, exchanges = _witness_narrative(extractor, transcript)
    statement = extractor.extract_located(
        narrative,
        words=located,
        template=template,
        statement_date=statement_date,
        transcript=transcript,
        narrative=narrative,
        answer_rules=_answer_rules(drafted, template),
    )
    statement.exchanges = exchanges
    statement.flags[:0] = flags
    statement.flags += [_unframed_flag(d, at) for d, at in drafted if d.unframed_fragment]
    return statement, located


def _witness_narrative(
    extractor: Extractor, transcript: Transcript
) -> tuple[str, list[LocatedWord], list[tuple[_Drafted, int]], list[Exchange]]:
    """The witness's answers as one narrative (an answer a sentence, or the sentences it was,
    separated by a space), the answer words placed in it, each drafted answer with where its
    sentence starts, and the exchanges pointing at the sentences."""
    parts: list[str] = []
    located: list[LocatedWord] = []
    drafted: list[tuple[_Drafted, int]] = []
    exchanges: list[Exchange] = []
    at = 0
    for qa in _exchanges(transcript):
        d = _draft(extractor, qa)
        if not d.sentence:
            exchanges.append(_exchange(qa, None))
            continue
        if parts:
            at += 1  # the space before it
        parts.append(d.sentence)
        text_so_far = " ".join(parts)
        located += place_words(
            qa.answer.words, text_so_far, at + d.answer_at[0], at + d.answer_at[1]
        )
        drafted.append((d, at))
        exchanges.append(_exchange(qa, (at, at + len(d.sentence))))
        at += len(d.sentence)
    return " ".join(parts), located, drafted, exchanges


# ------------------------------------------------------------------------- interview record
def _clock(seconds: float) -> str:
    s = max(int(seconds), 0)
    return f"[{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}]"


def speaker_label(turn: Turn) -> str:
    """ "Officer", "Witness", or "Speaker S3" for a voice whose role is not known."""
    return turn.role.title() if turn.role in {OFFICER, WITNESS} else f"Speaker {turn.speaker}"


@dataclass(frozen=True)
class _Line:
    text: str
    words: tuple[Word, ...]


def _record_lines(transcript: Transcript) -> list[_Line]:
    if transcript.diarised:
        words = transcript.words
        return [
            _Line(f"{_clock(t.start)} {speaker_label(t)}: {t.text.strip()}", _turn_words(t, words))
            for t in transcript.turns
        ]
    if transcript.segments:
        return [
            _Line(f"{_clock(s.start)} Speaker: {s.text.strip()}", s.words)
            for s in transcript.segments
            if s.text.strip()
        ]
    return [_Line(f"{_clock(0.0)} Speaker: {transcript.text.strip()}", ())]


def record_text(transcript: Transcript) -> str:
    """The whole recording as a timed, speaker-labelled transcript, a line a turn
    ("[00:01:05] Officer: What time was that?"); a transcript that was not diarised is one voice,
    "Speaker", a line a segment."""
    return "\n".join(line.text for line in _record_lines(transcript))


def _interview_record(
    extractor: Extractor, transcript: Transcript, *, statement_date: date
) -> Statement:
    transcript = propose_roles(transcript)
    lines = _record_lines(transcript)
    record = "\n".join(line.text for line in lines)
    record_words: list[LocatedWord] = []
    line_spans: list[tuple[int, int]] = []
    at = 0
    for line in lines:
        body = line.text.index(": ") + 2
        record_words += place_words(line.words, record, at + body, at + len(line.text))
        line_spans.append((at, at + len(line.text)))
        at += len(line.text) + 1

    has_witness = any(s.role == WITNESS for s in transcript.speakers)
    exchanges: list[Exchange] = []
    if transcript.diarised and has_witness:
        # The index is read from the witness's answers, drafted as for a statement, then
        # pointed back at the record.
        indexed, source_words = _witness_statement_and_words(
            extractor, transcript, Template.INTERVIEW_RECORD, statement_date
        )
        turn_line = {id(t): line_spans[i] for i, t in enumerate(transcript.turns)}
        blocks: list[tuple[int, int, int, int]] = []
        for qa, ex in zip(_exchanges(transcript), indexed.exchanges, strict=True):
            spans = [turn_line[id(t)] for t in qa.answer.turns]
            rec = (spans[0][0], spans[-1][1])
            if ex.narrative_start_char is not None and ex.narrative_end_char is not None:
                blocks.append((ex.narrative_start_char, ex.narrative_end_char, *rec))
            exchanges.append(replace(ex, narrative_start_char=rec[0], narrative_end_char=rec[1]))
    else:
        indexed = extractor.extract_located(
            transcript.text,
            words=locate_words(transcript),
            template=Template.INTERVIEW_RECORD,
            statement_date=statement_date,
            transcript=transcript,
        )
        source_words = locate_words(transcript)
        blocks = [(0, len(transcript.text), 0, len(record))]
    to_record = _Remap(source_words, record_words, blocks)
    flags = [f for f in indexed.flags if f.kind != "answer_needs_question"]
    return Statement(
        template=Template.INTERVIEW_RECORD,
        statement_date=statement_date,
        narrative=record,
        fields={k: to_record.field(f, record) for k, f in indexed.fields.items()},
        details={k: to_record.field(f, record) for k, f in indexed.details.items()},
        persons=[to_record.item(p) for p in indexed.persons],
        vehicles=[to_record.item(v) for v in indexed.vehicles],
        weapons=[to_record.item(w) for w in indexed.weapons],
        exhibits=[to_record.item(e) for e in indexed.exhibits],
        flags=[_recording_flag(), *(to_record.flag(f) for f in flags)],
        transcript=transcript,
        exchanges=exchanges,
    )


class _Remap:
    """Characters of the text the index was read from → characters of the record: through the
    words said (the same :class:`Word` in both), else the record line(s) of the block of text
    the span is in."""

    def __init__(
        self,
        source: Sequence[LocatedWord],
        record: Sequence[LocatedWord],
        blocks: Sequence[tuple[int, int, int, int]],
    ) -> None:
        self.source = source
        self.blocks = blocks
        self.in_record: dict[int, tuple[int, int]] = {}
        for w in record:
            self.in_record.setdefault(id(w.word), (w.start_char, w.end_char))

    def span(self, start: int, end: int) -> tuple[int, int] | None:
        found = [
            self.in_record[id(w.word)]
            for w in self.source
            if w.start_char < end and start < w.end_char and id(w.word) in self.in_record
        ]
        if found:
            return min(s for s, _ in found), max(e for _, e in found)
        for src_start, src_end, rec_start, rec_end in self.blocks:
            if src_start <= start < src_end:
                return rec_start, rec_end
        return None

    def field(self, f: Field, record: str) -> Field:
        span = self.span(f.start_char, f.end_char) or (0, 0)
        return replace(f, start_char=span[0], end_char=span[1], text=record[span[0] : span[1]])

    def item(self, item: Any) -> Any:
        span = self.span(item.start_char, item.end_char) or (0, 0)
        return replace(item, start_char=span[0], end_char=span[1])

    def flag(self, f: Flag) -> Flag:
        if f.start_char is None or f.end_char is None:
            return f
        span = self.span(f.start_char, f.end_char)
        return replace(
            f,
            start_char=span[0] if span else None,
            end_char=span[1] if span else None,
        )


__all__ = [
    "QuestionFrame",
    "count_questions",
    "draft_dialogue",
    "group_exchanges",
    "is_question",
    "match_frame",
    "place_words",
    "propose_roles",
    "question_counts",
    "question_frames",
    "record_text",
    "speaker_label",
]
