"""Schema capture with the real operator (issue 15 item 1): a Checkpoint that becomes Ready gets its schema
(as of its snapshot, not of the branch later) into the meta database and `SchemaCaptured=True`; the same
schema is stored once; a failing capture leaves the checkpoint Ready with `SchemaCaptured=False`, the
reason and a Warning, and is retried until it succeeds, or not at all when the answer cannot change."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from tests.e2e.checkpoint.conftest import Harness, eventually

pytestmark = [pytest.mark.kube, pytest.mark.emulator, pytest.mark.postgres]


def _project(harness: Harness) -> tuple[str, str]:
    with harness.neon() as neon:
        created = neon.create_project(name=f"e2e-{harness.namespace}", branch_name="production")
        neon.wait_for_operations(created.project.id, created.operations, timeout=60)
        return created.project.id, created.connection_uris[0]


def _sql(uri: str, *statements: str) -> None:
    with psycopg.connect(uri, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def _checkpoint(harness: Harness, project: str, name: str, **replace: str) -> None:
    manifest = harness.example("checkpoint.yaml", project, **{"name: v1": f"name: {name}", **replace})
    applied = harness.apply(manifest)
    assert applied.returncode == 0, applied.stderr


def _condition(harness: Harness, name: str) -> dict[str, Any] | None:
    status = harness.get("checkpoint", name).get("status", {})
    return next((c for c in status.get("conditions", []) if c["type"] == "SchemaCaptured"), None)


def _captured(harness: Harness, name: str, status: str = "True") -> dict[str, Any]:
    return eventually(
        lambda: c if (c := _condition(harness, name)) and c["status"] == status else None,
        timeout=60,
        what=f"SchemaCaptured={status} on {name}",
        h=harness,
    )


SCHEMA_OF = (
    "SELECT cs.schema_digest FROM checkpoint_schemas cs JOIN checkpoints c ON c.id = cs.checkpoint_id"
    " WHERE c.name = %s"
)


def _routes(harness: Harness) -> dict[str, int]:
    with harness.emulator.admin() as admin:
        routes: dict[str, int] = admin.get("/requests").json()["routes"]
    # "GET /api/v2/projects/{project_id}/branches/{branch_id}/schema" -> "GET schema"
    return {f"{r.split(' ', 1)[0]} {r.rsplit('/', 1)[-1]}": n for r, n in routes.items()}


def test_capture_after_a_schema_change_and_same_schema_stored_once(harness: Harness) -> None:
    project, uri = _project(harness)
    harness.start_operator(NEON_DATABASE_LIST_TTL="600")  # v1's listing serves until v4, however slow
    _sql(uri, "CREATE TABLE contacts (id int PRIMARY KEY, name text NOT NULL)")
    _checkpoint(harness, project, "v1")
    harness.wait_ready("v1")
    _captured(harness, "v1")
    _sql(uri, "ALTER TABLE contacts ADD COLUMN role text")
    _checkpoint(harness, project, "v2")
    harness.wait_ready("v2")
    _sql(uri, "ALTER TABLE contacts ADD COLUMN later text")  # after v2's snapshot: not in v2's schema
    condition = _captured(harness, "v2")
    assert condition["reason"] == "Captured" and "neondb" in condition["message"]
    _checkpoint(harness, project, "v2-again", **{"3f2c9e1": "3f2c9e2"})
    harness.wait_ready("v2-again")
    _sql(uri, "ALTER TABLE contacts DROP COLUMN later")  # v2-again was taken with `later`: a third schema
    _captured(harness, "v2-again")

    rows = harness.meta_rows(
        "SELECT c.name, s.digest, s.structure FROM checkpoint_schemas cs JOIN checkpoints c ON c.id ="
        " cs.checkpoint_id JOIN schemas s ON s.digest = cs.schema_digest WHERE cs.database_name = 'neondb'"
    )
    by_name = {r["name"]: r for r in rows}
    columns = {
        name: [c["name"] for c in r["structure"]["tables"][0]["columns"]] for name, r in by_name.items()
    }
    assert columns == {
        "v1": ["id", "name"],
        "v2": ["id", "name", "role"],
        "v2-again": ["id", "name", "role", "later"],
    }
    status = harness.get("checkpoint", "v2")["status"]
    assert status["schemaDatabases"] == ["neondb"] and status["phase"] == "Ready"
    # A capture is no phase change: the Events stay one per phase transition.
    assert sorted(e["reason"] for e in harness.events("v2")) == ["Creating", "Pending", "Ready"]

    # Same schema as v2 (`later` dropped again), new checkpoint: stored once.
    _checkpoint(harness, project, "v3", **{"3f2c9e1": "3f2c9e3"})
    harness.wait_ready("v3")
    _captured(harness, "v3")
    digests = harness.meta_rows("SELECT count(*) AS n FROM schemas")[0]["n"]
    links = harness.meta_rows("SELECT count(*) AS n FROM checkpoint_schemas")[0]["n"]
    assert (digests, links) == (3, 4)

    # Nothing changed since v3: Neon is asked only whether the schema changed (one compare_schema; the
    # point from status, the database names remembered: no listing, no read).
    before = _routes(harness)
    _checkpoint(harness, project, "v4", **{"3f2c9e1": "3f2c9e4"})
    harness.wait_ready("v4")
    _captured(harness, "v4")
    spent = {r: n - before.get(r, 0) for r, n in _routes(harness).items() if n != before.get(r, 0)}
    reads = ("GET compare_schema", "GET schema", "GET databases", "GET snapshots")
    assert {r: n for r, n in spent.items() if r in reads} == {"GET compare_schema": 1}, spent
    v3, v4 = (harness.meta_rows(SCHEMA_OF, name)[0]["schema_digest"] for name in ("v3", "v4"))
    assert v3 == v4


def test_a_failing_capture_is_a_condition_retried_until_it_succeeds(harness: Harness) -> None:
    project, uri = _project(harness)
    _sql(uri, "CREATE TABLE t (id int)")
    harness.set_faults(
        {
            "rules": [
                {"method": "GET", "path": "/api/v2/projects/*/branches/*/schema", "status": 500, "times": 2}
            ]
        }
    )
    harness.start_operator()
    _checkpoint(harness, project, "v1")
    harness.wait_ready("v1")
    failed = _captured(harness, "v1", "False")
    assert failed["reason"] == "NeonUnavailable" and "retrying in" in failed["message"]
    assert harness.get("checkpoint", "v1")["status"]["phase"] == "Ready"  # the checkpoint is fine
    warnings = [e for e in harness.events("v1") if e["type"] == "Warning"]
    assert warnings and warnings[0]["reason"] == "NeonUnavailable"
    _captured(harness, "v1")
    assert harness.get("checkpoint", "v1")["status"]["schemaAttempts"] >= 2


def test_a_capture_that_cannot_succeed_is_not_retried(harness: Harness) -> None:
    project, _ = _project(harness)
    harness.start_operator()
    _checkpoint(
        harness, project, "v1", **{"deletionPolicy: Delete": "deletionPolicy: Delete\n  databases: [nope]"}
    )
    harness.wait_ready("v1")
    failed = _captured(harness, "v1", "False")
    assert failed["reason"] == "NotFound" and "not retried" in failed["message"]
    assert harness.get("checkpoint", "v1")["status"]["schemaAttempts"] == 1
    assert harness.meta_rows("SELECT * FROM schema_captures") == []
