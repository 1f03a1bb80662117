"""End to end on the real spaCy model: made-up statements (not the dev set) in, fields out."""

from __future__ import annotations

from datetime import date

import pytest

from models.statement import Statement, Template
from models.transcript import Segment, Transcript, Word
from nlp import ExtractionError, Extractor, load_extractor

ASSAULT = (
    "My name is Sarah Jane Holloway. I'm thirty-four and I work as a staff nurse. I live at "
    "fourteen Lowther Street, Carlisle, C A three, eight D A. My mobile is oh seven seven double "
    "oh, nine double oh, one two three. On Tuesday, at about quarter past ten at night, I was "
    "walking along Botchergate in Carlisle when a man I know as Darren Pike came up to me and "
    "threatened me with a knife. He drove off in a silver Ford Focus, registration alpha bravo "
    "one two, charlie delta echo. Darren Pike's friend, Mark, was with him."
)
# The same kind of statement as Whisper writes it: digits, not words.
ASSAULT_AS_TRANSCRIBED = (
    " My name is Amir Khan. I'm 41 and I'm a taxi driver. I live at 9 Ennerdale Road, Cleator "
    "Moor, CA25 5LB. My phone number is 07700 900999. At 2am on the 7th of February 2026 I "
    "picked up two men from outside the Walkabout on Botchergate in Carlisle. One of them, "
    "who said his name was Kyle, pulled out a knife and demanded money. My email is "
    "a.khan@example.org."
)
MISSING = (
    "My name is Helen Cross and I'm sixty. I want to report my husband, Robert Cross, missing. "
    "He's seventy-four and he has dementia. I last saw him this morning at around eight "
    "o'clock at our home, twelve Beech Grove, Ulverston. He is about five foot ten and he was "
    "wearing a brown flat cap, a green wax jacket and black shoes. He may have gone to see his "
    "brother, Alan Cross. My number is oh seven seven double oh nine double oh eight eight two."
)


def _values(statement: Statement) -> dict[str, str | int]:
    return {name: f.value for name, f in statement.fields.items()}


def _assert_evidence_is_the_text(statement: Statement, text: str) -> None:
    for name, f in statement.fields.items():
        assert text[f.start_char : f.end_char] == f.text, name
        assert f.text.strip() == f.text and f.text, name
    ranges = [(i.start_char, i.end_char) for i in statement.persons]
    ranges += [(i.start_char, i.end_char) for i in statement.vehicles]
    ranges += [(i.start_char, i.end_char) for i in statement.weapons]
    for start, end in ranges:
        assert 0 <= start < end <= len(text)


def test_witness_statement_spoken(extractor: Extractor) -> None:
    statement = extractor.extract(
        ASSAULT, template=Template.MG11, statement_date=date(2026, 11, 20)
    )
    assert _values(statement) == {
        "witness.name": "Sarah Jane Holloway",
        "witness.age": 34,
        "witness.occupation": "staff nurse",
        "witness.address": "14 Lowther Street, Carlisle",
        "witness.postcode": "CA3 8DA",
        "witness.phone": "07700900123",
        "incident.date": "2026-11-17",  # the Tuesday before Friday 20 November
        "incident.time": "22:15",
        "incident.location": "Botchergate, Carlisle",
    }
    _assert_evidence_is_the_text(statement, ASSAULT)
    assert statement.fields["witness.postcode"].text == "C A three, eight D A"
    assert statement.fields["incident.time"].start_s is None  # text input: no audio times
    assert [(p.name, p.role) for p in statement.persons] == [
        ("Darren Pike", "suspect"),
        ("Mark", "other"),
    ]
    [vehicle] = statement.vehicles
    assert (vehicle.registration, vehicle.make, vehicle.model, vehicle.colour) == (
        "AB12 CDE",
        "Ford",
        "Focus",
        "silver",
    )
    assert [w.value for w in statement.weapons] == ["knife"]
    # The knife is the only thing of concern: a safeguarding flag naming it, nothing missing.
    # Every name was said without a spelling: each is for the officer to confirm.
    [flag] = [f for f in statement.flags if f.kind != "confirm_spelling"]
    assert flag.kind == "safeguarding" and "knife" in flag.reason
    assert [
        (f.field, ASSAULT[f.start_char : f.end_char])
        for f in statement.flags
        if f.kind == "confirm_spelling"
    ] == [("witness.name", "Sarah Jane Holloway"), (None, "Darren Pike"), (None, "Mark")]
    # The narrative is the account as written down: numbers above ten and the read-out phone
    # number as digits, the time (with its part of the day) on the 24-hour clock.
    assert statement.narrative == (
        ASSAULT.replace("thirty-four", "34")
        .replace("fourteen Lowther", "14 Lowther")
        .replace("oh seven seven double oh, nine double oh, one two three", "07700 900123")
        .replace("quarter past ten at night", "22:15")
        .replace("C A three, eight D A", "CA3 8DA")
        .replace("alpha bravo one two, charlie delta echo", "AB12 CDE")
    )


def test_witness_statement_as_transcribed(extractor: Extractor) -> None:
    statement = extractor.extract(
        ASSAULT_AS_TRANSCRIBED, template=Template.MG11, statement_date=date(2026, 2, 14)
    )
    assert _values(statement) == {
        "witness.name": "Amir Khan",
        "witness.age": 41,
        "witness.occupation": "taxi driver",
        "witness.address": "9 Ennerdale Road, Cleator Moor",
        "witness.postcode": "CA25 5LB",
        "witness.phone": "07700900999",
        "witness.email": "a.khan@example.org",
        "incident.date": "2026-02-07",
        "incident.time": "02:00",
        "incident.location": "Botchergate, Carlisle",  # the venue's name is left out
    }
    _assert_evidence_is_the_text(statement, ASSAULT_AS_TRANSCRIBED)
    assert [p.name for p in statement.persons] == ["Kyle"]
    assert [w.value for w in statement.weapons] == ["knife"]
    assert statement.narrative == ASSAULT_AS_TRANSCRIBED.strip().replace("2am", "02:00")


def test_missing_person_report(extractor: Extractor) -> None:
    statement = extractor.extract(
        MISSING, template=Template.MISSING_PERSON, statement_date=date(2026, 9, 9)
    )
    assert _values(statement) == {
        "witness.name": "Helen Cross",
        "witness.age": 60,
        "witness.phone": "07700900882",
        "missing.name": "Robert Cross",
        "missing.age": 74,
        "missing.last_seen_date": "2026-09-09",
        "missing.last_seen_time": "08:00",
        "missing.last_seen_location": "12 Beech Grove, Ulverston",
        "missing.clothing": "brown flat cap, green wax jacket, black shoes",
        "missing.height": 178,
    }
    _assert_evidence_is_the_text(statement, MISSING)
    # the witness and the missing person are not "other persons"
    assert [p.name for p in statement.persons] == ["Alan Cross"]
    # Dementia makes him a vulnerable adult, for the safeguarding team at once; the rest are
    # the three names, to confirm.
    [flag] = [f for f in statement.flags if f.kind != "confirm_spelling"]
    assert {f.field for f in statement.flags if f.kind == "confirm_spelling"} == {
        "witness.name",
        "missing.name",
        None,
    }
    assert flag.kind == "safeguarding" and flag.reason.startswith("vulnerable adult: ")
    assert MISSING[flag.start_char : flag.end_char] == "dementia"


def test_missing_required_is_flagged_and_nothing_is_invented(extractor: Extractor) -> None:
    text = "Age, over eighteen. Someone scratched my car on Oxford Street in Workington."
    statement = extractor.extract(text, template=Template.MG11, statement_date=date(2026, 7, 1))
    assert _values(statement) == {"incident.location": "Oxford Street, Workington"}
    # "over eighteen" answers the age box (a detail, not an age); the occupation was not said
    assert statement.details["witness.over_18"].value == "over 18"
    assert [(f.kind, f.field) for f in statement.flags] == [
        ("missing_required", "witness.name"),
        ("missing_required", "witness.occupation"),
        ("missing_required", "incident.date"),
    ]


def test_spoken_corrections_keep_the_corrected_value(extractor: Extractor) -> None:
    text = (
        "My name is Tom Baker. I'm forty-six, no, sorry, forty-five. The car was a grey Audi, no "
        "sorry, a grey Skoda Octavia, registration yankee kilo two one, bravo bravo romeo."
    )
    statement = extractor.extract(text, template=Template.MG11, statement_date=date(2026, 1, 5))
    assert statement.fields["witness.age"].value == 45
    [vehicle] = statement.vehicles
    assert (vehicle.registration, vehicle.make, vehicle.model) == ("YK21 BBR", "Skoda", "Octavia")


@pytest.mark.parametrize(
    ("said", "address", "postcode"),
    [
        ("I live at 4 Brook Street, Kendall, L.A. 9, 4 B.B.", "4 Brook Street, Kendal", "LA9 4BB"),
        # also a well-formed registration (CA12 OPB), but after "I live at" it is a postcode
        ("I live at Fell Farm, near Keswick, C-A-12, O-P-B.", "Fell Farm, Keswick", "CA12 0PB"),
        # no postcode heard: the address ends with its town, not with the misheard words after
        (
            "I live at two brook street, Keswick, I'm Q-N, my four is.",
            "2 brook street, Keswick",
            None,
        ),
        ("My address is Flat 2, 9 King Street in Penrith.", "Flat 2, 9 King Street, Penrith", None),
    ],
)
def test_witness_address_as_transcribed(
    extractor: Extractor, said: str, address: str, postcode: str | None
) -> None:
    statement = extractor.extract(said, template=Template.MG11, statement_date=date(2026, 1, 5))
    assert statement.fields["witness.address"].value == address
    found = statement.fields.get("witness.postcode")
    assert (found.value if found else None) == postcode
    assert statement.vehicles == []
    _assert_evidence_is_the_text(statement, said)


def test_hesitations_before_a_value(extractor: Extractor) -> None:
    text = "My name is, erm, Sarah Holloway. I work as, um, a staff nurse."
    statement = extractor.extract(text, template=Template.MG11, statement_date=date(2026, 1, 5))
    assert statement.fields["witness.name"].value == "Sarah Holloway"
    assert statement.fields["witness.occupation"].value == "staff nurse"


def _word(word: str, start: float, end: float, probability: float = 0.95) -> Word:
    return Word(word=word, start=start, end=end, probability=probability)


def test_transcript_times_and_confidence(extractor: Extractor) -> None:
    first = Segment(
        start=0.0,
        end=1.5,
        text=" My name is Sarah Holloway.",
        avg_logprob=-0.2,
        no_speech_prob=0.01,
        words=(
            _word(" My", 0.0, 0.2),
            _word(" name", 0.2, 0.4),
            _word(" is", 0.4, 0.5),
            _word(" Sarah", 0.5, 0.9, 0.97),
            _word(" Holloway.", 0.9, 1.5, 0.9),
        ),
    )
    second = Segment(
        start=1.6,
        end=3.6,
        text=" My mobile is 07700 900123.",
        avg_logprob=-0.4,
        no_speech_prob=0.01,
        words=(
            _word(" My", 1.6, 1.7),
            _word(" mobile", 1.7, 2.0),
            _word(" is", 2.0, 2.1),
            _word(" 07700", 2.2, 2.9, 0.41),  # Whisper was unsure of these digits
            _word(" 900123.", 2.9, 3.6, 0.8),
        ),
    )
    transcript = Transcript(
        text=first.text + second.text, language="en", duration_s=3.6, segments=(first, second)
    )
    statement = extractor.extract(
        transcript.text,
        template=Template.MG11,
        statement_date=date(2026, 1, 5),
        transcript=transcript,
    )
    name, phone = statement.fields["witness.name"], statement.fields["witness.phone"]
    assert (name.value, name.start_s, name.end_s, name.confidence) == (
        "Sarah Holloway",
        0.5,
        1.5,
        0.9,
    )
    assert (phone.value, phone.start_s, phone.end_s, phone.confidence) == (
        "07700900123",
        2.2,
        3.6,
        0.41,
    )
    assert [(f.kind, f.field) for f in statement.flags] == [
        ("low_confidence", "witness.phone"),
        ("missing_required", "witness.age"),
        ("missing_required", "witness.occupation"),
        ("missing_required", "incident.date"),
        ("missing_required", "incident.location"),
        ("confirm_spelling", "witness.name"),
    ]
    assert statement.to_dict()["transcript"]["text"] == transcript.text


def test_text_must_be_the_transcript_text(extractor: Extractor) -> None:
    transcript = Transcript(text=" My name is Sarah Holloway.", language="en", duration_s=1.5)
    with pytest.raises(ExtractionError) as raised:
        extractor.extract(
            "My name is Sarah Holloway.",
            template=Template.MG11,
            statement_date=date(2026, 1, 5),
            transcript=transcript,
        )
    assert raised.value.code == "text_mismatch"


def test_empty_text(extractor: Extractor) -> None:
    statement = extractor.extract(
        "", template=Template.MISSING_PERSON, statement_date=date(2026, 1, 5)
    )
    assert statement.fields == {} and statement.narrative == ""
    assert statement.details == {}
    assert {f.field for f in statement.flags} == {
        "witness.name",
        "missing.name",
        "missing.age",
        "missing.last_seen_date",
        "missing.last_seen_time",
        "missing.last_seen_location",
        "missing.clothing",
        "missing.description",
        "missing.risk_factors",
    }


def test_load_extractor_is_cached(extractor: Extractor) -> None:
    assert load_extractor() is extractor


def test_missing_spacy_model_names_the_package() -> None:
    with pytest.raises(ExtractionError) as raised:
        Extractor(spacy_model="en_core_web_nonexistent_xx")
    assert raised.value.code == "spacy_model_missing"
    assert "en-core-web-nonexistent-xx" in str(raised.value)
