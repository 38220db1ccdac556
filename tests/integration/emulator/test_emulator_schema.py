"""GET .../schema and .../compare_schema (Neon's shapes): the schema at a snapshot's point is what a real
pg_dump of that point (a branch restored from the snapshot) says, the head follows the live branch, the
structured form comes from the catalog, and points the emulator has no state for are refused."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from neon_emulator.storage.server_user import pg_bin_dir
from tests.integration.emulator.calls import call

pytestmark = [pytest.mark.emulator, pytest.mark.postgres]

V1 = "CREATE TABLE contacts (id serial PRIMARY KEY, name text NOT NULL, email text UNIQUE)"
V2 = [
    "ALTER TABLE contacts ADD COLUMN role text DEFAULT 'member', ALTER COLUMN email SET NOT NULL",
    "CREATE TABLE notes (id int PRIMARY KEY, contact_id int REFERENCES contacts (id), body text)",
    "CREATE INDEX notes_body_idx ON notes (body)",
]


def _run(uri: str, *statements: str) -> None:
    with psycopg.connect(uri, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def _snapshot(api: httpx.Client, pid: str, bid: str, name: str) -> dict[str, Any]:
    r = call(api, "POST", f"/projects/{pid}/branches/{bid}/snapshot", params={"name": name})
    assert r.status_code == 200, r.text
    snap: dict[str, Any] = r.json()["snapshot"]
    return snap


def _without_keys(sql: str) -> list[str]:
    # pg_dump writes a random \restrict key per run: the only line two dumps of one schema differ in.
    return [line for line in sql.splitlines() if not line.startswith(("\\restrict", "\\unrestrict"))]


def _pg_dump(uri: str) -> str:
    done = subprocess.run(
        [str(Path(pg_bin_dir()) / "pg_dump"), "--schema-only", "--dbname", uri],
        capture_output=True,
        check=True,
    )
    return done.stdout.decode()


def _schema(api: httpx.Client, pid: str, bid: str, **params: str) -> httpx.Response:
    return api.get(f"/projects/{pid}/branches/{bid}/schema", params={"db_name": "neondb", **params})


def test_schema_at_snapshot_points_matches_a_real_dump(api: httpx.Client, project: dict[str, Any]) -> None:
    pid, bid = project["project"]["id"], project["branch"]["id"]
    uri = project["connection_uris"][0]["connection_uri"]
    _run(uri, V1)
    snap1 = _snapshot(api, pid, bid, "v1")
    _run(uri, *V2)
    snap2 = _snapshot(api, pid, bid, "v2")
    _run(uri, "DROP TABLE notes")  # the head moves on past v2

    # v1 by its timestamp (the emulator's snapshots of a stopped compute have no lsn), v2 by lsn if any.
    r1 = _schema(api, pid, bid, timestamp=snap1["timestamp"])
    assert r1.status_code == 200, r1.text
    assert set(r1.json()) == {"sql"}
    v2_point = {"lsn": snap2["lsn"]} if snap2.get("lsn") else {"timestamp": snap2["timestamp"]}
    sql2 = _schema(api, pid, bid, **v2_point).json()["sql"]
    head = _schema(api, pid, bid).json()["sql"]
    assert "CREATE TABLE public.notes" not in r1.json()["sql"] and "CREATE TABLE public.notes" in sql2
    assert "CREATE TABLE public.notes" not in head

    # A real pg_dump of the same point: a branch restored from the v2 snapshot.
    restored = call(
        api,
        "POST",
        f"/projects/{pid}/snapshots/{snap2['id']}/restore",
        json={"name": "v2-dump", "target_branch_id": bid, "finalize_restore": False},
    ).json()
    restored_uri = api.get(
        f"/projects/{pid}/connection_uri",
        params={
            "branch_id": restored["branch"]["id"],
            "database_name": "neondb",
            "role_name": "neondb_owner",
        },
    ).json()["uri"]
    assert _without_keys(sql2) == _without_keys(_pg_dump(restored_uri))

    structure = _schema(api, pid, bid, format="json", **v2_point).json()["json"]
    tables = {t["name"]: t for t in structure["tables"]}
    assert set(tables) == {"contacts", "notes"}
    columns = {c["name"]: c for c in tables["contacts"]["columns"]}
    assert list(columns) == ["id", "name", "email", "role"]
    assert columns["email"]["nullable"] is False and columns["role"]["nullable"] is True
    assert columns["role"]["default"] == "'member'::text" and columns["id"]["type"] == "integer"
    fk = next(c for c in tables["notes"]["constraints"] if c["type"] == "foreign_key")
    assert fk["columns"] == ["contact_id"]
    assert fk["referenced_table"] == {"schema": "public", "table": "contacts", "columns": ["id"]}
    assert {i["name"] for i in tables["notes"]["indexes"]} == {"notes_pkey", "notes_body_idx"}

    diff = api.get(
        f"/projects/{pid}/branches/{bid}/compare_schema",
        params={
            "db_name": "neondb",
            "base_branch_id": bid,
            "base_timestamp": snap1["timestamp"],
            **v2_point,
        },
    ).json()
    assert set(diff) == {"diff"}
    text = diff["diff"]
    assert text.startswith("--- a/neondb\n+++ b/neondb\n@@ ")
    assert "+CREATE TABLE public.notes (" in text and "+    role text DEFAULT 'member'::text" in text
    same = api.get(
        f"/projects/{pid}/branches/{bid}/compare_schema",
        params={
            "db_name": "neondb",
            "base_branch_id": bid,
            **v2_point,
            "base_" + next(iter(v2_point)): next(iter(v2_point.values())),
        },
    ).json()
    assert same == {"diff": ""}


def test_schema_refuses_points_it_has_no_state_for(api: httpx.Client, project: dict[str, Any]) -> None:
    pid, bid = project["project"]["id"], project["branch"]["id"]
    assert _schema(api, pid, bid, lsn="0/DEADBEEF").status_code == 400
    assert _schema(api, pid, bid, timestamp="2020-01-01T00:00:00Z").status_code == 400
    assert _schema(api, pid, bid, lsn="0/1", timestamp="2020-01-01T00:00:00Z").status_code == 400
    r = api.get(f"/projects/{pid}/branches/{bid}/schema", params={"db_name": "nope"})
    assert r.status_code == 404 and "nope" in r.json()["message"]
    assert api.get(f"/projects/{pid}/branches/{bid}/schema").status_code == 400
    assert _schema(api, pid, bid, format="yaml").status_code == 400
