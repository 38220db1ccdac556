"""The emulator's model without I/O: ids, locking, branch listing, restores, operation outcomes, state."""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
from pathlib import Path

import pytest

from neon_emulator.engine.persistence import StateFile
from neon_emulator.model import branches, catalog, expiry, operations, projects, snapshots
from neon_emulator.model.clock import Clock
from neon_emulator.model.core import Model
from neon_emulator.model.endpoints import EndpointSpec
from neon_emulator.model.errors import EmulatorError
from neon_emulator.model.ids import IdGenerator
from neon_emulator.model.projects import Created
from neon_emulator.model.state import State


def new_model(seed: int = 1) -> Model:
    return Model(State(), IdGenerator(seed), Clock(), itertools.count(40000).__next__)


def create(model: Model, **kwargs: object) -> Created:
    args: dict[str, object] = dict(
        name=None,
        region_id="aws-us-east-2",
        pg_version=15,
        store_passwords=True,
        history_retention_seconds=86400,
        settings={},
        default_endpoint_settings={},
        org_id=None,
        branch_name="main",
        database_name="neondb",
        role_name="neondb_owner",
    )
    args.update(kwargs)
    return projects.create_project(model, **args)  # type: ignore[arg-type]


def finish_all(model: Model) -> None:
    while pending := operations.projects_with_pending_operations(model):
        for project_id in pending:
            op = operations.next_operation(model, project_id)
            assert op is not None
            operations.mark_running(model, op)
            operations.mark_finished(model, op)


def test_ids_have_neon_formats_and_a_seed_reproduces_them() -> None:
    a, b = IdGenerator(5), IdGenerator(5)
    assert [a.project(), a.child("br"), a.operation()] == [b.project(), b.child("br"), b.operation()]
    assert re.fullmatch(r"[a-z]+-[a-z]+-\d{8}", a.project())
    assert re.fullmatch(r"br-[a-z]+-[a-z]+-[a-z0-9]{8}", a.child("br"))
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", a.operation())


def test_clock_never_repeats() -> None:
    clock = Clock()
    stamps = [clock.stamp() for _ in range(1000)]
    assert len(set(stamps)) == 1000 and stamps == sorted(stamps)


def test_a_project_left_unspecified_gets_neons_defaults() -> None:
    model = new_model()
    unset = dict.fromkeys(
        ("region_id", "pg_version", "store_passwords", "history_retention_seconds", "branch_name"), None
    )
    created = create(model, **unset, database_name="", role_name=None)
    project, branch = created.project, created.branch
    assert (project.region_id, project.pg_version, project.store_passwords) == ("aws-us-east-2", 15, True)
    assert project.history_retention_seconds == 86400 and project.name == project.id
    assert branch is not None and branch.name == "main"
    assert [(d.name, d.owner_name) for d in created.databases] == [("neondb", "neondb_owner")]
    assert create(model, history_retention_seconds=0).project.history_retention_seconds == 0


def test_a_project_is_locked_until_its_operations_finish() -> None:
    model = new_model()
    created = create(model)
    pid = created.project.id
    assert created.branch is not None and created.branch.current_state == "init"
    with pytest.raises(EmulatorError) as caught:
        branches.create_branch(
            model,
            pid,
            name="dev",
            parent_id=None,
            parent_timestamp=None,
            parent_lsn=None,
            protected=False,
            init_source="parent-data",
            expires_at=None,
            endpoints=[],
        )
    assert caught.value.status == 423
    assert model.project(pid) is created.project  # reads are fine
    finish_all(model)
    assert created.branch.current_state == "ready" and created.branch.pending_state is None
    assert created.endpoints[0].current_state == "active" and created.endpoints[0].pending_state is None
    assert not model.busy(pid)


def test_branch_search_sort_and_cursor() -> None:
    model = new_model()
    pid = create(model).project.id
    finish_all(model)
    for name in ("b", "a", "c", "main2"):
        branches.create_branch(
            model,
            pid,
            name=name,
            parent_id=None,
            parent_timestamp=None,
            parent_lsn=None,
            protected=False,
            init_source="parent-data",
            expires_at=None,
            endpoints=[],
        )
        finish_all(model)
    page = branches.list_branches(
        model, pid, search="MAIN", sort_by="name", sort_order="asc", cursor=None, limit=None
    )
    assert [b.name for b in page.branches] == ["main", "main2"]
    seen, cursor = [], None
    while True:
        page = branches.list_branches(
            model, pid, search=None, sort_by="name", sort_order="desc", cursor=cursor, limit=2
        )
        seen += [b.name for b in page.branches]
        if not (cursor := page.next_cursor):
            break
    assert seen == ["main2", "main", "c", "b", "a"]
    with pytest.raises(EmulatorError, match="cursor"):
        branches.list_branches(
            model, pid, search=None, sort_by="name", sort_order="asc", cursor="%%%", limit=1
        )


def test_finalized_restore_swaps_endpoints_names_and_flags_and_a_failure_undoes_it() -> None:
    model = new_model()
    created = create(model)
    pid, main = created.project.id, created.branch
    assert main is not None
    finish_all(model)
    snap, _ = snapshots.create_snapshot(
        model, pid, main.id, name="s", timestamp=None, lsn=None, expires_at=None
    )
    finish_all(model)
    restored = snapshots.restore_snapshot(
        model, pid, snap.id, name=None, target_branch_id=None, finalize_restore=True
    )
    new = restored.branch
    assert (new.name, new.default, new.project_root, new.restored_as) == ("main", True, True, main.id)
    assert (main.name, main.default, main.project_root) == ("main (old)", False, False)
    assert [e.branch_id for e in restored.endpoints] == [new.id] and restored.endpoints[
        0
    ].id == created.endpoints[0].id
    assert [o.action for o in restored.operations] == [
        "timeline_unarchive",
        "create_branch",
        "suspend_compute",
        "start_compute",
    ]
    assert [r.name for r in model.roles_of(new.id)] == ["neondb_owner"]
    # The copy fails: the target gets its name, flags and endpoint back, the new branch disappears.
    unarchive = operations.next_operation(model, pid)
    assert unarchive is not None
    operations.mark_running(model, unarchive)
    operations.mark_finished(model, unarchive)
    clone = operations.next_operation(model, pid)
    assert clone is not None and clone.action == "create_branch"
    operations.mark_running(model, clone)
    operations.mark_failed(model, clone, "no space left on device")
    assert (main.name, main.default, main.project_root) == ("main", True, True)
    assert created.endpoints[0].branch_id == main.id
    assert new.id not in model.state.branches
    assert [o.status for o in restored.operations] == ["finished", "error", "cancelled", "cancelled"]
    assert not model.busy(pid)


def test_protected_branches_and_catalog_rules() -> None:
    model = new_model()
    created = create(model, store_passwords=False)
    pid, main = created.project.id, created.branch
    assert main is not None
    finish_all(model)
    with pytest.raises(EmulatorError) as caught:
        catalog.reveal_password(model, pid, main.id, "neondb_owner")
    assert caught.value.status == 412
    with pytest.raises(EmulatorError) as caught:
        catalog.create_database(model, pid, main.id, "x", "nobody")
    assert caught.value.status == 400 and "owner_name" in caught.value.message
    with pytest.raises(EmulatorError) as caught:
        catalog.create_role(model, pid, main.id, "r" * 64, no_login=False)
    assert caught.value.status == 400 and "role.name" in caught.value.message
    assert catalog.delete_database(model, pid, main.id, "missing") is None


def test_state_survives_a_round_trip_through_the_file(tmp_path: Path) -> None:
    model = new_model()
    create(model, name="persisted")
    file = StateFile(tmp_path)
    file.save(model.state)
    loaded = file.load()
    assert loaded == model.state
    assert (tmp_path / "state.json").stat().st_mode & 0o777 == 0o600
    assert StateFile(tmp_path / "absent").load() == State()


def test_the_saved_state_has_every_field_of_the_model() -> None:
    # to_json lists the fields by hand (for speed): a field added to State must be added there too.
    assert set(State().to_json()) == {f.name for f in dataclasses.fields(State)}


def test_expired_snapshots_and_branches_are_deleted_when_the_project_is_idle() -> None:
    model = new_model()
    created = create(model)
    pid, main = created.project.id, created.branch
    assert main is not None
    finish_all(model)
    snap, _ = snapshots.create_snapshot(
        model, pid, main.id, name="s", timestamp=None, lsn=None, expires_at=None
    )
    finish_all(model)
    child = branches.create_branch(
        model,
        pid,
        name="tmp",
        parent_id=None,
        parent_timestamp=None,
        parent_lsn=None,
        protected=False,
        init_source="parent-data",
        expires_at=None,
        endpoints=[],
    ).branch
    assert child is not None
    snap.expires_at = child.expires_at = main.expires_at = "2000-01-01T00:00:00Z"
    assert expiry.sweep(model) == set()  # operations in progress: nothing happens
    finish_all(model)
    assert expiry.sweep(model) == {pid}
    assert snap.id not in model.state.snapshots
    finish_all(model)  # one deletion at a time: the project is busy until it is done
    assert expiry.sweep(model) == {pid}
    assert child.id not in model.state.branches
    assert main.id in model.state.branches and main.expires_at is None  # the default branch is kept


def test_an_expired_branch_is_recoverable_for_seven_days_then_removed_for_good() -> None:
    model = new_model()
    created = create(model)
    pid = created.project.id
    finish_all(model)
    child = branches.create_branch(
        model,
        pid,
        name="ttl",
        parent_id=None,
        parent_timestamp=None,
        parent_lsn=None,
        protected=False,
        init_source="parent-data",
        expires_at=None,
        endpoints=[],
    ).branch
    assert child is not None
    finish_all(model)
    child.expires_at = "2000-01-01T00:00:00Z"
    assert expiry.sweep(model) == {pid}
    deleted = model.state.deleted_branches[child.id]
    assert deleted.deletion_method == "ttl" and child.id not in model.state.branches
    finish_all(model)
    assert expiry.sweep(model) == set()  # inside the recovery window: kept
    deleted.recoverable_until = "2000-01-08T00:00:00Z"
    assert expiry.sweep(model) == {pid}
    assert child.id not in model.state.deleted_branches
    removal = [o for o in model.state.operations.values() if o.branch_id == child.id][-1]
    assert removal.work == {"kind": "remove", "storage": child.id}


def test_a_recovered_branch_gets_its_records_back_and_loses_its_ttl() -> None:
    model = new_model()
    created = create(model)
    pid = created.project.id
    finish_all(model)
    child = branches.create_branch(
        model,
        pid,
        name="feature",
        parent_id=None,
        parent_timestamp=None,
        parent_lsn=None,
        protected=False,
        init_source="parent-data",
        expires_at="2999-01-01T00:00:00Z",
        endpoints=[EndpointSpec(type="read_write")],
    )
    assert child.branch is not None
    finish_all(model)
    bid, roles = child.branch.id, len(model.roles_of(child.branch.id))
    assert branches.delete_branch(model, pid, bid) is not None
    finish_all(model)
    assert model.roles_of(bid) == [] and model.endpoints_of(pid, bid) == []
    assert State.from_json(json.loads(json.dumps(model.state.to_json()))) == model.state  # saved as is
    assert model.new_port() not in {e.port for e in child.endpoints}  # kept for the recovery
    branch, endpoints = branches.recover_branch(model, pid, bid)
    assert branch.expires_at is None and len(model.roles_of(bid)) == roles
    assert [e.id for e in endpoints] == [e.id for e in child.endpoints]
    assert [o.action for o in model.state.operations.values() if o.status == "scheduling"] == [
        "start_compute"
    ]
