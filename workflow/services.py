"""What one process of the service holds: settings, the database, the audio store, the pipeline.

Built once per process (the API, an embedded worker, a Celery worker process) and shared by
every request or task in it.
"""

from __future__ import annotations

import threading
from functools import cached_property

from security.crypto import DataKeys, KeyRing
from security.oidc import OidcVerifier
from workflow.audio_store import AudioStore, make_audio_store
from workflow.database import Database
from workflow.pipeline import StatementPipeline
from workflow.settings import Settings
from workflow.statements import StatementService


class Services:
    def __init__(
        self, settings: Settings | None = None, *, pipeline: StatementPipeline | None = None
    ) -> None:
        """pipeline: one already loaded to share (tests share one across apps)."""
        self.settings = settings or Settings()
        if pipeline is not None:
            self.__dict__["pipeline"] = pipeline
        # Encryption at rest: the key ring (KEK from the environment, or the key file made on
        # first run), the data keys it wraps, and the sealer on the engine for content columns.
        self.keys = KeyRing.from_settings(
            kek=None if self.settings.kek is None else self.settings.kek.get_secret_value(),
            previous=[kek.get_secret_value() for kek in self.settings.previous_keks],
            key_file=self.settings.resolved_key_file,
        )
        self.database = Database(self.settings.resolved_database_url, keys=self.keys)
        if self.database.data_keys is None:  # cannot happen: it was given keys
            raise RuntimeError("the database has no data keys")
        self.data_keys: DataKeys = self.database.data_keys
        self.audio_store: AudioStore = make_audio_store(
            self.settings, self.database, self.data_keys
        )
        # Whisper on a two-core machine runs one recording at a time per process; requests
        # that transcribe directly (the OpenAI-compatible route) queue behind the workers.
        self.pipeline_lock = threading.Lock()

    @cached_property
    def statements(self) -> StatementService:
        """The lifecycle service, and through it the job queue (``statements.jobs``)."""
        return StatementService(self.database, self.settings)

    @cached_property
    def oidc(self) -> OidcVerifier | None:
        """The OpenID Connect bearer-token verifier (None: no issuer configured, local accounts
        only). Built on first use; it caches the issuer's keys."""
        return OidcVerifier.from_settings(self.settings)

    @cached_property
    def pipeline(self) -> StatementPipeline:
        return StatementPipeline(self.settings)

    @property
    def pipeline_loaded(self) -> bool:
        """True once the speech model and the extractor are in memory."""
        loaded = self.__dict__.get("pipeline")
        return loaded is not None and "engine" in loaded.__dict__ and "extractor" in loaded.__dict__

    def warm_up(self) -> None:
        """Load the models now rather than on the first recording."""
        _ = self.pipeline.engine, self.pipeline.extractor

    def close(self) -> None:
        self.database.dispose()
