"""From an operation's saved work to the job the engine runs, against the model as it is now (no I/O)."""

from __future__ import annotations

from typing import Any

import pytest

from neon_emulator.engine.jobs import (
    Catalog,
    CloneCluster,
    DatabaseSpec,
    DropDatabase,
    DropRole,
    InitCluster,
    RemoveCluster,
    RenameDatabase,
    RoleSpec,
    StartServer,
    StopServer,
    SyncCatalog,
    resolve,
)
from neon_emulator.model import branches
from neon_emulator.model.core import Model
from neon_emulator.storage import StorageError
from tests.unit.emulator.test_emulator_model import create, finish_all, new_model


def project_with_a_bare_branch() -> tuple[Model, str, str, str, str]:
    """A project (main, with its endpoint) and a `bare` branch without one."""
    model = new_model()
    created = create(model)
    assert created.branch is not None
    finish_all(model)
    bare = branches.create_branch(
        model,
        created.project.id,
        name="bare",
        parent_id=None,
        parent_timestamp=None,
        parent_lsn=None,
        protected=False,
        init_source="parent-data",
        expires_at=None,
        endpoints=[],
    ).branch
    assert bare is not None
    return model, created.project.id, created.branch.id, created.endpoints[0].id, bare.id


@pytest.mark.parametrize(
    ("situation", "work", "expected"),
    [
        ("nothing to do", {"kind": "noop"}, None),
        ("work saved without a kind", {}, None),
        ("a new root branch", {"kind": "init", "storage": "br-1"}, InitCluster("br-1")),
        (
            "a branch or snapshot copy",
            {"kind": "clone", "src": "br-1", "dst": "snap-1"},
            CloneCluster("br-1", "snap-1"),
        ),
        ("a deleted branch or snapshot", {"kind": "remove", "storage": "br-1"}, RemoveCluster("br-1")),
        ("a suspended compute", {"kind": "stop", "endpoint_id": "ep-gone"}, StopServer("ep-gone")),
        ("a compute deleted before it could start", {"kind": "start", "endpoint_id": "ep-gone"}, None),
    ],
)
def test_work_on_storage_and_stops_need_no_lookup(
    situation: str, work: dict[str, Any], expected: object
) -> None:
    assert resolve(work, new_model()) == expected, situation


def test_a_start_carries_the_branch_and_port_and_catalog_of_the_endpoint() -> None:
    model, _, main, endpoint, _ = project_with_a_bare_branch()
    port = model.state.endpoints[endpoint].port
    password = model.roles_of(main)[0].password
    assert resolve({"kind": "start", "endpoint_id": endpoint}, model) == StartServer(
        endpoint,
        main,
        port,
        Catalog((RoleSpec("neondb_owner", password, True),), (DatabaseSpec("neondb", "neondb_owner"),)),
    )


@pytest.mark.parametrize(
    ("work", "expected"),
    [
        ({"kind": "drop_role", "name": "r"}, lambda ep: DropRole(ep, "r")),
        ({"kind": "drop_database", "name": "d"}, lambda ep: DropDatabase(ep, "d")),
        ({"kind": "rename_database", "name": "d", "new_name": "e"}, lambda ep: RenameDatabase(ep, "d", "e")),
    ],
)
def test_catalog_changes_go_to_the_server_of_the_branch(work: dict[str, Any], expected: Any) -> None:
    model, _, main, endpoint, bare = project_with_a_bare_branch()
    assert resolve({**work, "branch_id": main}, model) == expected(endpoint)
    # A branch without a compute gets its catalog when one starts on it.
    assert resolve({**work, "branch_id": bare}, model) is None


def test_a_sync_carries_the_branch_catalog_as_it_is_now() -> None:
    model, _, main, endpoint, _ = project_with_a_bare_branch()
    job = resolve({"kind": "sync", "branch_id": main}, model)
    assert isinstance(job, SyncCatalog) and job.endpoint_id == endpoint
    assert [r.name for r in job.catalog.roles] == ["neondb_owner"]


def test_an_unknown_kind_fails_the_operation() -> None:
    model, _, main, _, _ = project_with_a_bare_branch()
    with pytest.raises(StorageError, match="unknown work kind 'defrag'"):
        resolve({"kind": "defrag", "branch_id": main}, model)
