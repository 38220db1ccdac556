"""Project soft delete, as on Neon since 2026: a deleted project answers 404, is listed by
`GET /projects?recoverable=true` with `deleted_at`/`recoverable_until`, and `POST /projects/{id}/recover`
brings it back with its branches and data within the window; past it, it is removed for good."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from neon_emulator.model.clock import parse_ts
from tests.integration.emulator.calls import call, create_project, wait_idle
from tests.support.emulator import PROJECT_RECOVERY_SECONDS, emulator_data_dir, running_emulator

pytestmark = [pytest.mark.emulator, pytest.mark.postgres]


def test_a_deleted_project_is_recoverable_with_its_data(api: httpx.Client) -> None:
    created = create_project(api, name="recoverable")
    pid, uri = created["project"]["id"], created["connection_uris"][0]["connection_uri"]
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)")

    assert call(api, "DELETE", f"/projects/{pid}", wait=False).status_code == 200
    assert api.get(f"/projects/{pid}").status_code == 404
    assert api.get(f"/projects/{pid}/branches").status_code == 404
    assert pid not in [p["id"] for p in api.get("/projects", params={"limit": 400}).json()["projects"]]
    listed = {p["id"]: p for p in api.get("/projects", params={"recoverable": "true"}).json()["projects"]}
    window = parse_ts(listed[pid]["recoverable_until"]) - parse_ts(listed[pid]["deleted_at"])
    assert window == timedelta(seconds=PROJECT_RECOVERY_SECONDS)

    r = api.post(f"/projects/{pid}/recover")
    assert r.status_code == 200, r.text
    assert r.json()["project"]["id"] == pid and "deleted_at" not in r.json()["project"]
    assert [b["name"] for b in r.json()["branches"]] == ["main"]
    wait_idle(api, pid)  # its compute starts again
    with psycopg.connect(uri, autocommit=True) as conn:  # the same connection string
        assert conn.execute("SELECT v FROM kept").fetchall() == [(42,)]
    assert api.post(f"/projects/{pid}/recover").status_code == 400  # not deleted
    assert pid not in [
        p["id"] for p in api.get("/projects", params={"recoverable": "true"}).json()["projects"]
    ]
    call(api, "DELETE", f"/projects/{pid}", wait=False)


def test_past_its_window_a_deleted_project_is_removed_for_good() -> None:
    with (
        emulator_data_dir("recovery") as data_dir,
        running_emulator(data_dir, args=("--project-recovery", "1")) as server,
        server.client() as api,
    ):
        created: dict[str, Any] = create_project(api, name="short-lived")
        pid, main = created["project"]["id"], created["branch"]["id"]
        storage = Path(data_dir) / "storage"
        assert any(main in p.name for p in storage.iterdir())
        assert call(api, "DELETE", f"/projects/{pid}", wait=False).status_code == 200
        deadline = time.monotonic() + 30
        while any(main in p.name for p in storage.iterdir()):
            assert time.monotonic() < deadline, "the deleted project's storage is still there"
            time.sleep(0.2)
        assert api.post(f"/projects/{pid}/recover").status_code == 404
        assert api.get("/projects", params={"recoverable": "true"}).json()["projects"] == []
