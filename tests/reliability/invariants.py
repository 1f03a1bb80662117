"""The check every fault test ends with: nothing lost, nothing made twice.

Every recording the service accepted is still in the audio store, and reading it back through
the service's own (decrypting) read path gives bytes with the SHA-256 the client worked out
before sending them; and each became exactly one statement: one statement row, one machine
version, one ``draft_ready`` event, one drafting job, done. The check opens the service's
database and audio store from the same settings (and so the same key file) as the processes
under test.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import func, select

from models.tables import Job, JobState, StatementEvent, StatementRecord, StatementVersion
from tests.reliability.conftest import Report
from workflow.services import Services
from workflow.settings import Settings

_ENV_PREFIX = "VOICE_STATEMENT_"


@dataclass(frozen=True)
class Tally:
    """What the check found: recordings the service accepted, statements it holds, and how
    many accepted recordings are missing, altered or not exactly one drafted statement."""

    accepted: int
    statements: int
    lost: int
    problems: tuple[str, ...]

    def figures(self) -> dict[str, int]:
        return {"accepted": self.accepted, "statements": self.statements, "lost": self.lost}


def settings_of(env: Mapping[str, str]) -> Settings:
    """The settings a service process started with ``env`` runs under."""
    values = {
        name.removeprefix(_ENV_PREFIX).lower(): value
        for name, value in env.items()
        if name.startswith(_ENV_PREFIX)
    }
    return Settings.model_validate(values)


def read_back_sha256(services: Services, audio_key: str) -> str:
    """The SHA-256 of the recording as the service reads it back (decrypted, every chunk's
    tag checked)."""
    store = services.audio_store
    size = store.size(audio_key)
    digest = hashlib.sha256()
    for chunk in store.iter_range(audio_key, 0, size - 1, chunk_size=1024 * 1024):
        digest.update(chunk)
    return digest.hexdigest()


def check_nothing_lost(
    env: Mapping[str, str],
    accepted: Mapping[str, str],
    *,
    min_attempts: int = 1,
    report: Report | None = None,
    fault: str | None = None,
    **figures: object,
) -> Tally:
    """Assert that each accepted recording (statement id -> SHA-256 of the bytes sent) is
    stored intact and drafted exactly once, and that the service holds no other statement.

    min_attempts: drafting tries each job must show (2 where a worker was killed mid-job).
    report, fault: where to record the tally (and ``figures``, e.g. the time to recover) as
    ``faults/<fault>``, before asserting, so that a failing run reports what it lost too.
    """
    tally = tally_recordings(env, accepted, min_attempts=min_attempts)
    if report is not None and fault is not None:
        report.record("faults", fault, {**tally.figures(), **figures})
    assert not tally.problems, "\n".join(tally.problems)
    return tally


def tally_recordings(
    env: Mapping[str, str], accepted: Mapping[str, str], *, min_attempts: int = 1
) -> Tally:
    """The check of :func:`check_nothing_lost`, without asserting: what is wrong, if anything."""
    services = Services(settings_of(env))
    problems: list[str] = []
    try:
        with services.database.session() as session:
            held = {
                row.id: row
                for row in session.execute(
                    select(
                        StatementRecord.id, StatementRecord.audio_key, StatementRecord.audio_sha256
                    ).where(StatementRecord.erased_at.is_(None))
                )
            }
            versions = {
                sid: list(
                    session.execute(
                        select(StatementVersion.number, StatementVersion.kind)
                        .where(StatementVersion.statement_id == sid)
                        .order_by(StatementVersion.number)
                    )
                )
                for sid in accepted
            }
            ready: dict[str, int] = {
                sid: count
                for sid, count in session.execute(
                    select(StatementEvent.statement_id, func.count())
                    .where(StatementEvent.kind == "draft_ready")
                    .group_by(StatementEvent.statement_id)
                )
            }
            jobs: dict[str, list[Job]] = {}
            for job in session.scalars(select(Job)):
                jobs.setdefault(job.statement_id, []).append(job)
        for sid, sha256 in accepted.items():
            record = held.get(sid)
            if record is None:
                problems.append(f"{sid}: accepted, but no statement")
                continue
            if record.audio_sha256 != sha256:
                problems.append(f"{sid}: recorded SHA-256 {record.audio_sha256} != {sha256}")
            try:
                stored = read_back_sha256(services, record.audio_key)
            except Exception as exc:  # missing, cut short, altered: all are a loss
                problems.append(f"{sid}: its recording cannot be read back: {exc!r}")
            else:
                if stored != sha256:
                    problems.append(f"{sid}: the stored recording hashes to {stored}")
            # An officer's edits add versions of their own; the machine drafts once, first.
            machine = [v.number for v in versions[sid] if v.kind == "machine"]
            if machine != [1]:
                problems.append(f"{sid}: machine versions {machine}, not exactly [1]")
            if ready.get(sid, 0) != 1:
                problems.append(f"{sid}: {ready.get(sid, 0)} draft_ready events")
            its_jobs = jobs.get(sid, [])
            if len(its_jobs) != 1 or its_jobs[0].state != JobState.DONE:
                problems.append(f"{sid}: jobs {[(j.kind, j.state) for j in its_jobs]}")
            elif its_jobs[0].attempts < min_attempts:
                problems.append(f"{sid}: {its_jobs[0].attempts} attempts < {min_attempts}")
        extra = sorted(set(held) - set(accepted))
        if extra:
            problems.append(f"statements nobody was told about (made twice?): {extra}")
    finally:
        services.close()
    lost = len({p.split(":")[0] for p in problems if not p.startswith("statements ")})
    return Tally(accepted=len(accepted), statements=len(held), lost=lost, problems=tuple(problems))
