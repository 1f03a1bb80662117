"""Statement field extraction: spaCy plus rules, from a transcript to a :class:`models.Statement`.

    from nlp import load_extractor
    statement = load_extractor().extract(text, template=Template.MG11, statement_date=today)

Modules: :mod:`nlp.normalise` (spoken values → normal forms, pure functions),
:mod:`nlp.mentions` (where values are in the text), :mod:`nlp.pipeline` (the spaCy pipeline and
its components), :mod:`nlp.rules` (field rules), :mod:`nlp.timing` (transcript word timings),
:mod:`nlp.lexicons` (word lists and patterns in ``nlp/data/``), :mod:`nlp.dialogue` (a
recording with an officer's and a witness's voice: roles, exchanges, the witness's narrative).
"""

from nlp.dialogue import (
    draft_dialogue,
    group_exchanges,
    propose_roles,
    question_counts,
    record_text,
)
from nlp.errors import ExtractionError
from nlp.extractor import DEFAULT_SPACY_MODEL, Extractor, load_extractor

__all__ = [
    "DEFAULT_SPACY_MODEL",
    "ExtractionError",
    "Extractor",
    "draft_dialogue",
    "group_exchanges",
    "load_extractor",
    "propose_roles",
    "question_counts",
    "record_text",
]
