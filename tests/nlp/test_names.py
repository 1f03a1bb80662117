"""Names: spellings said by the speaker override what was heard, one person's mentions are one
person, and every name heard without a spelling is flagged with sound-alike spellings to offer
(never applied)."""

from __future__ import annotations

from datetime import date

import pytest

from models.statement import Statement, Template
from nlp import Extractor
from nlp.mentions import find_mentions
from nlp.names import (
    HeardName,
    Spelling,
    name_suggestions,
    same_word,
    spelled_after,
    spellings_in,
    suggest_spellings,
)

DAY = date(2026, 11, 20)


def extract(extractor: Extractor, text: str, template: Template = Template.MG11) -> Statement:
    return extractor.extract(text, template=template, statement_date=DAY)


def confirm_flags(statement: Statement, text: str) -> dict[str, tuple[str | None, tuple[str, ...]]]:
    """The confirm_spelling flags by the words they point at: (field, suggestions)."""
    return {
        text[f.start_char or 0 : f.end_char or 0]: (f.field, f.suggestions)
        for f in statement.flags
        if f.kind == "confirm_spelling"
    }


# ------------------------------------------------------------------------------ the spelling
@pytest.mark.parametrize(
    ("said", "letters"),
    [
        ("Marta Kowalcyk, that's K O W A L C Z Y K. I live in Penrith.", "KOWALCZYK"),
        ("Marta Kowalcyk, spelt K-O-W-A-L-C-Z-Y-K, and I", "KOWALCZYK"),
        ("Marta Kowalcyk, K. O. W. A. L. C. Z. Y. K. I work nights.", "KOWALCZYK"),
        ("Marta Kowalcyk, K. O. W. A. L. C. Z. Y. K, and I", "KOWALCZYK"),
        ("Marta Kowalcyk, that's KOWALCZYK.", "KOWALCZYK"),
        ("Marta Kowalcyk and that's spelt K O W A L C Z Y K.", "KOWALCZYK"),
        ("Marta Kowalcyk, spelled kilo oscar whiskey alpha lima, said", "KOWAL"),
        ("Marta Kowalcyk, that's B E double L, yes", "BELL"),
        ("Marta Kowalcyk, spelt Papa Echo Lima Lima.", "PELL"),
        ("Marta Kowalcyk, that's g r e e n e.", "GREENE"),
        ("Marta Kowalcyk, S W double E N Y. She", "SWEENY"),
        ("Marta Kowalcyk, P. Y. M. I saw him.", "PYM"),  # the undotted "I" starts a sentence
        ("Marta Kowalcyk, that's D O double U N E Y, she", "DOWNEY"),  # "double U" is W
        ("Marta Kowalcyk, spelt double-u A double L, a nurse", "WALL"),
        ("Marta Kowalcyk, spelt papa, echo, lima, lima.", "PELL"),
    ],
)
def test_spellings_said_after_a_name(said: str, letters: str) -> None:
    spelling = spelled_after(said, said.index("Kowalcyk") + len("Kowalcyk"))
    assert spelling is not None and spelling.letters == letters
    assert said[spelling.end - 1].isalpha()  # the evidence ends on the last letter


@pytest.mark.parametrize(
    "said",
    [
        "Tom Keld, I saw him.",  # "I" is a word, not a spelling
        "Tom Keld. A man came over.",
        "Tom Keld, lima charlie echo",  # phonetic words with no cue: not a spelling
        "Tom Keld, that's J.",  # one letter: an initial
        "Tom Keld, that's Papa Alpha Tango Eleven",  # a phonetic word run on by a number
        "Tom Keld, A B C 1 2 3 was the car",  # letters run on by digits: a registration
        "Tom Keld, that's LKZ 4471",
    ],
)
def test_no_spelling(said: str) -> None:
    assert spelled_after(said, said.index("Keld") + 4) is None


def test_the_spelling_replaces_the_word_it_spells() -> None:
    said = "Ewa Maria Woicik, that's W O J C I K"
    spelling = spelled_after(said, said.index(","))
    assert spelling is not None
    assert HeardName.of("Ewa Maria Woicik").spelled_as(spelling).text == "Ewa Maria Wojcik"
    first = Spelling("KATELYN", 0, 0)
    assert HeardName.of("Caitlin Greer").spelled_as(first).text == "Katelyn Greer"
    mc = Spelling("MCGARRY", 0, 0)
    assert HeardName.of("Isla Mcgary").spelled_as(mc).text == "Isla McGarry"
    # a spelling said after a later mention names the word it follows
    later = Spelling("SYMMS", 0, 0, heard="Simms")
    assert HeardName.of("Wes Simms").respelled(later).text == "Wes Symms"
    assert HeardName.of("Wes Simmes").respelled(later).text == "Wes Symms"  # sounds the same
    assert HeardName.of("Wes Parks").respelled(later).text == "Wes Parks"


def test_spellings_anywhere_in_a_statement() -> None:
    text = (
        "Then Wes Harkin came in. Harkin, that's H A R K I N S. "
        "His surname is spelt H A R K I N S. The car was A B C 1 2 3."
    )
    found = spellings_in(text)
    assert [(s.letters, s.heard) for s in found] == [("HARKINS", "Harkin"), ("HARKINS", None)]


def test_sounding_the_same() -> None:
    assert same_word("Haley", "Hayley")
    assert same_word("Sutclife", "Sutcliffe")
    assert same_word("Mary", "Mary-Jane")
    assert not same_word("Sean", "Steven")
    # short names that differ only in their vowels are two names
    assert not same_word("Dean", "Dan")
    assert not same_word("Jon", "Joan")
    mister = HeardName.of("Mr Harker")
    assert mister.words == ("Harker",)
    assert mister.same_person(HeardName.of("Dean Harker"))
    assert HeardName.of("Haley").same_person(HeardName.of("Hayley Brooke"))
    assert not HeardName.of("Dean Tate").same_person(HeardName.of("Dean Harker"))


# -------------------------------------------------------------------------- in a statement
@pytest.mark.parametrize(
    ("text", "name", "evidence"),
    [
        (
            "My name is Marta Kowalcyk, that's K O W A L C Z Y K. I live in Penrith.",
            "Marta Kowalczyk",
            "Marta Kowalcyk, that's K O W A L C Z Y K",
        ),
        (
            "My name is Greg Sutclife, spelt S-U-T-C-L-I-F-F-E. I work at the depot.",
            "Greg Sutcliffe",
            "Greg Sutclife, spelt S-U-T-C-L-I-F-F-E",
        ),
        (
            "My name is Joe Pel, spelt Papa Echo Lima Lima. I was at home on Tuesday.",
            "Joe Pell",
            "Joe Pel, spelt Papa Echo Lima Lima",
        ),
        (
            "My name is Ewan Couts, that's C O U double T S. I'm a driver.",
            "Ewan Coutts",
            "Ewan Couts, that's C O U double T S",
        ),
        (
            "My name is Deepa Shamar, S. H. A. R. M. A. I saw the fight.",
            "Deepa Sharma",
            "Deepa Shamar, S. H. A. R. M. A",
        ),
        (
            "My first name is Ewan, surname Coutts, C O U T T S. I work nights.",
            "Ewan Coutts",
            "Ewan, surname Coutts, C O U T T S",
        ),
        (
            "My name is Niamh, that's N I A M H, and my last name is Rooney. I was at work.",
            "Niamh Rooney",
            "Niamh, that's N I A M H, and my last name is Rooney",
        ),
    ],
)
def test_a_spelled_witness_name(extractor: Extractor, text: str, name: str, evidence: str) -> None:
    statement = extract(extractor, text)
    found = statement.fields["witness.name"]
    assert (found.value, found.source, found.text) == (name, "spelled", evidence)
    # spelled: nothing to confirm, and the letters are no one else and no code
    assert "witness.name" not in {f.field for f in statement.flags if f.kind == "confirm_spelling"}
    assert statement.persons == []
    assert statement.vehicles == []
    assert "witness.postcode" not in statement.fields


def test_a_spelled_missing_person(extractor: Extractor) -> None:
    text = (
        "My name is Paula Reeve. I'm reporting my daughter Ellie Mawsen missing, that's "
        "M A W S O N. She is fourteen and was last seen on Friday in Workington."
    )
    statement = extract(extractor, text, Template.MISSING_PERSON)
    assert statement.fields["missing.name"].value == "Ellie Mawson"
    assert confirm_flags(statement, text).keys() == {"Paula Reeve"}


def test_a_spelled_person(extractor: Extractor) -> None:
    text = (
        "My name is Lucy Hart. A man called Gary Sprot, S P R O T T, pushed me over outside "
        "the post office in Wigton."
    )
    statement = extract(extractor, text)
    [person] = statement.persons
    assert person.name == "Gary Sprott"
    assert text[person.start_char : person.end_char] == "Gary Sprot, S P R O T T"
    assert confirm_flags(statement, text).keys() == {"Lucy Hart"}


def test_letters_of_a_spelling_are_not_codes() -> None:
    for text in (
        "My name is Marta Kowalcyk, that is K O W A L C Z Y K, and I live in Carlisle.",
        "His name was Owen Tye, T Y E, and he drove off in a white van.",
        "My name is Joe Pel, spelt P E double L. My car is a blue Ford Focus.",
    ):
        assert [m.label for m in find_mentions(text)] == []


# --------------------------------------------------------------------- one person, once
def test_mentions_of_one_person_are_one_person(extractor: Extractor) -> None:
    text = (
        "My name is Priya Shaw. On Friday my neighbour Dean Harker came to my door. Dean was "
        "shouting and Mr Harker then pushed me."
    )
    statement = extract(extractor, text)
    assert [p.name for p in statement.persons] == ["Dean Harker"]


def test_mentions_heard_differently_are_one_person(extractor: Extractor) -> None:
    text = (
        "My name is Tom Reed. My friend Hayley Brooke was outside the shop. Haley was crying "
        "and a man I know as Craig Pell shouted at her."
    )
    statement = extract(extractor, text)
    assert [p.name for p in statement.persons] == ["Hayley Brooke", "Craig Pell"]


def test_a_later_spelling_fixes_earlier_mentions(extractor: Extractor) -> None:
    text = (
        "My name is Gurpal Sandu. My neighbour Wes Simms was in the street. Later Simms, "
        "that's S Y M M S, came back with a bat. My surname is spelt S A N D H U."
    )
    statement = extract(extractor, text)
    witness = statement.fields["witness.name"]
    assert (witness.value, witness.source) == ("Gurpal Sandhu", "spelled")
    assert [p.name for p in statement.persons] == ["Wes Symms"]
    assert confirm_flags(statement, text) == {}


def test_a_spelling_of_a_different_sound_is_someone_else(extractor: Extractor) -> None:
    text = (
        "My name is Tom Reed. My friend Haley Brooke was outside the shop. Hayley, "
        "H A Y L E Y, was crying."
    )
    statement = extract(extractor, text)
    assert [p.name for p in statement.persons] == ["Hayley Brooke"]
    assert confirm_flags(statement, text).keys() == {"Tom Reed"}


# ------------------------------------------------------------------------------- the flags
def test_unspelled_names_are_flagged_with_sound_alike_spellings(extractor: Extractor) -> None:
    text = "My name is Ryan Hineson. Yesterday Carl Dilan punched me on Duke Street in Whitehaven."
    statement = extract(extractor, text)
    flags = confirm_flags(statement, text)
    assert flags.keys() == {"Ryan Hineson", "Carl Dilan"}
    field, suggestions = flags["Ryan Hineson"]
    assert field == "witness.name"
    assert "Ryan Hinson" in suggestions and len(suggestions) <= 5
    field, suggestions = flags["Carl Dilan"]
    assert field is None  # a person
    assert {"Carl Dylan", "Carl Dillon"} <= set(suggestions)
    assert "Carl Dilan" not in suggestions
    # the machine never applies a suggestion
    assert statement.fields["witness.name"].value == "Ryan Hineson"
    assert [p.name for p in statement.persons] == ["Carl Dilan"]


def test_an_unspelled_missing_person_is_flagged(extractor: Extractor) -> None:
    text = (
        "My name is Sandra Quayle. I'm reporting my son Kieron Bligh missing. He is twelve and "
        "was last seen at school on Monday."
    )
    statement = extract(extractor, text, Template.MISSING_PERSON)
    flags = confirm_flags(statement, text)
    assert flags["Kieron Bligh"][0] == "missing.name"
    assert flags["Sandra Quayle"][0] == "witness.name"


def test_suggestions_sound_alike_and_leave_out_the_heard_form() -> None:
    assert {"Dylan", "Dillon", "Dhillon"} <= set(suggest_spellings("Dilan", limit=10))
    assert "Dilan" not in suggest_spellings("Dilan")
    assert suggest_spellings("Gurpreat")[0] == "Gurpreet"  # from the hand-written list
    assert suggest_spellings("Ciaron")[0] == "Ciaran"
    assert "Luis" in suggest_spellings("Luiz")
    assert suggest_spellings("Xqzzv") == ()
    assert len(name_suggestions("Ryan Hineson", limit=3)) == 3
    # the surname's sound-alikes come first, the words take turns, and a word not in the lists
    # (most likely misheard) goes before a listed one
    assert name_suggestions("Sean Tynan")[0].startswith("Sean ")
    assert name_suggestions("Jonothan Price")[0] == "Jonathon Price"
    assert "Jonathan Price" in name_suggestions("Jonothan Price")
