"""Every neon_api call against the real emulator over real HTTP (contract tests)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from neon_api import NeonClient, errors
from neon_api.models import CreatedProject

pytestmark = pytest.mark.emulator

# Generous: the emulator runs real postgres processes on a busy 2-core machine.
WAIT = 120.0


def _sql(uri: str, statement: str) -> list[tuple[object, ...]]:
    with psycopg.connect(uri, connect_timeout=20, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(statement)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []


def test_project_lifecycle(neon: NeonClient):
    name = f"contract-{uuid.uuid4().hex[:8]}"
    created = neon.create_project(name=name, branch_name="main", database_name="appdb", role_name="app")
    pid = created.project.id
    try:
        assert created.project.name == name
        assert created.branch.name == "main" and created.branch.default
        assert [d.name for d in created.databases] == ["appdb"]
        assert [r.name for r in created.roles] == ["app"] and created.roles[0].password
        assert [e.type for e in created.endpoints] == ["read_write"]
        done = neon.wait_for_operations(pid, created.operations, timeout=WAIT)
        assert done and all(op.succeeded for op in done)

        assert _sql(created.connection_uris[0], "select current_database(), current_user") == [
            ("appdb", "app")
        ]
        assert neon.get_project(pid).id == pid
        assert pid in [p.id for p in neon.list_projects(search=name)]
        renamed = neon.update_project(pid, name=name + "-renamed")
        assert renamed.value.name == name + "-renamed"
        assert neon.get_project(pid).name == name + "-renamed"
        uri = neon.connection_uri(pid, database_name="appdb", role_name="app")
        assert _sql(uri, "select 1") == [(1,)]
    finally:
        neon.delete_project(pid)
    with pytest.raises(errors.NotFound):
        neon.get_project(pid)
    assert neon.delete_project(pid) is None  # already gone is fine


def test_branches(neon: NeonClient, project: CreatedProject):
    pid, main = project.project.id, project.branch
    created = neon.create_branch(pid, name="feature", parent_id=main.id, endpoint="read_write")
    assert created.branch.name == "feature" and created.branch.parent_id == main.id
    assert [e.branch_id for e in created.endpoints] == [created.branch.id]
    neon.wait_for_operations(pid, created.operations, timeout=WAIT)
    feature = created.branch.id

    assert neon.get_branch(pid, feature).current_state == "ready"
    assert {b.name for b in neon.list_branches(pid)} >= {"main", "feature"}
    assert [b.name for b in neon.list_branches(pid, search="feat")] == ["feature"]
    assert [e.id for e in neon.list_endpoints(pid, branch_id=feature)] == [created.endpoints[0].id]

    renamed = neon.update_branch(pid, feature, name="feature-2", protected=False)
    neon.wait_for_operations(pid, renamed.operations, timeout=WAIT)
    assert neon.get_branch(pid, feature).name == "feature-2"
    assert neon.find_branch(pid, "feature") is None
    found = neon.find_branch(pid, "feature-2")
    assert found is not None and found.id == feature

    made_default = neon.set_default_branch(pid, feature)
    neon.wait_for_operations(pid, made_default.operations, timeout=WAIT)
    assert neon.get_branch(pid, feature).default and not neon.get_branch(pid, main.id).default
    neon.wait_for_operations(pid, neon.set_default_branch(pid, main.id).operations, timeout=WAIT)

    ops = neon.delete_branch(pid, feature)
    neon.wait_for_operations(pid, ops, timeout=WAIT)
    assert feature not in [b.id for b in neon.list_branches(pid)]
    assert neon.delete_branch(pid, feature) == ()


def test_duplicate_branch_name_is_a_conflict(neon: NeonClient, project: CreatedProject):
    pid = project.project.id
    with pytest.raises(errors.Conflict) as caught:
        neon.create_branch(pid, name="main")
    assert caught.value.status == 409 and caught.value.message


def test_endpoints(neon: NeonClient, project: CreatedProject):
    pid = project.project.id
    # A compute-less branch, so the new endpoint is its only read_write one (the emulator has no read_only).
    bare = neon.create_branch(pid, name="bare")
    assert bare.endpoints == ()
    neon.wait_for_operations(pid, bare.operations, timeout=WAIT)
    created = neon.create_endpoint(pid, bare.branch.id)
    endpoint = created.value
    assert (endpoint.branch_id, endpoint.type) == (bare.branch.id, "read_write")
    neon.wait_for_operations(pid, created.operations, timeout=WAIT)
    assert neon.get_endpoint(pid, endpoint.id).current_state == "active"
    assert endpoint.id in [e.id for e in neon.list_endpoints(pid)]

    suspended = neon.suspend_endpoint(pid, endpoint.id)
    neon.wait_for_operations(pid, suspended.operations, timeout=WAIT)
    assert neon.get_endpoint(pid, endpoint.id).current_state == "idle"
    started = neon.start_endpoint(pid, endpoint.id)
    neon.wait_for_operations(pid, started.operations, timeout=WAIT)
    assert neon.get_endpoint(pid, endpoint.id).current_state == "active"
    restarted = neon.restart_endpoint(pid, endpoint.id)
    neon.wait_for_operations(pid, restarted.operations, timeout=WAIT)
    assert neon.get_endpoint(pid, endpoint.id).current_state == "active"

    neon.wait_for_operations(pid, neon.delete_endpoint(pid, endpoint.id), timeout=WAIT)
    with pytest.raises(errors.NotFound):
        neon.get_endpoint(pid, endpoint.id)
    assert neon.delete_endpoint(pid, endpoint.id) == ()


def test_databases_and_roles(neon: NeonClient, project: CreatedProject):
    pid, bid = project.project.id, project.branch.id
    role = neon.create_role(pid, bid, "writer")
    assert role.value.name == "writer" and role.value.password
    neon.wait_for_operations(pid, role.operations, timeout=WAIT)
    database = neon.create_database(pid, bid, "orders", owner_name="writer")
    neon.wait_for_operations(pid, database.operations, timeout=WAIT)

    assert neon.get_database(pid, bid, "orders").owner_name == "writer"
    assert {d.name for d in neon.list_databases(pid, bid)} >= {"neondb", "orders"}
    assert neon.get_role(pid, bid, "writer").name == "writer"
    assert {r.name for r in neon.list_roles(pid, bid)} >= {"neondb_owner", "writer"}
    password = neon.reveal_role_password(pid, bid, "writer")
    assert password == role.value.password

    uri = neon.connection_uri(pid, database_name="orders", role_name="writer", branch_id=bid)
    assert _sql(uri, "select current_user") == [("writer",)]

    reset = neon.reset_role_password(pid, bid, "writer")
    neon.wait_for_operations(pid, reset.operations, timeout=WAIT)
    assert reset.value.password and reset.value.password != password
    assert neon.reveal_role_password(pid, bid, "writer") == reset.value.password

    neon.wait_for_operations(pid, neon.delete_database(pid, bid, "orders"), timeout=WAIT)
    with pytest.raises(errors.NotFound):
        neon.get_database(pid, bid, "orders")
    assert neon.delete_database(pid, bid, "orders") == ()
    neon.wait_for_operations(pid, neon.delete_role(pid, bid, "writer"), timeout=WAIT)
    with pytest.raises(errors.NotFound):
        neon.get_role(pid, bid, "writer")
    assert neon.delete_role(pid, bid, "writer") == ()


def test_snapshot_and_finalized_restore(neon: NeonClient, project: CreatedProject):
    pid, main = project.project.id, project.branch
    uri = project.connection_uris[0]
    _sql(uri, "create table notes (n int); insert into notes values (1)")

    expires = datetime.now(UTC) + timedelta(days=3)
    taken = neon.create_snapshot(pid, main.id, name="cp-1", expires_at=expires)
    snapshot = taken.value
    assert (snapshot.name, snapshot.source_branch_id) == ("cp-1", main.id)
    assert snapshot.expires_at is not None and abs((snapshot.expires_at - expires).total_seconds()) < 1
    neon.wait_for_operations(pid, taken.operations, timeout=WAIT)
    with pytest.raises(errors.Conflict):
        neon.create_snapshot(pid, main.id, name="cp-1")

    found = neon.find_snapshot(pid, "cp-1")
    assert found is not None and found.id == snapshot.id
    assert snapshot.id in [s.id for s in neon.list_snapshots(pid)]
    updated = neon.update_snapshot(pid, snapshot.id, name="cp-1b", expires_at=None)
    assert (updated.name, updated.expires_at) == ("cp-1b", None)
    assert neon.find_snapshot(pid, "cp-1") is None

    _sql(uri, "insert into notes values (2)")
    restored = neon.restore_snapshot(pid, snapshot.id, target_branch_id=main.id, finalize=True)
    neon.wait_for_operations(pid, restored.operations, timeout=WAIT)
    assert restored.branch.id != main.id
    assert (restored.branch.restored_from, restored.branch.restored_as) == (snapshot.id, main.id)

    # The same connection string now reaches the restored data.
    assert _sql(uri, "select n from notes order by n") == [(1,)]
    active = neon.find_branch(pid, "main")
    assert active is not None and active.id == restored.branch.id
    old = neon.find_branch(pid, "main (old)")
    assert old is not None and old.id == main.id

    ops = neon.delete_snapshot(pid, snapshot.id)
    neon.wait_for_operations(pid, ops, timeout=WAIT)
    assert neon.find_snapshot(pid, "cp-1b") is None
    assert neon.delete_snapshot(pid, snapshot.id) == ()


def test_preview_restore_then_finalize(neon: NeonClient, project: CreatedProject):
    pid, main = project.project.id, project.branch
    taken = neon.create_snapshot(pid, main.id, name="cp-preview")
    neon.wait_for_operations(pid, taken.operations, timeout=WAIT)

    preview = neon.restore_snapshot(pid, taken.value.id, target_branch_id=main.id, name="preview-1")
    neon.wait_for_operations(pid, preview.operations, timeout=WAIT)
    assert preview.branch.name == "preview-1" and preview.branch.id != main.id
    assert neon.get_branch(pid, main.id).name == "main"  # not finalized: the target is untouched

    ops = neon.finalize_restore(pid, preview.branch.id, name="main-before-preview")
    neon.wait_for_operations(pid, ops, timeout=WAIT)
    assert neon.get_branch(pid, main.id).name == "main-before-preview"
    active = neon.find_branch(pid, "main")
    assert active is not None and active.id == preview.branch.id


def test_operations(neon: NeonClient, project: CreatedProject):
    pid = project.project.id
    listed = neon.list_operations(pid)
    assert {op.id for op in project.operations} <= {op.id for op in listed}
    first = project.operations[0]
    fetched = neon.get_operation(pid, first.id)
    assert (fetched.id, fetched.action, fetched.status) == (first.id, first.action, "finished")
    # Waiting by bare id works too, and finished operations come back as they are.
    assert neon.wait_for_operations(pid, [first.id], timeout=WAIT)[0].status == "finished"
    with pytest.raises(errors.NotFound):
        neon.get_operation(pid, "00000000-0000-0000-0000-000000000000")
