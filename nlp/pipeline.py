"""The spaCy pipeline: the packaged English model plus the statement components.

After ``en_core_web_sm``'s own components the pipeline runs:

``vehicle_brand_ruler`` (EntityRuler, before ``ner``)
    claims vehicle makes with their model ("Vauxhall Corsa" → ``VEHICLE``) and clothing brands
    ("Stone Island" → ``BRAND``), which the statistical NER otherwise tags as PERSON or GPE.
``place_ruler`` (EntityRuler, after ``ner``)
    adds the towns of ``data/towns.txt`` as ``GPE`` where NER found nothing there.
``cue_ruler`` (SpanRuler → ``doc.spans["cues"]``)
    the phrases that introduce a field ("my name is", "I live at", "was wearing"), from
    ``data/patterns/cues.jsonl``.
``lexicon_ruler``, ``lexicon_lemma_ruler`` (SpanRulers → ``doc.spans["lexicon"]``)
    weapons, clothing and colours from the word lists, by spelling and by lemma.
``statement_mentions`` (→ ``doc.spans["mentions"]``)
    spoken values: phone numbers, postcodes, registrations, emails, times, dates, heights.

Field rules (:mod:`nlp.rules`) read these span groups; they do not run matchers themselves.
"""

from __future__ import annotations

from typing import Any, cast

import spacy
from spacy.language import Language
from spacy.pipeline import EntityRuler, SpanRuler
from spacy.tokens import Doc

from nlp import lexicons
from nlp.errors import ExtractionError
from nlp.integrity import verify_spacy_model
from nlp.mentions import find_mentions

CUES = "cues"
LEXICON = "lexicon"
MENTIONS = "mentions"

VEHICLE = "VEHICLE"
BRAND = "BRAND"
WEAPON = "WEAPON"
CLOTHING = "CLOTHING"
COLOUR = "COLOUR"


class MentionFinder:
    """Marks spoken values (see :mod:`nlp.mentions`) as spans labelled ``PHONE``, ``POSTCODE``,
    ``REGISTRATION``, ``EMAIL``, ``TIME``, ``DATE`` or ``HEIGHT``."""

    def __init__(self, spans_key: str) -> None:
        self.spans_key = spans_key

    def __call__(self, doc: Doc) -> Doc:
        spans = []
        for mention in find_mentions(doc.text):
            # "expand": a value may end inside a token ("KX71" is one token, "KX" one letter)
            span = doc.char_span(
                mention.start, mention.end, label=mention.label, alignment_mode="expand"
            )
            if span is not None:
                spans.append(span)
        doc.spans[self.spans_key] = spans
        return doc


@Language.factory(
    "statement_mentions",
    assigns=["doc.spans"],
    default_config={"spans_key": MENTIONS},
)
def make_statement_mentions(nlp: Language, name: str, spans_key: str) -> MentionFinder:
    return MentionFinder(spans_key)


def _token_pattern(nlp: Language, phrase: str) -> list[dict[str, Any]]:
    """Exact-spelling token pattern for a phrase, split the way the tokenizer splits it."""
    return [{"ORTH": t.text} for t in nlp.make_doc(phrase)]


def _vehicle_and_brand_patterns(nlp: Language) -> list[dict[str, Any]]:
    patterns: list[dict[str, Any]] = []
    for make in lexicons.words("vehicle_makes"):
        # the make and up to two capitalised model words: "Ford Transit Custom", "Kia Picanto"
        model = [{"IS_TITLE": True, "IS_SENT_START": False, "OP": "?"}] * 2
        patterns.append({"label": VEHICLE, "pattern": _token_pattern(nlp, make) + model})
    for brand in lexicons.words("clothing_brands"):
        patterns.append({"label": BRAND, "pattern": _token_pattern(nlp, brand)})
    return patterns


def _lexicon_patterns() -> list[dict[str, Any]]:
    """The word lists as phrase patterns (matched by a PhraseMatcher: one hash lookup a token,
    where token patterns cost a matcher state each)."""
    return [
        {"label": label, "pattern": phrase}
        for label, name in ((WEAPON, "weapons"), (CLOTHING, "clothing"), (COLOUR, "colours"))
        for phrase in lexicons.words(name)
    ]


def _base_form_patterns(nlp: Language, patterns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The patterns whose words are their own lemmas ("knife", "baseball bat"), for matching by
    lemma: "knives" is a knife, but "bottoms" (clothing) must not find the bottom of a bag nor
    "glasses" the verb "to glass"."""
    texts = [str(p["pattern"]) for p in patterns]
    with nlp.select_pipes(enable=["tok2vec", "tagger", "attribute_ruler", "lemmatizer"]):
        docs = list(nlp.pipe(texts))
    return [
        p
        for p, doc in zip(patterns, docs, strict=True)
        if all(t.lemma_.lower() == t.lower_ for t in doc)
    ]


def build_pipeline(spacy_model: str, *, pinned_sha256: str | None = None) -> Language:
    """Load ``spacy_model`` and add the statement components.

    The model's weights are checked against their pins first (:mod:`nlp.integrity`: the bundled
    model's digest kept in the repository, and ``pinned_sha256`` from the settings), and loaded
    from the directory that was checked. Raises :class:`ExtractionError`
    (``code="spacy_model_missing"``) when the model package is not installed, and
    (``code="spacy_model_checksum"``) when its weights are not the pinned ones.
    """
    check = verify_spacy_model(spacy_model, pinned_sha256=pinned_sha256)
    try:
        nlp = spacy.load(check.directory)
    except OSError as exc:
        package = spacy_model.replace("_", "-")
        raise ExtractionError(
            "spacy_model_missing",
            f"spaCy model {spacy_model!r} is not installed: install the Python package "
            f"{package} (pip install {package}); spacy download needs the internet and is not "
            "used here",
        ) from exc

    vehicles = cast(
        EntityRuler,
        nlp.add_pipe(
            "entity_ruler", name="vehicle_brand_ruler", before="ner", config={"validate": True}
        ),
    )
    vehicles.add_patterns(_vehicle_and_brand_patterns(nlp))

    places = cast(
        EntityRuler,
        nlp.add_pipe(
            "entity_ruler", name="place_ruler", after="ner", config={"overwrite_ents": False}
        ),
    )
    places.add_patterns([{"label": "GPE", "pattern": t} for t in lexicons.words("towns")])

    # Cue patterns have optional words ("my phone [number] [is]"): keep the longest of
    # overlapping matches so each cue is one span.
    cues = cast(
        SpanRuler,
        nlp.add_pipe(
            "span_ruler",
            name="cue_ruler",
            config={
                "spans_key": CUES,
                "validate": True,
                "spans_filter": {"@misc": "spacy.first_longest_spans_filter.v1"},
            },
        ),
    )
    cues.add_patterns(lexicons.patterns("cues"))

    # Each word list twice: by spelling, and by lemma so that "knives" finds "knife" and
    # "baseball bats" finds "baseball bat". The second ruler adds to the first's spans.
    by_spelling = _lexicon_patterns()
    by_lemma = _base_form_patterns(nlp, by_spelling)
    for name, attr, overwrite, patterns in (
        ("lexicon_ruler", "LOWER", True, by_spelling),
        ("lexicon_lemma_ruler", "LEMMA", False, by_lemma),
    ):
        lexicon = cast(
            SpanRuler,
            nlp.add_pipe(
                "span_ruler",
                name=name,
                config={"spans_key": LEXICON, "phrase_matcher_attr": attr, "overwrite": overwrite},
            ),
        )
        lexicon.add_patterns(patterns)

    nlp.add_pipe("statement_mentions")
    return nlp
