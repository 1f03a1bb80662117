"""An officer's enrolled voice, kept in their account: the real speaker encoder on real
recordings, a real database (SQLite, and PostgreSQL where one is reachable), the real command
line. Only the voice print is kept, sealed; the sample's audio never reaches the database."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, inspect, select, text

import app
from models import Principal, Role
from models.tables import SEALED_PREFIX, AuditEntry, User
from security import accounts
from tests.conftest import FIXTURES, write_wav
from transcription.audio import decode_audio
from transcription.diarisation import MAX_SPEAKERS, RESEMBLYZER_WEIGHTS_SHA256
from transcription.errors import ModelError
from workflow.database import MIGRATIONS_DIR, Database
from workflow.pipeline import StatementPipeline
from workflow.voices import (
    SPEAKER_CHOICES,
    Account,
    VoiceError,
    VoiceService,
    diarisation_options,
    enrolled_voice,
    officer_voice_for,
    parse_speakers,
)

DIALOGUES = FIXTURES / "dialogues"
D01 = json.loads((DIALOGUES / "d01.json").read_text(encoding="utf-8"))
D01_AUDIO = DIALOGUES / "d01.ogg"
ENROLMENT = DIALOGUES / D01["officer_enrolment"]  # the officer of d01 reading a few sentences
OFFICER_NAME = "PC 4521 Dawson"


def admin() -> Principal:
    """Whoever runs the command line, as the audit log names them."""
    return Principal(user_id="cli:test", name="test (command line)", roles=frozenset({Role.ADMIN}))


def add_officer(database: Database, name: str = OFFICER_NAME) -> str:
    with database.session() as session:
        user, _ = accounts.add_user(session, name, [Role.OFFICER], "north")
        return user.id


def raw_user_row(database: Database, user_id: str) -> dict[str, Any]:
    """The account's row as the database holds it (no decryption)."""
    with database.engine.connect() as connection:
        row = connection.execute(
            text("SELECT * FROM users WHERE id = :id"), {"id": user_id}
        ).mappings()
        return dict(row.one())


def assert_holds_no_audio(row: dict[str, Any], sample: Path) -> None:
    """The row holds a sealed voice print and nothing of the sample's audio: no run of its
    bytes, and far fewer bytes than even a second of it."""
    sealed = bytes(row["voice_embedding"])
    assert sealed.startswith(SEALED_PREFIX)
    audio = sample.read_bytes()
    assert audio[1000:1064] not in sealed and audio[:64] not in sealed
    # A 256-float print, sealed: a few kilobytes; the sample's PCM is ~32 kB a second.
    assert len(sealed) < 8_000
    everything = b"".join(
        value if isinstance(value, bytes) else str(value).encode() for value in row.values()
    )
    assert b"RIFF" not in everything and b"OggS" not in everything


def audit_operations(database: Database) -> list[tuple[str, str, dict[str, Any]]]:
    with database.session() as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.seq))
        return [(e.operation, e.action, e.detail) for e in entries]


@pytest.fixture
def voices(database: Database, faster_pipeline: StatementPipeline, tmp_path: Path) -> VoiceService:
    return VoiceService(database, faster_pipeline, temp_dir=tmp_path / "tmp")


# --- speakers -------------------------------------------------------------------------------


def test_speakers_are_a_number_of_voices_or_auto() -> None:
    assert (*(str(n) for n in range(2, MAX_SPEAKERS + 1)), "auto") == SPEAKER_CHOICES
    assert parse_speakers(None) is None and parse_speakers(" ") is None
    assert parse_speakers("2") == "2" and parse_speakers(" AUTO ") == "auto"
    for bad in ("1", "7", "two", "2.0", "-2"):
        with pytest.raises(VoiceError) as caught:
            parse_speakers(bad)
        assert caught.value.code == "speakers_invalid"
    assert diarisation_options(None) is None
    two = diarisation_options("2")
    assert two is not None and two.speakers == 2
    counted = diarisation_options("auto")
    assert counted is not None and counted.speakers is None


# --- enrolment ------------------------------------------------------------------------------


@pytest.mark.slow
def test_an_officer_enrols_and_removes_their_voice(
    database: Database, voices: VoiceService, tmp_path: Path
) -> None:
    user_id = add_officer(database)
    account = Account.named(OFFICER_NAME)
    assert not voices.status(account).enrolled

    status = voices.enrol_file(account, ENROLMENT, actor=admin())
    assert status.enrolled and status.user == OFFICER_NAME
    assert status.encoder == "resemblyzer-0.1.4"
    assert status.encoder_sha256 == RESEMBLYZER_WEIGHTS_SHA256
    assert status.speech_s is not None and status.speech_s >= 3
    assert status.enrolled_at is not None
    assert voices.status(Account(user_id=user_id)) == status

    voice = enrolled_voice(database, account)
    assert len(voice.vector) == 256
    assert abs(sum(v * v for v in voice.vector) - 1) < 1e-3  # a unit vector
    assert_holds_no_audio(raw_user_row(database, user_id), ENROLMENT)
    assert officer_voice_for(database, user_id, encoder_sha256=RESEMBLYZER_WEIGHTS_SHA256) == voice
    # A print another encoder made cannot be compared: drafting goes without it.
    assert officer_voice_for(database, user_id, encoder_sha256="0" * 64) is None
    assert officer_voice_for(database, None, encoder_sha256=RESEMBLYZER_WEIGHTS_SHA256) is None

    # Enrolling again replaces it.
    voices.enrol_file(account, ENROLMENT, actor=admin())
    assert voices.remove(account, actor=admin()) is True
    assert not voices.status(account).enrolled
    assert voices.remove(account, actor=admin()) is False  # nothing left: nothing logged
    with database.session() as session:
        user = session.get(User, user_id)
        assert user is not None and user.voice_embedding is None and user.voice_enrolled_at is None
    with pytest.raises(VoiceError) as caught:
        enrolled_voice(database, account)
    assert caught.value.code == "no_enrolled_voice"

    voice_entries = [e for e in audit_operations(database) if e[0].startswith("user.voice")]
    assert [(op, action) for op, action, _ in voice_entries] == [
        ("user.voice_enrol", "collection"),
        ("user.voice_enrol", "collection"),
        ("user.voice_remove", "erasure"),
    ]
    assert voice_entries[0][2]["user"] == OFFICER_NAME
    assert voice_entries[1][2]["replaced"] is True
    assert "vector" not in json.dumps([detail for _, _, detail in voice_entries])


@pytest.mark.slow
def test_a_revoked_account_keeps_no_voice_print(database: Database, voices: VoiceService) -> None:
    user_id = add_officer(database)
    voices.enrol_file(Account.named(OFFICER_NAME), ENROLMENT, actor=admin())
    with database.session() as session:
        accounts.revoke_user(session, OFFICER_NAME)
    with database.session() as session:
        user = session.get(User, user_id)
        assert user is not None and user.revoked_at is not None
        assert user.voice_embedding is None and user.voice_enrolled_at is None


@pytest.mark.slow
def test_a_sample_with_too_little_speech_is_refused_and_not_kept(
    database: Database, voices: VoiceService, tmp_path: Path
) -> None:
    user_id = add_officer(database)
    decoded = decode_audio(ENROLMENT)
    short = write_wav(tmp_path / "short.wav", decoded.samples[: 16_000 * 2])  # two seconds
    with pytest.raises(ModelError) as caught, short.open("rb") as sample:
        voices.enrol_upload(Account(user_id=user_id), sample, actor=admin(), suffix=".wav")
    assert caught.value.code == "enrolment_too_short"
    assert raw_user_row(database, user_id)["voice_embedding"] is None
    assert list((tmp_path / "tmp").iterdir()) == []  # the temporary copy is gone
    assert not any(op.startswith("user.voice") for op, _, _ in audit_operations(database))


def test_an_unknown_account_is_refused_before_the_encoder_runs(voices: VoiceService) -> None:
    with pytest.raises(VoiceError) as caught:
        voices.enrol_file(Account.named("nobody"), ENROLMENT, actor=admin())
    assert caught.value.code == "no_such_user"
    with pytest.raises(VoiceError) as caught:
        voices.status(Account.named("nobody"))
    assert caught.value.code == "no_such_user"
    # A caller signed in through OpenID Connect has no local account to keep a voice in.
    oidc = Account(user_id="oidc:https://issuer|sub-1", name="PC Shah")
    assert voices.status(oidc).enrolled is False
    with pytest.raises(VoiceError) as caught:
        voices.enrol_file(oidc, ENROLMENT, actor=admin())
    assert caught.value.code == "no_local_account"


# --- the migration --------------------------------------------------------------------------


def test_migration_0004_adds_the_columns_to_existing_rows_and_goes_back(
    database_url: str,
) -> None:
    engine = create_engine(database_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))

    def to(revision: str, *, down: bool = False) -> None:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            (command.downgrade if down else command.upgrade)(config, revision)

    def columns(table: str) -> set[str]:
        return {c["name"] for c in inspect(engine).get_columns(table)}

    try:
        to("0003")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO users (id, name, roles, created_at) "
                    "VALUES ('u-1', 'PC 1 Old', '[\"officer\"]', CURRENT_TIMESTAMP)"
                )
            )
        assert "voice_embedding" not in columns("users")
        to("0004")
        assert {"voice_embedding", "voice_enrolled_at"} <= columns("users")
        assert "speakers" in columns("statements") and "speakers" in columns("upload_sessions")
        with engine.connect() as connection:
            row = connection.execute(
                text("SELECT name, voice_embedding, voice_enrolled_at FROM users")
            ).one()
        assert tuple(row) == ("PC 1 Old", None, None)
        to("0003", down=True)
        assert "voice_embedding" not in columns("users")
        assert "speakers" not in columns("statements")
        to("head")
        assert "speakers" in columns("upload_sessions")
    finally:
        engine.dispose()


# --- the command line -----------------------------------------------------------------------


@pytest.fixture
def service_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """The database the command line's ``users`` commands open (its own, in tmp_path), with an
    officer account on it; the models stay in the session's data directory."""
    url = f"sqlite:///{tmp_path / 'service.db'}"
    key_file = tmp_path / "keys" / "kek.key"
    monkeypatch.setenv("VOICE_STATEMENT_DATABASE_URL", url)
    monkeypatch.setenv("VOICE_STATEMENT_KEY_FILE", str(key_file))
    from workflow.services import Services

    services = Services()  # the key file is made here, as the command line would make it
    services.database.migrate()
    add_officer(services.database)
    yield services.database
    services.close()


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = app.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def words(text_: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", text_.lower()))


@pytest.mark.slow
def test_the_command_line_enrols_an_officer_and_knows_their_voice(
    service_database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["users", "enrol", OFFICER_NAME, str(ENROLMENT)], capsys)
    assert code == 0, err
    assert "voice enrolled" in err and "not kept" in err
    with service_database.session() as session:
        user = session.scalars(select(User).where(User.name == OFFICER_NAME)).one()
        user_id = user.id
        assert set(user.voice_embedding or {}) == {
            "vector",
            "encoder",
            "encoder_sha256",
            "speech_s",
        }
    assert_holds_no_audio(raw_user_row(service_database, user_id), ENROLMENT)

    code, out, err = run(
        ["transcribe", str(D01_AUDIO), "--speakers", "2", "--officer", OFFICER_NAME, "--json",
         "--statement-date", D01["statement_date"], "--quiet"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    statement = json.loads(out)
    speakers = statement["transcript"]["speakers"]
    officer = [s for s in speakers if s["role"] == "officer"]
    assert len(officer) == 1, speakers
    assert officer[0]["role_basis"] == "enrolled_voice" and officer[0]["confirmed"] is True
    assert officer[0]["similarity"] >= 0.75
    # The officer's voice is the one that asked the questions (the gold turns say which).
    turns = statement["transcript"]["turns"]
    asked = " ".join(words(t["text"]) for t in turns if t["speaker"] == officer[0]["id"])
    assert "what's your full name" in asked
    narrative = words(statement["narrative"])
    for turn in D01["turns"]:
        if turn["role"] == "officer":
            assert words(turn["text"]) not in narrative, turn["text"]

    code, _, err = run(["users", "unenrol", OFFICER_NAME], capsys)
    assert code == 0 and "removed" in err
    assert raw_user_row(service_database, user_id)["voice_embedding"] is None


def test_the_command_line_refuses_an_officer_without_a_voice(
    service_database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        ["transcribe", str(D01_AUDIO), "--speakers", "2", "--officer", OFFICER_NAME], capsys
    )
    assert code == 2 and not out
    assert "has no enrolled voice" in err and "users enrol" in err
    code, out, err = run(
        ["transcribe", str(D01_AUDIO), "--speakers", "2", "--officer", "PC 9 Nobody"], capsys
    )
    assert code == 2 and "there is no user named 'PC 9 Nobody'" in err
    code, out, err = run(["transcribe", str(D01_AUDIO), "--officer", OFFICER_NAME], capsys)
    assert code == 2 and "--speakers" in err
    code, out, err = run(["users", "enrol", "PC 9 Nobody", str(ENROLMENT)], capsys)
    assert code == 2 and "no user named" in err
    code, _, err = run(["users", "unenrol", OFFICER_NAME], capsys)
    assert code == 0 and "no enrolled voice to remove" in err
