"""The lifecycle of operations: listed for the API, taken in order by the executor, closed as finished or
failed, and what closing them means for the branch, snapshot or endpoint they were about.

Operations are created by the resource decisions (`Model.add_op`); a failure cancels the rest of the
operation's group and takes a branch or snapshot whose data could not be made back out of the model.
"""

from __future__ import annotations

from typing import Any

from .clock import format_ts, parse_ts
from .core import Model
from .entities import IN_PROGRESS, Endpoint, Operation


def list_operations(
    model: Model, project_id: str, *, cursor: str | None, limit: int
) -> tuple[list[Operation], str | None]:
    model.project(project_id)
    ops = sorted(
        (o for o in model.state.operations.values() if o.project_id == project_id),
        key=lambda o: o.created_at,
        reverse=True,
    )
    if cursor:
        ops = [o for o in ops if o.created_at < cursor]
    page = ops[:limit]
    return page, (page[-1].created_at if page else cursor)


def next_operation(model: Model, project_id: str) -> Operation | None:
    pending = [
        o
        for o in model.state.operations.values()
        if o.project_id == project_id and o.status in ("scheduling", "running")
    ]
    return min(pending, key=lambda o: o.created_at) if pending else None


def projects_with_pending_operations(model: Model) -> set[str]:
    return {o.project_id for o in model.state.operations.values() if o.status in IN_PROGRESS}


def mark_running(model: Model, op: Operation) -> None:
    op.status = "running"
    op.updated_at = model.clock.stamp()


def mark_finished(model: Model, op: Operation) -> None:
    _close(model, op, "finished")
    work = op.work
    kind = work.get("kind")
    now = op.updated_at
    if kind in ("init", "clone") and work.get("entity") == "branch":
        branch = model.state.branches.get(work["id"])
        if branch is not None:
            branch.current_state, branch.pending_state, branch.state_changed_at = "ready", None, now
            if work.get("finalize"):
                branch.restore_status = "finalized"
    elif kind in ("clone", "capture") and work.get("entity") == "snapshot":
        snapshot = model.state.snapshots.get(work["id"])
        if snapshot is not None:
            snapshot.ready = True
    elif kind in ("start", "stop"):
        endpoint = model.state.endpoints.get(work["endpoint_id"])
        if endpoint is not None:
            if kind == "start":
                endpoint.current_state, endpoint.started_at = "active", now
            else:
                endpoint.current_state, endpoint.suspended_at = "idle", now
            endpoint.updated_at = now
            _refresh_pending(model, endpoint)


def mark_failed(model: Model, op: Operation, message: str) -> None:
    _close(model, op, "error", message)
    op.failures_count += 1
    for other in model.state.operations.values():
        if other.group == op.group and other.status == "scheduling":
            _close(model, other, "cancelled", f"cancelled: operation {op.id} ({op.action}) failed")
    work = op.work
    if work.get("kind") in ("init", "clone", "capture"):
        _undo_creation(model, work)
    for endpoint in model.state.endpoints.values():
        _refresh_pending(model, endpoint)


def _close(model: Model, op: Operation, status: str, error: str | None = None) -> None:
    now = model.clock.now()
    op.status, op.error, op.updated_at = status, error, format_ts(now)
    op.total_duration_ms = max(0, int((now - parse_ts(op.created_at)).total_seconds() * 1000))


def _refresh_pending(model: Model, endpoint: Endpoint) -> None:
    queued = [
        o
        for o in model.state.operations.values()
        if o.endpoint_id == endpoint.id
        and o.status in IN_PROGRESS
        and o.work.get("kind") in ("start", "stop")
    ]
    if queued:
        nxt = min(queued, key=lambda o: o.created_at)
        endpoint.pending_state = "active" if nxt.work["kind"] == "start" else "idle"
    else:
        endpoint.pending_state = None


def _undo_creation(model: Model, work: dict[str, Any]) -> None:
    """A branch or snapshot whose data could not be made is taken back out of the model."""
    if work.get("entity") == "snapshot":
        model.state.snapshots.pop(work["id"], None)
        if work.get("kind") == "capture":  # its data may be there already: the executor removes it
            model.state.pending_removals.append(work["dst"])
        return
    revert = work.get("revert")
    if revert is not None:  # a finalized restore: give the target back its name, flags and endpoints
        target = model.state.branches.get(revert["target"])
        if target is not None:
            target.name, target.protected = revert["name"], revert["protected"]
            target.default, target.project_root = revert["default"], revert["project_root"]
            for endpoint_id in revert["endpoints"]:
                if endpoint_id in model.state.endpoints:
                    model.state.endpoints[endpoint_id].branch_id = target.id
    if work.get("id") in model.state.branches:
        model.drop_branch_records(work["id"])
