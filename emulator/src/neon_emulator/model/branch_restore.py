"""Restoring a branch from another branch's head (`POST /branches/{id}/restore`, neon-api.md §3 and §12).

The target keeps its id, name and endpoints (so its connection string stays); its data becomes a copy of
the source branch's. With `preserve_under_name` the state it had is kept as a new branch of that name, and
its children move there (Neon requires the name when the target has children, or is its own source).
The emulator keeps no WAL history, so only the source's head (or a timestamp of "now") can be restored.
"""

from __future__ import annotations

from dataclasses import dataclass

from .core import Model
from .entities import Branch, Operation
from .errors import EmulatorError, bad_request, conflict


@dataclass(frozen=True)
class BranchRestored:
    branch: Branch
    preserved: Branch | None
    operations: list[Operation]


def restore_branch(
    model: Model,
    project_id: str,
    branch_id: str,
    *,
    source_branch_id: str,
    preserve_under_name: str | None,
    source_lsn: str | None,
    source_timestamp: str | None,
) -> BranchRestored:
    model.check_unlocked(project_id)
    target = model.branch(project_id, branch_id)
    source = model.branch(project_id, source_branch_id)
    if source_lsn is not None and source_timestamp is not None:
        raise bad_request("source_lsn and source_timestamp are mutually exclusive")
    if source_lsn is not None:
        raise bad_request("source_lsn: restoring to an LSN is not supported by the emulator (only the head)")
    if source.id == target.id:
        # Neon: a branch restored onto itself needs a point in its history, which the emulator does not keep.
        raise bad_request(
            "restoring a branch onto itself needs source_lsn or source_timestamp and preserve_under_name; "
            "the emulator keeps no history to restore from"
        )
    model.check_timestamp_is_now("source_timestamp", source_timestamp)
    children = [b for b in model.branches_of(project_id) if b.parent_id == target.id]
    if children and not preserve_under_name:
        raise bad_request(f"preserve_under_name is required: branch {target.id} has child branches")
    if target.protected:
        raise EmulatorError(422, f"branch {target.id} is protected and cannot be restored")
    if preserve_under_name and model.branch_name_taken(project_id, preserve_under_name):
        raise conflict(f'branch with the provided name "{preserve_under_name}" already exists')
    group = model.new_group()
    endpoints = model.endpoints_of(project_id, target.id)
    ops = [model.suspend_compute(e, group) for e in endpoints]
    preserved = None
    if preserve_under_name:
        preserved = model.new_branch(project_id, preserve_under_name, parent_id=target.parent_id)
        roles, dbs = model.catalog_of(target.id)
        model.copy_catalog(preserved.id, roles, dbs)
        for child in children:
            child.parent_id = preserved.id
            model.touch(child)
        work = {
            "kind": "clone",
            "src": target.id,
            "dst": preserved.id,
            "entity": "branch",
            "id": preserved.id,
        }
        ops.append(model.add_op(project_id, "create_branch", work, group, branch_id=preserved.id))
    # The target takes the source's roles and databases with its data.
    model.state.roles = [r for r in model.state.roles if r.branch_id != target.id]
    model.state.databases = [d for d in model.state.databases if d.branch_id != target.id]
    roles, dbs = model.catalog_of(source.id)
    model.copy_catalog(target.id, roles, dbs)
    reset = {"kind": "clone", "src": source.id, "dst": target.id, "entity": "branch", "id": target.id}
    # Neon's OperationAction has no "reset" action: the branch gets a new timeline from the source.
    ops.append(model.add_op(project_id, "create_timeline", reset, group, branch_id=target.id))
    ops += [model.start_compute(e, group) for e in endpoints]
    target.current_state, target.pending_state = "resetting", "ready"
    target.state_changed_at = model.clock.stamp()
    model.touch(target)
    return BranchRestored(target, preserved, ops)
