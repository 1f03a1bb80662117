"""The narrative: the witness's words as they will sign them, written down as a statement is.

Sentences here are made up for these tests (not the dev set): both dictated text with spoken
punctuation, as a transcript of someone saying "comma" reads, and text as Whisper writes it,
already punctuated.
"""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from models.statement import Template
from nlp import Extractor
from nlp.narrative import Narrative, compose_narrative


def body(text: str) -> str:
    return compose_narrative(text).text


# ------------------------------------------------------------------------ spoken punctuation
def test_spoken_punctuation_in_dictated_text() -> None:
    said = (
        "he parked the van outside the bakery comma then he ran full stop new paragraph "
        "the next morning i rang the police full stop"
    )
    assert body(said) == (
        "He parked the van outside the bakery, then he ran.\n\nThe next morning I rang the police."
    )


def test_question_exclamation_and_colon() -> None:
    said = (
        "he asked me what are you looking at question mark I said nothing exclamation mark "
        "he took three things colon a phone comma a wallet and his keys full stop"
    )
    assert body(said) == (
        "He asked me what are you looking at? I said nothing! He took three things: a phone, "
        "a wallet and his keys."
    )


def test_whisper_writes_the_command_with_its_own_punctuation() -> None:
    assert body("I saw him climb out of the car, full stop. Then he ran towards Dalton Road.") == (
        "I saw him climb out of the car. Then he ran towards Dalton Road."
    )
    assert body("He kicked the door twice. Full stop. Then he walked off.") == (
        "He kicked the door twice. Then he walked off."
    )
    assert body("She was crying, comma, and shaking. New paragraph. Later on she rang me.") == (
        "She was crying, and shaking.\n\nLater on she rang me."
    )


def test_full_stop_said_as_part_of_the_account_stays() -> None:
    for said in (
        "The bus came to a full stop outside the Co-op in Maryport.",
        "The lorry came to a sudden full stop. Then the driver jumped out.",
        "the taxi came to a full stop",
    ):
        assert body(said).lower() == said.lower(), said


def test_full_stop_at_the_end_or_before_a_new_sentence_is_punctuation() -> None:
    assert body("he walked away towards Seascale full stop") == "He walked away towards Seascale."
    assert body("the car full stop then he ran") == "The car. Then he ran"


def test_other_phrases_said_as_words_stay() -> None:
    for said in (
        "There's a question mark over what time he left.",
        "They built a new line of houses behind the school in Aspatria.",
        "I sat there for a period of time, then went home.",
        "Over the Christmas period. Then it started again.",
        "The roofer gave me a quote for the work.",
    ):
        assert body(said) == said, said


def test_period_after_a_pause_or_at_the_end() -> None:
    assert body("He told me to leave, period.") == "He told me to leave."
    assert body("I waited there for a period of time period") == (
        "I waited there for a period of time."
    )
    assert body("he ran off period new paragraph the van had gone") == (
        "He ran off.\n\nThe van had gone"
    )


def test_quotes_are_curly_and_consistent() -> None:
    assert body("he shouted open quote get back in the house close quote and left full stop") == (
        "He shouted “get back in the house” and left."
    )
    assert body("She said, quote, I've had enough, unquote. Then she went.") == (
        "She said, “I've had enough”. Then she went."
    )
    assert body('He said "Leave it" and walked off.') == "He said “Leave it” and walked off."
    assert body("I can quote what he said to me.") == "I can quote what he said to me."


def test_new_line() -> None:
    assert body("the van said new line Brampton Plumbing and Heating") == (
        "The van said\nBrampton Plumbing and Heating"
    )


def test_typed_paragraphs_are_kept() -> None:
    assert body("I was at home.\n\nLater that day   the\npolice came.") == (
        "I was at home.\n\nLater that day the police came."
    )


# --------------------------------------------------------------------------------- header
def test_dictated_header_is_left_out() -> None:
    text = (
        " MG11 witness statement. Statement of Priya Nair. Age, over eighteen. Occupation, "
        "pharmacist. On Monday I was working at the pharmacy on Scotch Street in Carlisle."
    )
    narrative = compose_narrative(text)
    assert narrative.text == (
        "On Monday I was working at the pharmacy on Scotch Street in Carlisle."
    )
    assert narrative.start_char == text.index("On Monday")


def test_spoken_header_with_spoken_punctuation_is_left_out() -> None:
    text = (
        "m g eleven witness statement full stop statement of owen price full stop age over "
        "eighteen full stop occupation joiner full stop on wednesday i was working on a roof "
        "in Ambleside full stop"
    )
    narrative = compose_narrative(text)
    assert narrative.text == "On wednesday I was working on a roof in Ambleside."
    assert narrative.start_char == text.index("on wednesday")


def test_missing_person_header_is_left_out() -> None:
    text = (
        "Missing person report. Reporting person, Gareth Hughes, address nineteen Church Walk, "
        "Ulverston, telephone oh seven seven double oh nine double oh two two seven. My son "
        "Callum has not come home from school."
    )
    narrative = compose_narrative(text)
    assert narrative.text == "My son Callum has not come home from school."
    assert narrative.start_char == text.index("My son")


def test_a_witness_introducing_themselves_keeps_every_word() -> None:
    text = (
        "My name is Fiona Reid. I live at twenty-two Mill Lane, Cockermouth. On Tuesday I saw "
        "a man try the doors of the cars on Station Street."
    )
    narrative = compose_narrative(text)
    assert narrative.text == text.replace("twenty-two", "22")
    assert narrative.start_char == 0


def test_an_account_that_begins_like_a_header_item_is_kept() -> None:
    text = "Age is just a number, I told him. Then he pushed me."
    assert compose_narrative(text) == Narrative(text=text, start_char=0)


def test_nothing_is_dropped_when_everything_looks_like_header() -> None:
    text = "Statement of Tom Reid. Occupation, plasterer."
    assert compose_narrative(text) == Narrative(text=text, start_char=0)


def test_start_char_skips_leading_white_space() -> None:
    assert compose_narrative("  I heard glass break.").start_char == 2
    assert compose_narrative("") == Narrative(text="", start_char=0)


# ------------------------------------------------------------------------ fillers, stutters
def test_fillers_go_with_the_commas_that_marked_them() -> None:
    assert body("Um, I was, er, standing by the bus stop and, uh, he came over.") == (
        "I was standing by the bus stop and he came over."
    )
    assert body("She's, um, about five foot two.") == "She's about five foot two."
    assert body("After that, erm, he drove off.") == "After that, he drove off."
    assert body("Erm he was about my height.") == "He was about my height."


def test_words_that_contain_or_resemble_fillers_stay() -> None:
    for said in (
        "Her brother said there was an error on the form.",
        "He was, like, you know, really angry.",
        "Ahmed and Erin were there too.",
    ):
        assert body(said) == said, said


def test_stutters_of_short_function_words() -> None:
    assert body("I I saw him take the the bag.") == "I saw him take the bag."
    assert body("I-I saw him. The, the car was red. I- I ran.") == (
        "I saw him. The car was red. I ran."
    )


def test_repeats_that_are_english_stay() -> None:
    for said in (
        "He said that that car was stolen.",
        "She had had enough by then.",
        "He was driving very very fast.",
    ):
        assert body(said) == said, said


# -------------------------------------------------------------------------------- numbers
@pytest.mark.parametrize(
    ("said", "written"),
    [
        ("I'm twenty-nine and I'm a chef.", "I'm 29 and I'm a chef."),
        (
            "There were eleven of them and seven got away.",
            "There were 11 of them and seven got away.",
        ),
        ("It cost one hundred and twenty pounds.", "It cost 120 pounds."),
        ("I've lived here since nineteen eighty-one.", "I've lived here since 1981."),
        ("It was the twenty-second of May twenty twenty-five.", "It was the 22nd of May 2025."),
        ("He was the third man, a forty-year-old.", "He was the third man, a 40-year-old."),
        ("I live at thirty-seven Brook Street, Kendal.", "I live at 37 Brook Street, Kendal."),
    ],
)
def test_numbers_above_ten_are_digits(said: str, written: str) -> None:
    assert body(said) == written


@pytest.mark.parametrize(
    ("said", "written"),
    [
        ("At quarter past ten at night I heard a bang.", "At 22:15 I heard a bang."),
        ("It was twenty to eleven at night.", "It was 22:40."),
        ("I booked on at fourteen ten hours.", "I booked on at 14:10."),
        ("He rang at ten thirty pm and again later.", "He rang at 22:30 and again later."),
        ("He rang at 10.15pm from a withheld number.", "He rang at 22:15 from a withheld number."),
        ("I left at eleven in the morning.", "I left at 11:00."),
        ("He arrived at 9 p.m. Then he left.", "He arrived at 21:00. Then he left."),
        # no part of the day said: left as said rather than decided for the witness
        ("At quarter past eleven he came back.", "At quarter past eleven he came back."),
        ("It was about eleven o'clock.", "It was about eleven o'clock."),
        ("Twelve in the evening queue were served.", "Twelve in the evening queue were served."),
    ],
)
def test_times(said: str, written: str) -> None:
    assert body(said) == written


def test_heights_stay_as_said() -> None:
    said = "He was about six foot eleven and his friend five foot ten."
    assert body(said) == said


def test_phone_number_read_out_becomes_digits() -> None:
    assert body("My mobile is oh seven seven double oh, nine double oh, four five six.") == (
        "My mobile is 07700 900456."
    )
    assert body("The code was one two three four.") == "The code was one two three four."


def test_whisper_text_without_anything_to_change_is_kept_word_for_word() -> None:
    text = (
        " My name is Siobhan O'Brien. I live at 4 Abbey Road, Barrow-in-Furness, LA14 1XL. My "
        "email is s.obrien@example.org. Mr. Jones from number 6 said “he's gone” and I believed "
        "him... I'm 34."
    )
    assert body(text) == text.strip()


def test_narrative_is_frozen() -> None:
    narrative = compose_narrative("I saw it.")
    with pytest.raises(dataclasses.FrozenInstanceError):
        narrative.text = "something else"  # type: ignore[misc]


# ---------------------------------------------------------------------------- extractor
def test_extractor_narrative_leaves_out_the_header_it_takes_fields_from(
    extractor: Extractor,
) -> None:
    text = (
        "Statement of Connor Walsh. Age, over eighteen. Occupation, electrician. Last Friday, "
        "at about twenty past eleven at night, um, I saw a man smash the window of the bakery "
        "on Finkle Street in Kendal."
    )
    statement = extractor.extract(text, template=Template.MG11, statement_date=date(2026, 3, 9))
    assert statement.fields["witness.occupation"].value == "electrician"
    assert statement.narrative == (
        "Last Friday, at about 23:20, I saw a man smash the window of the bakery on Finkle "
        "Street in Kendal."
    )


def test_codes_read_out_are_written_as_an_officer_types_them() -> None:
    said = (
        "They drove off in a red Skoda, registration whiskey victor seven two, hotel kilo "
        "lima, towards Brampton. I live at nine Eden Mount, Stanwix, C A three, nine L X, and "
        "my email is sam dot reed at example dot org."
    )
    text = compose_narrative(said).text
    assert "registration WV72 HKL, towards Brampton" in text
    assert "Stanwix, CA3 9LX, and" in text
    assert "my email is sam.reed@example.org." in text
