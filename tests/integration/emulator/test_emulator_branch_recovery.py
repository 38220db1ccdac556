"""Branch soft delete, as on Neon since 2026 (neon-api.md §12): DELETE keeps a branch recoverable for 7 days
unless `hard_delete=true`; `include_deleted=true` lists it with its `recovery`; `POST .../recover` brings it
back with its data, roles, databases and endpoint (the same connection string)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import psycopg
import pytest

from neon_emulator.model.clock import parse_ts
from tests.integration.emulator.calls import call, wait_idle

pytestmark = [pytest.mark.emulator, pytest.mark.postgres]


def listed(api: httpx.Client, pid: str, **params: str) -> dict[str, dict[str, Any]]:
    r = api.get(f"/projects/{pid}/branches", params=params)
    r.raise_for_status()
    return {b["id"]: b for b in r.json()["branches"]}


def test_a_deleted_branch_is_recoverable_with_its_data(api: httpx.Client, project: dict[str, Any]) -> None:
    pid = project["project"]["id"]
    body = {"branch": {"name": "feature"}, "endpoints": [{"type": "read_write"}]}
    made = call(api, "POST", f"/projects/{pid}/branches", json=body).json()
    bid, uri = made["branch"]["id"], made["connection_uris"][0]["connection_uri"]
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (v int); INSERT INTO kept VALUES (7)")

    r = call(api, "DELETE", f"/projects/{pid}/branches/{bid}")
    assert r.status_code == 200 and [o["action"] for o in r.json()["operations"]] == [
        "suspend_compute",
        "delete_timeline",
    ]
    assert api.get(f"/projects/{pid}/branches/{bid}").status_code == 404
    assert bid not in listed(api, pid)
    assert call(api, "DELETE", f"/projects/{pid}/branches/{bid}").status_code == 204  # already deleted
    recovery = listed(api, pid, include_deleted="true")[bid]["recovery"]
    window = parse_ts(recovery["recoverable_until"]) - parse_ts(recovery["deleted_at"])
    assert window == timedelta(days=7) and recovery["deletion_method"] == "user"

    # Its name is free meanwhile; recovering while another branch holds it is a conflict.
    other = call(api, "POST", f"/projects/{pid}/branches", json={"branch": {"name": "feature"}}).json()
    assert call(api, "POST", f"/projects/{pid}/branches/{bid}/recover").status_code == 409
    gone = call(
        api, "DELETE", f"/projects/{pid}/branches/{other['branch']['id']}", params={"hard_delete": "true"}
    )
    assert gone.status_code == 200
    assert other["branch"]["id"] not in listed(api, pid, include_deleted="true")

    r = call(api, "POST", f"/projects/{pid}/branches/{bid}/recover")
    assert r.status_code == 200, r.text
    assert r.json()["branch"]["name"] == "feature" and "recovery" not in r.json()["branch"]
    assert [e["id"] for e in r.json()["endpoints"]] == [made["endpoints"][0]["id"]]
    wait_idle(api, pid)  # the endpoint's start
    with psycopg.connect(uri, autocommit=True) as conn:
        assert conn.execute("SELECT v FROM kept").fetchall() == [(7,)]
    assert bid in listed(api, pid)
    assert call(api, "POST", f"/projects/{pid}/branches/{bid}/recover").status_code == 400  # not deleted


def test_hard_delete_is_final(api: httpx.Client, project: dict[str, Any]) -> None:
    pid = project["project"]["id"]
    bid = call(api, "POST", f"/projects/{pid}/branches", json={"branch": {"name": "x"}}).json()["branch"][
        "id"
    ]
    assert call(api, "DELETE", f"/projects/{pid}/branches/{bid}").status_code == 200
    # hard_delete on a soft-deleted branch removes it for good (how a client ends the 7-day tail).
    r = call(api, "DELETE", f"/projects/{pid}/branches/{bid}", params={"hard_delete": "true"})
    assert r.status_code == 200 and [o["action"] for o in r.json()["operations"]] == ["delete_timeline"]
    assert bid not in listed(api, pid, include_deleted="true")
    assert call(api, "POST", f"/projects/{pid}/branches/{bid}/recover").status_code == 404
