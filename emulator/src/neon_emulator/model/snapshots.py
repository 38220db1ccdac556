"""Snapshots and restores with Neon's semantics (neon-api.md §6.2).

A snapshot is a crash-consistent copy of a root branch's data directory. A restore makes a NEW branch from it;
finalizing moves the target's endpoints to that branch (same ids and ports, so the same connection string),
copies the target's name and flags, and renames the target `<name> (old)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .core import UNSET, Model
from .endpoints import EndpointSpec, new_endpoint
from .entities import Branch, Endpoint, Operation, Snapshot
from .errors import EmulatorError, bad_request, conflict, not_found
from .operations import mark_failed


@dataclass(frozen=True)
class Restored:
    branch: Branch
    endpoints: list[Endpoint]
    operations: list[Operation]


def snapshots_of(model: Model, project_id: str) -> list[Snapshot]:
    model.project(project_id)
    found = [s for s in model.state.snapshots.values() if s.project_id == project_id]
    return sorted(found, key=lambda s: s.created_at, reverse=True)


def snapshot(model: Model, project_id: str, snapshot_id: str) -> Snapshot:
    model.project(project_id)
    found = model.state.snapshots.get(snapshot_id)
    if found is None or found.project_id != project_id:
        raise not_found("snapshot", snapshot_id)
    return found


def _name_taken(model: Model, project_id: str, name: str, ignore: str | None = None) -> bool:
    return any(s.name == name and s.id != ignore for s in snapshots_of(model, project_id))


def create_snapshot(
    model: Model,
    project_id: str,
    branch_id: str,
    *,
    name: str | None,
    timestamp: str | None,
    lsn: str | None,
    expires_at: str | None,
) -> tuple[Snapshot, list[Operation]]:
    model.check_unlocked(project_id)
    branch = model.branch(project_id, branch_id)
    if branch.parent_id is not None:
        raise bad_request(
            f"snapshots can only be created from root branches; {branch_id} is not a root branch"
        )
    if lsn is not None:
        raise bad_request(
            "lsn: snapshots at an LSN are not supported by the emulator (only the current state)"
        )
    if timestamp is not None and lsn is not None:
        raise bad_request("timestamp and lsn are mutually exclusive")
    model.check_timestamp_is_now("timestamp", timestamp)
    expires = model.check_future("expires_at", expires_at)
    now = model.clock.stamp()
    if name is None:
        name = f"{branch.name} {now[:19].replace('T', ' ')}"
        while _name_taken(model, project_id, name):
            name += "'"
    elif _name_taken(model, project_id, name):
        raise conflict(f'snapshot with the provided name "{name}" already exists')
    roles, dbs = model.catalog_of(branch.id)
    snap = Snapshot(
        id=model.new_id("snap"),
        project_id=project_id,
        name=name,
        source_branch_id=branch.id,
        created_at=now,
        timestamp=timestamp or now,
        expires_at=expires,
        roles=roles,
        databases=dbs,
    )
    model.state.snapshots[snap.id] = snap
    group = model.new_group()
    # The data is captured by the request itself (the engine's `capture`, before the answer); the operation
    # then only measures it (and fails the snapshot if a crash came between the two).
    work = {"kind": "capture", "src": branch.id, "dst": snap.id, "entity": "snapshot", "id": snap.id}
    previous = _previous_snapshot(model, snap)
    if previous is not None:
        work["base"] = previous.id
    ops = [
        model.add_op(project_id, "create_branch", work, group, branch_id=branch.id),
        model.add_op(project_id, "timeline_archive", {"kind": "noop"}, group, branch_id=branch.id),
    ]
    return snap, ops


def _previous_snapshot(model: Model, snap: Snapshot) -> Snapshot | None:
    """The project's newest other captured snapshot: what `diff_size` is counted against."""
    earlier = [s for s in snapshots_of(model, snap.project_id) if s.id != snap.id and s.captured]
    return earlier[0] if earlier else None


def mark_captured(model: Model, snapshot_id: str, lsn: str | None) -> None:
    snap = model.state.snapshots.get(snapshot_id)
    if snap is not None:
        snap.captured, snap.lsn = True, lsn


def capture_failed(model: Model, ops: list[Operation], message: str) -> None:
    """The request could not copy the data: its operations fail and the snapshot is taken back."""
    mark_failed(model, ops[0], message)


def record_sizes(model: Model, snapshot_id: str, full: int, diff: int) -> None:
    snap = model.state.snapshots.get(snapshot_id)
    if snap is not None:
        snap.full_size, snap.diff_size = full, diff


def update_snapshot(
    model: Model, project_id: str, snapshot_id: str, *, name: str | None, expires_at: Any
) -> Snapshot:
    model.check_unlocked(project_id)
    snap = snapshot(model, project_id, snapshot_id)
    if name is not None and name != snap.name:
        if _name_taken(model, project_id, name, ignore=snap.id):
            raise conflict(f'snapshot with the provided name "{name}" already exists')
        snap.name = name
    if expires_at is not UNSET:
        snap.expires_at = model.check_future("snapshot.expires_at", expires_at)
    return snap


def delete_snapshot(model: Model, project_id: str, snapshot_id: str) -> list[Operation]:
    model.check_unlocked(project_id)
    snap = snapshot(model, project_id, snapshot_id)
    del model.state.snapshots[snap.id]
    return [
        model.add_op(
            project_id,
            "delete_timeline",
            {"kind": "remove", "storage": snap.id},
            model.new_group(),
            branch_id=snap.source_branch_id,
        )
    ]


def restore_snapshot(
    model: Model,
    project_id: str,
    snapshot_id: str,
    *,
    name: str | None,
    target_branch_id: str | None,
    finalize_restore: bool,
) -> Restored:
    project = model.check_unlocked(project_id)
    snap = snapshot(model, project_id, snapshot_id)
    if not snap.ready:
        raise EmulatorError(422, f"snapshot {snapshot_id} is not ready yet")
    if target_branch_id is None:
        target_branch_id = snap.source_branch_id
        if target_branch_id not in model.state.branches:
            raise bad_request("target_branch_id: the snapshot's source branch no longer exists; pass one")
    target = model.branch(project_id, target_branch_id)
    if not finalize_restore and name and model.branch_name_taken(project_id, name):
        raise conflict(f'branch with the provided name "{name}" already exists')
    base_name = name if (name and not finalize_restore) else f"{snap.name} (restored)"
    restored = model.new_branch(
        project_id,
        model.unique_branch_name(project_id, base_name),
        restore_status="restored",
        restored_from=snap.id,
        restored_as=target.id,
    )
    model.copy_catalog(restored.id, snap.roles, snap.databases)
    group = model.new_group()
    ops = [
        model.add_op(
            project_id, "timeline_unarchive", {"kind": "noop"}, group, branch_id=snap.source_branch_id
        )
    ]
    clone: dict[str, Any] = {
        "kind": "clone",
        "src": snap.id,
        "dst": restored.id,
        "entity": "branch",
        "id": restored.id,
    }
    ops.append(model.add_op(project_id, "create_branch", clone, group, branch_id=restored.id))
    if not finalize_restore:
        endpoint = new_endpoint(model, project, restored.id, EndpointSpec())
        ops.append(model.start_compute(endpoint, group))
        return Restored(restored, [endpoint], ops)
    clone["finalize"] = True
    moved, more = _swap(model, restored, target, None, group)
    clone["revert"] = more
    ops += moved[1]
    return Restored(restored, moved[0], ops)


def finalize_restore(model: Model, project_id: str, branch_id: str, *, name: str | None) -> list[Operation]:
    model.check_unlocked(project_id)
    restored = model.branch(project_id, branch_id)
    if restored.restore_status != "restored" or restored.restored_as is None:
        raise bad_request(f"branch {branch_id} is not a restored branch awaiting finalization")
    target = model.state.branches.get(restored.restored_as)
    if target is None:
        raise bad_request(f"the branch {restored.restored_as} this restore would replace no longer exists")
    if name and model.branch_name_taken(project_id, name, ignore=target.id):
        raise conflict(f'branch with the provided name "{name}" already exists')
    group = model.new_group()
    ops: list[Operation] = []
    target_endpoints = model.endpoints_of(project_id, target.id)
    if target_endpoints:  # the preview's own compute gives way to the production ones being moved in
        for own in model.endpoints_of(project_id, restored.id):
            ops.append(model.suspend_compute(own, group))
            del model.state.endpoints[own.id]
    (_, moved_ops), _ = _swap(model, restored, target, name, group)
    restored.restore_status = "finalized"
    return ops + moved_ops


def _swap(
    model: Model, restored: Branch, target: Branch, old_name: str | None, group: str
) -> tuple[tuple[list[Endpoint], list[Operation]], dict[str, Any]]:
    """Give `restored` the target's endpoints, name and flags; rename the target. Returns undo information."""
    project_id = target.project_id
    endpoints = model.endpoints_of(project_id, target.id)
    revert = {
        "target": target.id,
        "name": target.name,
        "protected": target.protected,
        "default": target.default,
        "project_root": target.project_root,
        "endpoints": [e.id for e in endpoints],
    }
    target_name = target.name
    target.name = old_name or model.unique_branch_name(project_id, f"{target_name} (old)")
    restored.name = target_name
    restored.protected, target.protected = target.protected, False
    restored.default, target.default = target.default, False
    restored.project_root, target.project_root = target.project_root, False
    restored.expires_at = target.expires_at
    restored.backup_schedule, target.backup_schedule = target.backup_schedule, []  # a branch setting: moves
    ops: list[Operation] = []
    for endpoint in endpoints:
        ops.append(model.suspend_compute(endpoint, group))
        endpoint.branch_id = restored.id
        model.touch(endpoint)
        ops.append(model.start_compute(endpoint, group))
    model.touch(target)
    model.touch(restored)
    return (endpoints, ops), revert
