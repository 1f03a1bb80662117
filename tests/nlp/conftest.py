"""Shared fixtures: one real spaCy pipeline for the whole test session (loading it takes most
of a second)."""

from __future__ import annotations

import pytest

from nlp import Extractor, load_extractor


@pytest.fixture(scope="session")
def extractor() -> Extractor:
    return load_extractor()
