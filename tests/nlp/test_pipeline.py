"""The spaCy pipeline with the statement components, on the real model."""

from __future__ import annotations

from nlp import Extractor


def test_components_in_order(extractor: Extractor) -> None:
    names = extractor.nlp.pipe_names
    assert names.index("vehicle_brand_ruler") < names.index("ner") < names.index("place_ruler")
    assert names[-4:] == [
        "cue_ruler",
        "lexicon_ruler",
        "lexicon_lemma_ruler",
        "statement_mentions",
    ]


def test_word_lists_match_by_spelling_and_by_lemma_of_base_forms(extractor: Extractor) -> None:
    doc = extractor.nlp(
        "He had two knives and some baseball bats in the boot. She had black shorts on. "
        "It fell to the bottom of the bag and he said he would glass her."
    )
    found = sorted({(s.label_, s.text) for s in doc.spans["lexicon"]})
    assert ("WEAPON", "knives") in found  # by lemma: knife
    assert ("WEAPON", "baseball bats") in found
    assert ("CLOTHING", "shorts") in found  # by spelling
    # "bottoms" and "glasses" are listed as clothing: their lemmas are not
    assert ("CLOTHING", "bottom") not in found
    assert ("CLOTHING", "glass") not in found


def test_vehicle_makes_are_not_people(extractor: Extractor) -> None:
    # en_core_web_sm tags "Vauxhall Corsa" as PERSON on its own
    doc = extractor.nlp("He drove off in a silver Vauxhall Corsa with Darren Pike.")
    labels = {e.text: e.label_ for e in doc.ents}
    assert labels["Vauxhall Corsa"] == "VEHICLE"
    assert labels["Darren Pike"] == "PERSON"


def test_span_groups(extractor: Extractor) -> None:
    doc = extractor.nlp(
        "My name is Sarah Holloway. He hit me with a baseball bat in Keswick at 10pm."
    )
    assert [(s.label_, s.text) for s in doc.spans["cues"]] == [("WITNESS_NAME", "My name is")]
    assert ("WEAPON", "baseball bat") in [(s.label_, s.text) for s in doc.spans["lexicon"]]
    assert [(s.label_, s.text) for s in doc.spans["mentions"]] == [("TIME", "10pm")]
    assert [e.text for e in doc.ents if e.label_ == "GPE"] == ["Keswick"]
