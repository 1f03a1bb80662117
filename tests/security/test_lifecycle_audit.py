"""One statement's whole life through the API, and the audit log it leaves (DPA 2018 s.62).

Every collection, alteration, consultation and disclosure is there exactly once, with who, when,
what and why; nothing else is; no entry holds the statement's content; and the chain verifies,
from the API and from the command line, until someone tampers with it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from app import create_app, main
from models import Role
from security import accounts
from tests.conftest import AUDIO_FIXTURES
from tests.http_sink import HttpSink, start_sink
from workflow.pipeline import StatementPipeline
from workflow.settings import Settings

MG11 = AUDIO_FIXTURES / "mg11_assault.ogg"
WHY = "case file 42/2026: preparing the file for the CPS"


@pytest.fixture
def sink() -> Iterator[HttpSink]:
    server = start_sink()
    yield server
    server.close()


@pytest.fixture(scope="module")
def lifecycle_pipeline(data_dir: Path) -> StatementPipeline:
    return StatementPipeline(Settings(data_dir=data_dir))


def _bearer(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


def _entries(client: TestClient, admin: str, statement_id: str) -> list[dict[str, Any]]:
    response = client.get(
        "/api/v1/admin/audit",
        params={"statement_id": statement_id, "page_size": 500},
        headers=_bearer(admin),
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_the_lifecycle_leaves_exactly_the_entries_s62_asks_for(
    database_url: str,
    tmp_path: Path,
    lifecycle_pipeline: StatementPipeline,
    sink: HttpSink,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        poll_interval_s=0.1,
        delivery_backoff_s=0.1,
        submission_url=f"{sink.url}/cjs",
    )
    app = create_app(settings, pipeline=lifecycle_pipeline)
    with TestClient(app) as client:
        with app.state.services.database.session() as session:
            officer_user, officer = accounts.add_user(
                session, "PC 4521 Dawson", [Role.OFFICER], "north"
            )
            builder_user, builder = accounts.add_user(
                session, "DC 77 Ellis", [Role.CASE_BUILDER], "north"
            )
            _, admin = accounts.add_user(session, "records admin", [Role.ADMIN], None)

        with MG11.open("rb") as audio:
            created = client.post(
                "/api/v1/statements",
                files={"audio": (MG11.name, audio, "audio/ogg")},
                data={"template": "mg11", "statement_date": "2026-11-20"},
                headers=_bearer(officer),
            )
        assert created.status_code == 202, created.text
        sid = created.json()["id"]
        url = f"/api/v1/statements/{sid}"
        for _ in range(600):  # progress is not a consultation: polling leaves no entries
            if client.get(f"{url}/progress", headers=_bearer(officer)).json()["done"]:
                break
            time.sleep(0.1)

        steps = [
            client.get(url, headers=_bearer(officer)),
            client.patch(
                url, json={"fields": {"witness.phone": "07700 900123"}}, headers=_bearer(officer)
            ),
            client.post(
                f"{url}/confirm",
                json={"witness_declaration_accepted": True, "place": "Penrith"},
                headers=_bearer(officer),
            ),
            client.get(url, headers=_bearer(builder, **{"X-Justification": WHY})),
            client.get(f"{url}/export.pdf", headers=_bearer(builder, **{"X-Justification": WHY})),
            client.get(
                f"{url}/audio",
                headers=_bearer(builder, **{"X-Justification": WHY, "Range": "bytes=0-99"}),
            ),
            client.post(f"{url}/submit", json={"justification": WHY}, headers=_bearer(builder)),
        ]
        assert [r.status_code for r in steps] == [200, 200, 200, 200, 200, 206, 202], [
            r.text[:200] for r in steps
        ]
        sink.wait_for("/cjs", 1)
        for _ in range(100):  # the delivery's own entry is written as it is recorded
            entries = _entries(client, admin, sid)
            if entries[-1]["operation"] == "submission.delivered":
                break
            time.sleep(0.1)

        observed = [
            (e["action"], e["operation"], e["actor_name"], e["justification"]) for e in entries
        ]
        assert observed == [
            ("collection", "statement.create", "PC 4521 Dawson", None),
            ("collection", "statement.draft", "voice-statement", None),
            ("consultation", "statement.view", "PC 4521 Dawson", None),
            ("alteration", "statement.edit", "PC 4521 Dawson", None),
            ("alteration", "statement.confirm", "PC 4521 Dawson", None),
            ("consultation", "statement.view", "DC 77 Ellis", WHY),
            ("consultation", "statement.export", "DC 77 Ellis", WHY),
            ("consultation", "audio.play", "DC 77 Ellis", WHY),
            ("disclosure", "statement.submit", "DC 77 Ellis", WHY),
            ("disclosure", "submission.delivered", "voice-statement", None),
        ]
        by_operation = {e["operation"]: e for e in entries}
        assert by_operation["statement.create"]["actor_id"] == officer_user.id
        assert entries[2]["actor_id"] == officer_user.id  # the officer's own view
        assert entries[5]["actor_id"] == builder_user.id  # the case builder's
        assert by_operation["statement.submit"]["actor_id"] == builder_user.id
        assert (
            by_operation["statement.create"]["detail"]["audio_sha256"]
            == created.json()["audio_sha256"]
        )
        assert by_operation["statement.edit"]["detail"]["fields"] == ["witness.phone"]
        assert by_operation["statement.export"]["detail"]["format"] == "pdf"
        assert by_operation["audio.play"]["detail"]["range"] == "bytes=0-99"
        assert by_operation["submission.delivered"]["detail"]["recipient"] == f"{sink.url}/cjs"
        # Who, when, what, which statement: never the statement's content.
        witness = steps[0].json()["statement"]["fields"]["witness.name"]["value"]
        assert witness and all(witness not in str(e) for e in entries)
        assert all("07700" not in str(e) for e in entries)

        erased = client.post(
            f"/api/v1/admin/statements/{sid}/erase",
            json={"justification": "court order 2026/118"},
            headers=_bearer(admin),
        )
        assert erased.status_code == 200, erased.text
        last = _entries(client, admin, sid)[-1]
        assert (last["action"], last["operation"]) == ("erasure", "statement.erase")
        after = client.get(url, headers=_bearer(officer))
        assert after.status_code == 200 and after.json()["status"] == "erased"
        assert after.json()["statement"] is None
        assert client.get(f"{url}/audio", headers=_bearer(officer)).status_code == 410

        verified = client.get("/api/v1/admin/audit/verify", headers=_bearer(admin)).json()
        assert verified["ok"] is True and verified["entries"] >= len(entries) + 1

    # The same check from the command line, then after a DBA-level edit of one entry.
    monkeypatch.setenv("VOICE_STATEMENT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VOICE_STATEMENT_DATABASE_URL", database_url)
    assert main(["audit", "verify"]) == 0
    tampered = entries[5]["seq"]
    engine = app.state.services.database.engine
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        else:
            connection.execute(text("DROP TRIGGER audit_log_no_update"))
        connection.execute(
            text("UPDATE audit_log SET justification = 'routine' WHERE seq = :seq"),
            {"seq": tampered},
        )
    assert main(["audit", "verify"]) == 1
