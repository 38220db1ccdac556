"""Branch calls: create (from a parent, with endpoints), list (search, cursor pagination), patch, delete."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from .clock import format_ts, parse_ts
from .core import UNSET, Model
from .endpoints import EndpointSpec, new_endpoint
from .entities import Branch, DeletedBranch, Endpoint, Operation
from .errors import EmulatorError, bad_request, conflict, not_found
from .projects import Created

SORT_FIELDS = ("name", "created_at", "updated_at")
RECOVERY_WINDOW = timedelta(days=7)  # a deleted branch stays recoverable this long, as on Neon


@dataclass(frozen=True)
class BranchPage:
    branches: list[Branch]
    next_cursor: str | None
    sort_by: str
    sort_order: str
    deleted: dict[str, DeletedBranch] = field(default_factory=dict)  # those of `branches` soft-deleted


def create_branch(
    model: Model,
    project_id: str,
    *,
    name: str | None,
    parent_id: str | None,
    parent_timestamp: str | None,
    parent_lsn: str | None,
    protected: bool,
    init_source: str | None,
    expires_at: str | None,
    endpoints: list[EndpointSpec],
) -> Created:
    project = model.check_unlocked(project_id)
    parent = model.branch(project_id, parent_id) if parent_id else model.default_branch(project_id)
    if parent_lsn is not None:
        raise bad_request(
            "branch.parent_lsn: point-in-time branching by LSN is not supported by the emulator"
        )
    model.check_timestamp_is_now("branch.parent_timestamp", parent_timestamp)
    if init_source and init_source != "parent-data":
        raise bad_request("branch.init_source: only 'parent-data' is supported by the emulator")
    if name and model.branch_name_taken(project_id, name):
        raise conflict(f'branch with the provided name "{name}" already exists')
    if len(endpoints) > 1:
        raise bad_request("endpoints: at most one read_write endpoint per branch")
    expires = model.check_future("branch.expires_at", expires_at)
    branch = model.new_branch(
        project_id,
        name or "",
        parent_id=parent.id,
        parent_timestamp=parent_timestamp,
        protected=protected,
        expires_at=expires,
    )
    try:
        created_endpoints = [new_endpoint(model, project, branch.id, spec) for spec in endpoints]
    except EmulatorError:
        model.drop_branch_records(branch.id)
        raise
    roles, dbs = model.catalog_of(parent.id)
    model.copy_catalog(branch.id, roles, dbs)
    group = model.new_group()
    ops = [
        model.add_op(
            project_id,
            "create_branch",
            {"kind": "clone", "src": parent.id, "dst": branch.id, "entity": "branch", "id": branch.id},
            group,
            branch_id=branch.id,
        )
    ]
    ops += [model.start_compute(e, group) for e in created_endpoints if not e.disabled]
    return Created(
        project, branch, created_endpoints, model.roles_of(branch.id), model.databases_of(branch.id), ops
    )


def list_branches(
    model: Model,
    project_id: str,
    *,
    search: str | None,
    sort_by: str,
    sort_order: str,
    cursor: str | None,
    limit: int | None,
    include_deleted: bool = False,
) -> BranchPage:
    model.project(project_id)
    branches = model.branches_of(project_id)
    deleted = {d.branch.id: d for d in deleted_branches_of(model, project_id)} if include_deleted else {}
    branches += [d.branch for d in deleted.values()]
    if search:
        needle = search.lower()
        branches = [b for b in branches if needle in b.name.lower() or needle in b.id]
    if cursor:
        sort_by, sort_order, after = _decode_cursor(cursor)
    else:
        after = None
    reverse = sort_order == "desc"
    branches.sort(key=lambda b: (str(getattr(b, sort_by)), b.id), reverse=reverse)
    if after is not None:

        def beyond(b: Branch) -> bool:
            key = (str(getattr(b, sort_by)), b.id)
            return key < after if reverse else key > after

        branches = [b for b in branches if beyond(b)]
    if limit is None or len(branches) <= limit:
        return BranchPage(branches, None, sort_by, sort_order, deleted)
    page = branches[:limit]
    last = page[-1]
    cursor = _encode_cursor(sort_by, sort_order, (str(getattr(last, sort_by)), last.id))
    return BranchPage(page, cursor, sort_by, sort_order, deleted)


def _encode_cursor(sort_by: str, sort_order: str, after: tuple[str, str]) -> str:
    raw = json.dumps({"s": sort_by, "o": sort_order, "a": list(after)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[str, str, tuple[str, str]]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        sort_by, sort_order, after = raw["s"], raw["o"], raw["a"]
        if sort_by not in SORT_FIELDS or sort_order not in ("asc", "desc"):
            raise ValueError(sort_by)
        return str(sort_by), str(sort_order), (str(after[0]), str(after[1]))
    except (ValueError, KeyError, IndexError, TypeError, binascii.Error):
        raise bad_request("cursor: invalid pagination cursor") from None


def update_branch(
    model: Model,
    project_id: str,
    branch_id: str,
    *,
    name: str | None,
    protected: bool | None,
    expires_at: Any,
) -> Branch:
    model.check_unlocked(project_id)
    branch = model.branch(project_id, branch_id)
    if name is not None and name != branch.name:
        if model.branch_name_taken(project_id, name, ignore=branch.id):
            raise conflict(f'branch with the provided name "{name}" already exists')
        branch.name = name
    if protected is not None:
        branch.protected = protected
    if expires_at is not UNSET:
        branch.expires_at = model.check_future("branch.expires_at", expires_at)
    model.touch(branch)
    return branch


def delete_branch(
    model: Model, project_id: str, branch_id: str, *, hard: bool = False, method: str = "user"
) -> tuple[Branch, list[Operation]] | None:
    """Neon's delete: recoverable for RECOVERY_WINDOW (its storage kept) unless `hard`; `hard` on a branch
    already soft-deleted removes it for good. None when there is nothing to delete (Neon answers 204)."""
    model.check_unlocked(project_id)
    deleted = model.state.deleted_branches.get(branch_id)
    if deleted is not None and deleted.branch.project_id == project_id:
        return _purge(model, project_id, branch_id) if hard else None
    branch = model.state.branches.get(branch_id)
    if branch is None or branch.project_id != project_id:
        return None
    if branch.default:
        raise EmulatorError(
            422, f"branch {branch_id} is the default branch of the project and cannot be deleted"
        )
    if branch.project_root:
        raise EmulatorError(
            422, f"branch {branch_id} is the root branch of the project and cannot be deleted"
        )
    children = [b.id for b in model.branches_of(project_id) if b.parent_id == branch_id]
    if children:
        raise EmulatorError(422, f"branch {branch_id} has child branches and cannot be deleted")
    group = model.new_group()
    ops = [model.suspend_compute(e, group) for e in model.endpoints_of(project_id, branch_id)]
    if not hard:
        roles, databases = model.roles_of(branch_id), model.databases_of(branch_id)
        endpoints = model.drop_branch_records(branch_id)
        now = model.clock.now()
        model.state.deleted_branches[branch_id] = DeletedBranch(
            branch, endpoints, roles, databases, format_ts(now), format_ts(now + RECOVERY_WINDOW), method
        )
        ops.append(model.add_op(project_id, "delete_timeline", {"kind": "noop"}, group, branch_id=branch_id))
        return branch, ops
    model.drop_branch_records(branch_id)
    ops.append(
        model.add_op(
            project_id,
            "delete_timeline",
            {"kind": "remove", "storage": branch_id},
            group,
            branch_id=branch_id,
        )
    )
    branch.current_state, branch.pending_state = "deleted", None  # only for the response
    return branch, ops


def _purge(model: Model, project_id: str, branch_id: str) -> tuple[Branch, list[Operation]]:
    """A soft-deleted branch removed for good (hard_delete=true on it, or its recovery window over)."""
    branch = model.state.deleted_branches.pop(branch_id).branch
    work = {"kind": "remove", "storage": branch_id}
    op = model.add_op(project_id, "delete_timeline", work, model.new_group(), branch_id=branch_id)
    branch.current_state, branch.pending_state = "deleted", None  # only for the response
    return branch, [op]


def purge_unrecoverable(model: Model) -> set[str]:
    """Soft-deleted branches past their recovery window, removed for good; returns the touched projects."""
    now = model.clock.now()
    touched = set()
    for deleted in list(model.state.deleted_branches.values()):
        pid = deleted.branch.project_id
        if parse_ts(deleted.recoverable_until) <= now and not model.busy(pid):
            _purge(model, pid, deleted.branch.id)
            touched.add(pid)
    return touched


def recover_branch(model: Model, project_id: str, branch_id: str) -> tuple[Branch, list[Endpoint]]:
    """A soft-deleted branch back, with its roles, databases and endpoints (its data was kept). Neon's
    endpoints come back idle and wake at the first connection; here nothing wakes a server, so they start."""
    model.check_unlocked(project_id)
    deleted = model.state.deleted_branches.get(branch_id)
    if deleted is None or deleted.branch.project_id != project_id:
        if branch_id in model.state.branches:
            raise bad_request(f"branch {branch_id} is not deleted")
        raise not_found("branch", branch_id)
    branch = deleted.branch
    if model.branch_name_taken(project_id, branch.name):
        raise conflict(f'branch with the provided name "{branch.name}" already exists')
    if branch.parent_id and branch.parent_id not in model.state.branches:
        branch.parent_id = None  # its parent is gone; the data is the branch's own copy
    del model.state.deleted_branches[branch_id]
    branch.expires_at = None  # TTL branches become non-TTL branches after recovery, as on Neon
    model.touch(branch)
    model.state.branches[branch_id] = branch
    model.state.roles.extend(deleted.roles)
    model.state.databases.extend(deleted.databases)
    group = model.new_group()
    for endpoint in deleted.endpoints:
        endpoint.current_state, endpoint.pending_state = "idle", None
        model.state.endpoints[endpoint.id] = endpoint
        if not endpoint.disabled:
            endpoint.pending_state = "active"
            model.start_compute(endpoint, group)
    return branch, deleted.endpoints


def deleted_branches_of(model: Model, project_id: str) -> list[DeletedBranch]:
    return [d for d in model.state.deleted_branches.values() if d.branch.project_id == project_id]


def set_as_default(model: Model, project_id: str, branch_id: str) -> Branch:
    model.check_unlocked(project_id)
    branch = model.branch(project_id, branch_id)
    for other in model.branches_of(project_id):
        if other.default and other.id != branch_id:
            other.default = False
            model.touch(other)
    branch.default = True
    model.touch(branch)
    return branch


def count_branches(model: Model, project_id: str, search: str | None) -> int:
    return len(
        list_branches(
            model, project_id, search=search, sort_by="updated_at", sort_order="desc", cursor=None, limit=None
        ).branches
    )
