"""Recognisers whose patterns are data: every UK registration shape, UK phone numbers checked
with ``phonenumbers``, officers' collar numbers and exhibit references. Sentences written for
these tests (not from the dev set)."""

from __future__ import annotations

from datetime import date

import pytest

from models.statement import Template
from nlp import Extractor
from nlp.mentions import (
    COLLAR,
    EXHIBIT,
    PHONE,
    REGISTRATION,
    collar_number,
    exhibit_reference,
    find_mentions,
)
from nlp.normalise import normalise_phone, normalise_registration, registration_formats

DAY = date(2026, 6, 12)


def _found(text: str, label: str) -> list[str]:
    return [text[m.start : m.end] for m in find_mentions(text) if m.label == label]


# ---------------------------------------------------------------------------------- registrations
def test_every_shape_is_listed_as_data() -> None:
    names = {f.name for f in registration_formats()}
    assert {"current", "prefix", "suffix", "dateless", "northern_ireland"} <= names
    assert [f.name for f in registration_formats() if not f.needs_context] == ["current"]


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("P 417 HGV", "P417 HGV"),  # prefix
        ("papa four one seven hotel golf victor", "P417 HGV"),
        ("R1 KLM", "R1 KLM"),
        ("GHT 552K", "GHT 552K"),  # suffix
        ("golf hotel tango five five two kilo", "GHT 552K"),
        ("FJX 40", "FJX 40"),  # dateless, letters first
        ("4471 TU", "4471 TU"),  # dateless, digits first
        ("7 RPW", "7 RPW"),
        ("LKZ 8812", "LKZ 8812"),  # Northern Ireland
        ("lima kilo zulu eight eight one two", "LKZ 8812"),
        ("BIA 302", "BIA 302"),
        ("YT19 NRA", "YT19 NRA"),  # current style still
    ],
)
def test_every_shape_normalises_with_context(said: str, expected: str) -> None:
    assert normalise_registration(said, context=True) == expected


@pytest.mark.parametrize("said", ["P 417 HGV", "GHT 552K", "FJX 40", "LKZ 8812", "7 RPW"])
def test_short_shapes_need_context(said: str) -> None:
    assert normalise_registration(said) is None


@pytest.mark.parametrize(
    ("text", "plate"),
    [
        (
            "The car was an old Volvo, registration papa four one seven hotel golf victor.",
            "P417 HGV",
        ),
        ("Its number plate was GHT 552K and it had a dent.", "GHT 552K"),
        ("He got out of a vintage Jaguar, reg FJX 40, and walked off.", "FJX 40"),
        ("The plate read 4471 TU, I think.", "4471 TU"),
        ("A silver Peugeot 208, LKZ 8812, was parked on the verge.", "LKZ 8812"),
        ("Registration lima kilo zulu, eight eight one two.", "LKZ 8812"),
        ("The registration was, I believe, F J X forty.", "FJX 40"),
        ("A Skoda Octavia YT19 NRA pulled in.", "YT19 NRA"),
        ("An old Jaguar, 7 RPW, stood in the yard.", "7 RPW"),
        ("A BMW X5, AB 1234, followed us.", "AB 1234"),
        # current style needs no cue, written, spelled or in the phonetic alphabet
        ("I saw YT19 NRA drive past.", "YT19 NRA"),
        ("it was Y T one nine N R A", "YT19 NRA"),
        ("yankee tango one nine november romeo alpha drove off", "YT19 NRA"),
        # Whisper's capitals and digits: "November delta 12, Oscar Yankee Foxtrot"
        ("Registration Echo Sierra 21, Kilo Lima Mike, and then it went.", "ES21 KLM"),
    ],
)
def test_registration_found_in_context(text: str, plate: str) -> None:
    [said] = _found(text, REGISTRATION)
    assert normalise_registration(said, context=True) == plate


@pytest.mark.parametrize(
    "text",
    [
        "I live at 4 Tarn View, Kendal, LA9 6QS. The registration I didn't see.",
        "I drove my Vauxhall Corsa along the A66 towards Brough.",  # a road, not a plate
        "A Vauxhall Corsa joined the M6 at junction 40.",
        "My Ford Fiesta was parked at the back. At 10 PM I went out.",
        "Registration? I'm not sure. I called 999 from my Honda Jazz.",
        "I gave the registration to PC 2214 Lambert.",  # a collar number
        "A blue Kia Rio went past number 12 B.",  # a house number
        "I live at CA11 7QT and my reg is something I forget.",  # a postcode
        "Tom Hardy Was There At The Scene On Tuesday.",  # capitalised words
        "My mobile is 07700 900417, the reg of my car is a long story.",  # a phone number
        "He drove a Fiat Panda to the ABC studios in Salford.",
        "An Audi A4 and a BMW X5 were parked outside.",  # models, not plates
    ],
)
def test_no_false_registrations(text: str) -> None:
    assert _found(text, REGISTRATION) == []


def test_plate_with_make_and_model_reaches_the_statement(extractor: Extractor) -> None:
    text = (
        "My name is Olu Bankole. A green Triumph Herald, registration G H T five five two K, "
        "reversed into my gate."
    )
    statement = extractor.extract(text, template=Template.MG11, statement_date=DAY)
    [vehicle] = statement.vehicles
    assert (vehicle.registration, vehicle.make, vehicle.colour) == ("GHT 552K", "Triumph", "green")
    assert text[vehicle.start_char : vehicle.end_char] == "G H T five five two K"


# ------------------------------------------------------------------------------------------ phones
@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("07700 900417", "07700900417"),  # Ofcom drama range: invalid to phonenumbers, kept
        ("oh seven seven double oh nine double oh four one seven", "07700900417"),
        ("plus four four seven seven double oh nine double oh four one seven", "07700900417"),
        ("+44 (0)7700 900417", "07700900417"),
        ("0044 7700 900417", "07700900417"),
        ("oh seven four five seven oh one two three four five", "07457012345"),  # a mobile
        ("01228 526114", "01228526114"),  # Carlisle
        ("oh one two two eight, treble five, one two three", "01228555123"),
        ("oh one two two eight, triple five, one two three", "01228555123"),
        ("020 8123 4567", "02081234567"),  # London
        ("oh two oh, eight one two three, four five six seven", "02081234567"),
        ("016977 34567", "01697734567"),  # Brampton: a five-digit local number
        ("06123 456789", None),  # no UK number starts 06
        ("01000 123456", None),  # 010 is not allocated
        ("01228 12345", None),  # one digit short for Carlisle
        ("plus three three one two three four five six seven eight", None),  # France
    ],
)
def test_phone_numbers_are_checked(said: str, expected: str | None) -> None:
    assert normalise_phone(said) == expected


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (
            "Ring me on plus four four seven seven double oh nine double oh four one seven.",
            "plus four four seven seven double oh nine double oh four one seven",
        ),
        ("My landline is 01228 526114 after six.", "01228 526114"),
        ("my phone is O-7-7 double-O, 9 double-O, 4 1 7.", "O-7-7 double-O, 9 double-O, 4 1 7"),
    ],
)
def test_phone_found(text: str, said: str) -> None:
    assert _found(text, PHONE) == [said]


@pytest.mark.parametrize(
    "text",
    [
        "My number is 06123 456789.",  # not a UK number
        "It happened at 22:15 on the 3rd.",
        "I live at CA3 8DA.",
    ],
)
def test_no_false_phones(text: str) -> None:
    assert _found(text, PHONE) == []


def test_invalid_number_is_not_the_witness_phone(extractor: Extractor) -> None:
    text = "My name is Ewa Zielinska. My mobile is oh six one two three, four five six seven eight."
    statement = extractor.extract(text, template=Template.MG11, statement_date=DAY)
    assert "witness.phone" not in statement.fields


def test_spoken_landline_is_the_witness_phone(extractor: Extractor) -> None:
    text = (
        "My name is Ewa Zielinska. My number is oh one two two eight, triple five, one two three."
    )
    statement = extractor.extract(text, template=Template.MG11, statement_date=DAY)
    assert statement.fields["witness.phone"].value == "01228555123"


# ---------------------------------------------------------------------------------- collar numbers
@pytest.mark.parametrize(
    ("text", "said", "number"),
    [
        ("PC 1234 attended.", "PC 1234", "1234"),
        ("PC one two three four attended.", "PC one two three four", "1234"),
        ("Police Constable 2231 Smith took my details.", "Police Constable 2231", "2231"),
        ("DC 445 rang me back.", "DC 445", "445"),
        ("PCSO 7012 was on foot patrol.", "PCSO 7012", "7012"),
        ("Sergeant 1180 arrived.", "Sergeant 1180", "1180"),
        ("sergeant eleven eighty arrived", "sergeant eleven eighty", "1180"),
        ("PCSO seven oh one two", "PCSO seven oh one two", "7012"),
    ],
)
def test_collar_numbers(text: str, said: str, number: str) -> None:
    assert _found(text, COLLAR) == [said]
    assert collar_number(said) == number


@pytest.mark.parametrize(
    "text",
    [
        "A sergeant and two constables came.",
        "Sergeant one of them said to wait.",  # a count, not a collar number
        "I bought a new pc 1234 days ago.",  # lower-case "pc" is a computer
        "He was on the A66 at 10 PM.",
    ],
)
def test_no_false_collar_numbers(text: str) -> None:
    assert _found(text, COLLAR) == []


def test_named_officers_get_their_collar_numbers(extractor: Extractor) -> None:
    text = (
        "My name is Priya Nair. Police Constable 2231 Okafor arrived first and PC four four one "
        "seven Harding came later. Later Dana Whitlock, collar number 3390, took my statement. "
        "My neighbour Glen Rudd saw it too."
    )
    statement = extractor.extract(text, template=Template.MG11, statement_date=DAY)
    people = {p.name: (p.role, p.collar_number) for p in statement.persons}
    assert people["Okafor"] == ("officer", "2231")
    assert people["Harding"] == ("officer", "4417")
    assert people["Dana Whitlock"] == ("officer", "3390")
    assert people["Glen Rudd"][1] is None
    assert all(p.role != "officer" for p in statement.persons if p.collar_number is None)


def test_unnamed_officer_is_not_a_person(extractor: Extractor) -> None:
    text = "My name is Priya Nair. DC 445 rang me the next day."
    statement = extractor.extract(text, template=Template.MG11, statement_date=DAY)
    assert statement.persons == []
    assert statement.vehicles == []


# --------------------------------------------------------------------------------------- exhibits
@pytest.mark.parametrize(
    ("said", "reference"),
    [
        ("KJT/1", "KJT/1"),
        ("K J T stroke one", "KJT/1"),
        ("DH / 3", "DH/3"),
        ("kilo juliet tango slash twelve", "KJT/12"),
        ("abc forward slash 2", "ABC/2"),
        ("K/1", None),  # one letter is not a person's initials
        ("ABCDE/1", None),
        ("KJT/0", None),
    ],
)
def test_exhibit_reference(said: str, reference: str | None) -> None:
    assert exhibit_reference(said) == reference


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("I seized the jacket, KJT/1, and bagged it.", "KJT/1"),
        ("I produce this as exhibit K J T stroke one.", "K J T stroke one"),
        ("This is exhibit reference ABC/2.", "ABC/2"),
        ("I produce as exhibit DH/3 the CCTV from the shop.", "DH/3"),
        ("Exhibit mike romeo stroke four is the receipt.", "mike romeo stroke four"),
        ("I exhibited it as exhibit SLP 7.", "SLP 7"),  # Whisper lost the slash
    ],
)
def test_exhibits_found(text: str, said: str) -> None:
    assert _found(text, EXHIBIT) == [said]


@pytest.mark.parametrize(
    "text",
    [
        "He had a stroke one day last year.",
        "He was going 40 km/h on the A595.",
        "The form said N/A and I signed it on 12/06.",
        "I work 24/7 at the depot.",
    ],
)
def test_no_false_exhibits(text: str) -> None:
    assert _found(text, EXHIBIT) == []


def test_exhibits_reach_the_statement(extractor: Extractor) -> None:
    text = (
        "My name is Helen Marsh. I produce as exhibit HM/3 the CCTV footage from the shop. I also "
        "hand over a torn receipt, exhibit H M stroke four. Exhibit reference HM/5, being a "
        "mobile phone. I mentioned HM/3 earlier."
    )
    statement = extractor.extract(text, template=Template.MG11, statement_date=DAY)
    assert [(e.reference, e.description) for e in statement.exhibits] == [
        ("HM/3", "CCTV footage from the shop"),
        ("HM/4", "torn receipt"),
        ("HM/5", "mobile phone"),
    ]
    second = statement.exhibits[1]
    assert text[second.start_char : second.end_char] == "H M stroke four"
    assert (second.start_s, second.end_s) == (None, None)  # typed text: no audio
    json = statement.to_dict()
    keys = list(json)
    assert keys.index("exhibits") == keys.index("weapons") + 1
    assert json["exhibits"][0]["reference"] == "HM/3"


def test_no_exhibit_no_description_invented(extractor: Extractor) -> None:
    text = "My name is Helen Marsh. I produce as exhibit HM/6. Nothing else."
    statement = extractor.extract(text, template=Template.MG11, statement_date=DAY)
    assert [(e.reference, e.description) for e in statement.exhibits] == [("HM/6", None)]
