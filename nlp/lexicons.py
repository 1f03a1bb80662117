"""Word lists and patterns kept as data in ``nlp/data/``.

Everything language- or place-specific lives in plain text files so that a new town, weapon or
cue phrase is a one-line change that needs no code review of the rules. Files are read once and
cached; the returned containers are immutable so callers cannot change them for each other.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any


def _lines(name: str) -> list[str]:
    """Non-blank lines of ``nlp/data/<name>``, ``#`` comments dropped."""
    text = resources.files("nlp").joinpath("data", name).read_text(encoding="utf-8")
    out = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            out.append(line)
    return out


@cache
def words(name: str) -> tuple[str, ...]:
    """A one-entry-per-line lexicon, in file order (``words("towns")``)."""
    return tuple(_lines(f"{name}.txt"))


@cache
def lower_set(name: str) -> frozenset[str]:
    """The lexicon lower-cased, for membership tests."""
    return frozenset(w.lower() for w in words(name))


@cache
def mapping(name: str) -> Mapping[str, str]:
    """A ``key value`` lexicon (``nato``: ``alpha A``); keys lower-cased."""
    out: dict[str, str] = {}
    for line in _lines(f"{name}.txt"):
        key, value = line.rsplit(None, 1)
        out[key.lower()] = value
    return MappingProxyType(out)


@cache
def int_mapping(name: str) -> Mapping[str, int]:
    """A ``word number`` lexicon (``number_words``: ``twenty 20``)."""
    return MappingProxyType({k: int(v) for k, v in mapping(name).items()})


def patterns(name: str) -> list[dict[str, Any]]:
    """JSONL patterns from ``nlp/data/patterns/<name>.jsonl`` (a fresh list each call, because
    spaCy's rulers keep and may modify what they are given)."""
    text = (
        resources.files("nlp")
        .joinpath("data", "patterns", f"{name}.jsonl")
        .read_text(encoding="utf-8")
    )
    return [json.loads(line) for line in text.splitlines() if line.strip()]
