"""Names as the speaker spells them; spellings offered, never applied, when they did not."""

from __future__ import annotations

from datetime import date

import pytest

from models.statement import Template
from nlp import Extractor
from nlp.spelling import apply_spelling, name_suggestions, spelled_after, suggest_spellings


@pytest.mark.parametrize(
    ("said", "letters"),
    [
        ("Anna Nowiki, that's N O W I C K I. I live in Keswick.", "NOWICKI"),
        ("Anna Nowiki, spelt N-O-W-I-C-K-I, and I", "NOWICKI"),
        ("Anna Nowiki, N. O. W. I. C. K. I. and I", "NOWICKI"),
        ("Anna Nowiki, that's NOWICKI.", "NOWICKI"),
        ("Joe Fel, spelt foxtrot echo lima lima, said", "FELL"),
        ("Joe Fel, that's F E double L.", "FELL"),
        ("Gill Teasdel, that's t e a s d a l e.", "TEASDALE"),
    ],
)
def test_spellings_said_after_a_name(said: str, letters: str) -> None:
    end_of_name = said.index(",")
    spelling = spelled_after(said, end_of_name)
    assert spelling is not None and spelling.letters == letters
    assert said[spelling.end : spelling.end + 1] in {",", ".", " "}  # the spelling ends there


@pytest.mark.parametrize(
    "said",
    [
        "Joe Fel, I saw him.",  # "I" is a word, not a spelling
        "Joe Fel. A man came over.",
        "Joe Fel, lima charlie",  # phonetic words with no cue: not a spelling
        "Joe Fel, that's J.",  # one letter: an initial
    ],
)
def test_no_spelling(said: str) -> None:
    assert spelled_after(said, said.index("Fel") + 3) is None


def test_the_spelling_replaces_the_word_it_spells() -> None:
    spelling = spelled_after("Anna Maria Nowiki, that's N O W I C K I", 17)
    assert spelling is not None
    assert apply_spelling("Anna Maria Nowiki", spelling) == "Anna Maria Nowicki"
    spelling = spelled_after("Caitlin Greer, spelt K A T E L Y N, said", 13)
    assert spelling is not None
    assert apply_spelling("Caitlin Greer", spelling) == "Katelyn Greer"


def test_spelled_names_in_a_statement(extractor: Extractor) -> None:
    text = (
        "My name is Anna Nowiki, that's N O W I C K I. I'm forty. On Monday my neighbour Ross "
        "Tinian, spelt T I N N I O N, shouted at me on Church Street in Millom."
    )
    statement = extractor.extract(text, template=Template.MG11, statement_date=date(2026, 11, 20))
    name = statement.fields["witness.name"]
    assert (name.value, name.source, name.text) == (
        "Anna Nowicki",
        "spelled",
        "Anna Nowiki, that's N O W I C K I",
    )
    assert [p.name for p in statement.persons] == ["Ross Tinnion"]
    # spelled names need no confirmation; nothing else was named
    assert [f for f in statement.flags if f.kind == "confirm_spelling"] == []


def test_unspelled_names_are_flagged_with_sound_alike_spellings(extractor: Extractor) -> None:
    text = "My name is Ryan Hineson. Yesterday Carl Dilan punched me on Duke Street in Whitehaven."
    statement = extractor.extract(text, template=Template.MG11, statement_date=date(2026, 11, 20))
    flags = {
        text[f.start_char : f.end_char]: f for f in statement.flags if f.kind == "confirm_spelling"
    }
    assert set(flags) == {"Ryan Hineson", "Carl Dilan"}
    assert flags["Ryan Hineson"].field == "witness.name"
    assert "Ryan Hinson" in flags["Ryan Hineson"].suggestions
    assert "Carl Dylan" in flags["Carl Dilan"].suggestions
    # the machine never applies a suggestion
    assert statement.fields["witness.name"].value == "Ryan Hineson"


def test_suggestions_sound_alike_and_leave_out_the_heard_form() -> None:
    assert suggest_spellings("Dilan")[:2] == ("Dylan", "Dillon")
    assert "Dilan" not in suggest_spellings("Dilan")
    assert suggest_spellings("Xqzzv") == ()
    assert len(name_suggestions("Ryan Hineson", limit=3)) == 3
