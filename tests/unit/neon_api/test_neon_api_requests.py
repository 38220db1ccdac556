"""What each call puts on the wire and how it reads the answer."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest

from neon_api import UNSET
from tests.unit.neon_api.fakes import (
    Recorder,
    branch_json,
    operation_json,
    project_json,
    scripted,
    snapshot_json,
)

ENDPOINT = {
    "id": "ep-1",
    "project_id": "proj-1",
    "branch_id": "br-1",
    "host": "ep-1.local",
    "type": "read_write",
    "current_state": "init",
}
DATABASE = {"id": 1, "branch_id": "br-1", "name": "my db", "owner_name": "neondb_owner"}
ROLE = {"branch_id": "br-1", "name": "app", "password": "pw", "protected": False}
OPS = [operation_json("op-1", "running")]


def ok(status: int = 200, **body) -> httpx.Response:
    return httpx.Response(status, json=body)


def sent(recorder: Recorder, index: int = 0) -> tuple[str, str, dict[str, str], object]:
    request = recorder.requests[index]
    body = json.loads(request.content) if request.content else None
    return request.method, request.url.raw_path.decode().split("?")[0], dict(request.url.params), body


# (call, answer, method, path, params, body): one row per client call that builds a request.
CASES = [
    ("get_project", ("proj-1",), {}, ok(project=project_json()), "GET", "/api/v2/projects/proj-1", {}, None),
    (
        "create_project",
        (),
        {"name": "app", "pg_version": 17, "branch_name": "main", "database_name": "neondb"},
        ok(
            201,
            project=project_json(),
            branch=branch_json("br-1", "main"),
            endpoints=[ENDPOINT],
            databases=[DATABASE],
            roles=[ROLE],
            connection_uris=[{"connection_uri": "postgresql://x"}],
            operations=OPS,
        ),
        "POST",
        "/api/v2/projects",
        {},
        {"project": {"name": "app", "pg_version": 17, "branch": {"name": "main", "database_name": "neondb"}}},
    ),
    (
        "update_project",
        ("proj-1",),
        {"name": "renamed"},
        ok(project=project_json(name="renamed"), operations=[]),
        "PATCH",
        "/api/v2/projects/proj-1",
        {},
        {"project": {"name": "renamed"}},
    ),
    (
        "get_branch",
        ("proj-1", "br-1"),
        {},
        ok(branch=branch_json("br-1", "main")),
        "GET",
        "/api/v2/projects/proj-1/branches/br-1",
        {},
        None,
    ),
    (
        "create_branch",
        ("proj-1",),
        {"name": "preview", "parent_id": "br-1", "endpoint": "read_write"},
        ok(201, branch=branch_json("br-2", "preview"), endpoints=[ENDPOINT], operations=OPS),
        "POST",
        "/api/v2/projects/proj-1/branches",
        {},
        {"branch": {"name": "preview", "parent_id": "br-1"}, "endpoints": [{"type": "read_write"}]},
    ),
    (
        "update_branch",
        ("proj-1", "br-1"),
        {"protected": True},
        ok(branch=branch_json("br-1", "main", protected=True), operations=[]),
        "PATCH",
        "/api/v2/projects/proj-1/branches/br-1",
        {},
        {"branch": {"protected": True}},
    ),
    (
        "set_default_branch",
        ("proj-1", "br-2"),
        {},
        ok(branch=branch_json("br-2", "x", default=True), operations=OPS),
        "POST",
        "/api/v2/projects/proj-1/branches/br-2/set_as_default",
        {},
        None,
    ),
    (
        "list_endpoints",
        ("proj-1",),
        {"branch_id": "br-1"},
        ok(endpoints=[ENDPOINT]),
        "GET",
        "/api/v2/projects/proj-1/branches/br-1/endpoints",
        {},
        None,
    ),
    (
        "list_endpoints",
        ("proj-1",),
        {},
        ok(endpoints=[ENDPOINT]),
        "GET",
        "/api/v2/projects/proj-1/endpoints",
        {},
        None,
    ),
    (
        "get_endpoint",
        ("proj-1", "ep-1"),
        {},
        ok(endpoint=ENDPOINT),
        "GET",
        "/api/v2/projects/proj-1/endpoints/ep-1",
        {},
        None,
    ),
    (
        "create_endpoint",
        ("proj-1", "br-1"),
        {"type": "read_only"},
        ok(201, endpoint=ENDPOINT, operations=OPS),
        "POST",
        "/api/v2/projects/proj-1/endpoints",
        {},
        {"endpoint": {"branch_id": "br-1", "type": "read_only"}},
    ),
    (
        "start_endpoint",
        ("proj-1", "ep-1"),
        {},
        ok(endpoint=ENDPOINT, operations=OPS),
        "POST",
        "/api/v2/projects/proj-1/endpoints/ep-1/start",
        {},
        None,
    ),
    (
        "suspend_endpoint",
        ("proj-1", "ep-1"),
        {},
        ok(endpoint=ENDPOINT, operations=OPS),
        "POST",
        "/api/v2/projects/proj-1/endpoints/ep-1/suspend",
        {},
        None,
    ),
    (
        "restart_endpoint",
        ("proj-1", "ep-1"),
        {},
        ok(endpoint=ENDPOINT, operations=OPS),
        "POST",
        "/api/v2/projects/proj-1/endpoints/ep-1/restart",
        {},
        None,
    ),
    (
        "list_databases",
        ("proj-1", "br-1"),
        {},
        ok(databases=[DATABASE]),
        "GET",
        "/api/v2/projects/proj-1/branches/br-1/databases",
        {},
        None,
    ),
    (
        "get_database",
        ("proj-1", "br-1", "my db"),
        {},
        ok(database=DATABASE),
        "GET",
        "/api/v2/projects/proj-1/branches/br-1/databases/my%20db",
        {},
        None,
    ),
    (
        "create_database",
        ("proj-1", "br-1", "my db"),
        {"owner_name": "neondb_owner"},
        ok(201, database=DATABASE, operations=OPS),
        "POST",
        "/api/v2/projects/proj-1/branches/br-1/databases",
        {},
        {"database": {"name": "my db", "owner_name": "neondb_owner"}},
    ),
    (
        "list_roles",
        ("proj-1", "br-1"),
        {},
        ok(roles=[ROLE]),
        "GET",
        "/api/v2/projects/proj-1/branches/br-1/roles",
        {},
        None,
    ),
    (
        "get_role",
        ("proj-1", "br-1", "app"),
        {},
        ok(role=ROLE),
        "GET",
        "/api/v2/projects/proj-1/branches/br-1/roles/app",
        {},
        None,
    ),
    (
        "create_role",
        ("proj-1", "br-1", "app"),
        {},
        ok(201, role=ROLE, operations=OPS),
        "POST",
        "/api/v2/projects/proj-1/branches/br-1/roles",
        {},
        {"role": {"name": "app"}},
    ),
    (
        "reset_role_password",
        ("proj-1", "br-1", "app"),
        {},
        ok(role=ROLE, operations=OPS),
        "POST",
        "/api/v2/projects/proj-1/branches/br-1/roles/app/reset_password",
        {},
        None,
    ),
    (
        "reveal_role_password",
        ("proj-1", "br-1", "app"),
        {},
        ok(password="pw"),
        "GET",
        "/api/v2/projects/proj-1/branches/br-1/roles/app/reveal_password",
        {},
        None,
    ),
    (
        "connection_uri",
        ("proj-1",),
        {"database_name": "neondb", "role_name": "app", "branch_id": "br-1", "pooled": True},
        ok(uri="postgresql://x"),
        "GET",
        "/api/v2/projects/proj-1/connection_uri",
        {"database_name": "neondb", "role_name": "app", "branch_id": "br-1", "pooled": "true"},
        None,
    ),
    (
        "create_snapshot",
        ("proj-1", "br-main"),
        {
            "name": "cp-1",
            "timestamp": datetime(2026, 1, 1, 2, 0, tzinfo=timezone(timedelta(hours=2))),
            "expires_at": "2026-12-31T00:00:00Z",
        },
        ok(snapshot=snapshot_json("snap-1", "cp-1"), operations=OPS),
        "POST",
        "/api/v2/projects/proj-1/branches/br-main/snapshot",
        {"name": "cp-1", "timestamp": "2026-01-01T00:00:00Z", "expires_at": "2026-12-31T00:00:00Z"},
        None,  # query parameters only: Neon silently ignores a JSON body here
    ),
    (
        "create_snapshot",
        ("proj-1", "br-main"),
        {"lsn": "0/1ADB9F8"},
        ok(snapshot=snapshot_json("snap-1", "x"), operations=[]),
        "POST",
        "/api/v2/projects/proj-1/branches/br-main/snapshot",
        {"lsn": "0/1ADB9F8"},
        None,
    ),
    (
        "list_snapshots",
        ("proj-1",),
        {},
        ok(snapshots=[snapshot_json("snap-1", "a")]),
        "GET",
        "/api/v2/projects/proj-1/snapshots",
        {},
        None,
    ),
    (
        "update_snapshot",
        ("proj-1", "snap-1"),
        {"name": "b"},
        ok(snapshot=snapshot_json("snap-1", "b")),
        "PATCH",
        "/api/v2/projects/proj-1/snapshots/snap-1",
        {},
        {"snapshot": {"name": "b"}},
    ),
    (
        "update_snapshot",
        ("proj-1", "snap-1"),
        {"expires_at": None},
        ok(snapshot=snapshot_json("snap-1", "b")),
        "PATCH",
        "/api/v2/projects/proj-1/snapshots/snap-1",
        {},
        {"snapshot": {"expires_at": None}},
    ),
    (
        "update_snapshot",
        ("proj-1", "snap-1"),
        {"expires_at": UNSET, "name": "c"},
        ok(snapshot=snapshot_json("snap-1", "c")),
        "PATCH",
        "/api/v2/projects/proj-1/snapshots/snap-1",
        {},
        {"snapshot": {"name": "c"}},
    ),
    (
        "restore_snapshot",
        ("proj-1", "snap-1"),
        {"target_branch_id": "br-main", "finalize": True},
        ok(
            branch=branch_json("br-new", "main", restored_from="snap-1", restored_as="br-main"),
            operations=OPS,
        ),
        "POST",
        "/api/v2/projects/proj-1/snapshots/snap-1/restore",
        {},
        {"target_branch_id": "br-main", "finalize_restore": True},
    ),
    (
        "finalize_restore",
        ("proj-1", "br-new"),
        {"name": "main-before"},
        ok(operations=OPS),
        "POST",
        "/api/v2/projects/proj-1/branches/br-new/finalize_restore",
        {},
        {"name": "main-before"},
    ),
    (
        "get_operation",
        ("proj-1", "op-1"),
        {},
        ok(operation=operation_json("op-1", "finished")),
        "GET",
        "/api/v2/projects/proj-1/operations/op-1",
        {},
        None,
    ),
]


@pytest.mark.parametrize(
    ("call", "args", "kwargs", "answer", "method", "path", "params", "body"),
    CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)],
)
def test_request_shape(make_client, call, args, kwargs, answer, method, path, params, body):
    recorder = Recorder(scripted(answer))
    result = getattr(make_client(recorder), call)(*args, **kwargs)
    assert result is not None
    assert sent(recorder) == (method, path, params, body)


def test_mutations_carry_their_operations(make_client):
    answer = ok(snapshot=snapshot_json("snap-1", "cp", lsn="0/1"), operations=OPS)
    result = make_client(scripted(answer)).create_snapshot("proj-1", "br-main", name="cp")
    assert (result.value.id, result.value.lsn, result.value.source_branch_id) == ("snap-1", "0/1", "br-main")
    assert [(op.id, op.status, op.in_progress) for op in result.operations] == [("op-1", "running", True)]


def test_restore_reads_the_new_branch(make_client):
    branch = branch_json(
        "br-new", "main", restore_status="restored", restored_from="snap-1", restored_as="br-old"
    )
    answer = ok(branch=branch, endpoints=[ENDPOINT], operations=OPS)
    restored = make_client(scripted(answer)).restore_snapshot("proj-1", "snap-1", target_branch_id="br-old")
    assert restored.branch.id == "br-new"
    assert (restored.branch.restored_from, restored.branch.restored_as) == ("snap-1", "br-old")
    assert restored.endpoints[0].id == "ep-1"


def test_create_project_reads_everything(make_client):
    call = CASES[1]
    created = make_client(scripted(call[3])).create_project(**call[2])
    assert created.project.id == "proj-1" and created.project.created_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert created.branch.name == "main"
    assert [e.host for e in created.endpoints] == ["ep-1.local"]
    assert [(d.name, d.owner_name) for d in created.databases] == [("my db", "neondb_owner")]
    assert [r.name for r in created.roles] == ["app"]
    assert len(created.operations) == 1


@pytest.mark.parametrize("status", [204, 404])
@pytest.mark.parametrize(
    ("call", "args", "path"),
    [
        ("delete_branch", ("proj-1", "br-1"), "/api/v2/projects/proj-1/branches/br-1"),
        ("delete_endpoint", ("proj-1", "ep-1"), "/api/v2/projects/proj-1/endpoints/ep-1"),
        ("delete_database", ("proj-1", "br-1", "db"), "/api/v2/projects/proj-1/branches/br-1/databases/db"),
        ("delete_role", ("proj-1", "br-1", "app"), "/api/v2/projects/proj-1/branches/br-1/roles/app"),
        ("delete_snapshot", ("proj-1", "snap-1"), "/api/v2/projects/proj-1/snapshots/snap-1"),
    ],
)
def test_deleting_what_is_gone_is_not_an_error(make_client, call, args, path, status):
    answer = httpx.Response(status) if status == 204 else httpx.Response(404, json={"message": "not found"})
    recorder = Recorder(scripted(answer))
    assert getattr(make_client(recorder), call)(*args) == ()
    assert sent(recorder)[:2] == ("DELETE", path)


@pytest.mark.parametrize("hard", [False, True])
def test_a_branch_delete_is_hard_only_when_asked(make_client, hard):
    body = {"branch": branch_json("br-1", "x"), "operations": OPS}
    recorder = Recorder(scripted(httpx.Response(200, json=body)))
    make_client(recorder).delete_branch("proj-1", "br-1", hard_delete=hard)
    assert recorder.requests[0].url.params.get("hard_delete") == ("true" if hard else None)


@pytest.mark.parametrize(
    ("call", "args", "status", "body"),
    [
        ("delete_branch", ("proj-1", "br-1"), 200, {"branch": branch_json("br-1", "x"), "operations": OPS}),
        ("delete_snapshot", ("proj-1", "snap-1"), 202, {"operations": OPS}),
    ],
)
def test_deletes_return_their_operations(make_client, call, args, status, body):
    ops = getattr(make_client(scripted(httpx.Response(status, json=body))), call)(*args)
    assert [op.id for op in ops] == ["op-1"]


def test_delete_project_tolerates_gone(make_client):
    recorder = Recorder(scripted(httpx.Response(404, json={"message": "project not found"})))
    assert make_client(recorder).delete_project("proj-1") is None
    assert sent(recorder)[:2] == ("DELETE", "/api/v2/projects/proj-1")


def test_find_snapshot_is_exact(make_client):
    answer = ok(snapshots=[snapshot_json("snap-1", "cp-1 (copy)"), snapshot_json("snap-2", "cp-1")])
    client = make_client(scripted(answer, ok(snapshots=[snapshot_json("snap-1", "cp-10")])))
    found = client.find_snapshot("proj-1", "cp-1")
    assert found is not None and found.id == "snap-2"
    assert client.find_snapshot("proj-1", "cp-1") is None


def test_naive_timestamps_are_refused(make_client):
    recorder = Recorder(scripted())
    with pytest.raises(ValueError, match="naive"):
        make_client(recorder).create_snapshot("proj-1", "br-1", timestamp=datetime(2026, 1, 1))
    assert recorder.requests == []


def test_branch_reads_deprecated_primary_flag_and_ignores_unknown_fields(make_client):
    body = ok(branch=branch_json("br-1", "main", primary=True, brand_new_field={"x": 1}))
    branch = make_client(scripted(body)).get_branch("proj-1", "br-1")
    assert branch.default is True
    assert branch.raw["brand_new_field"] == {"x": 1}


async def test_async_client_runs_the_same_calls(make_async_client):
    recorder = Recorder(scripted(httpx.Response(423, json={"message": "locked"}), ok(snapshots=[])))
    client = make_async_client(recorder)
    assert await client.find_snapshot("proj-1", "x") is None
    assert len(recorder.requests) == 2
