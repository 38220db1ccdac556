"""What the page shows for one app (Neon project), built from the meta rows and the live resources (pure).

The meta database holds the timeline (lineage, when each restore ran); the resources hold what is live now
(phase, conditions, `status.workloads`, a schedule's label, `spec.undo`) and what the operator has not
recorded yet (a restore still Pending). Both are merged by uid; the resource wins for what it carries.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from neon_checkpoints.meta.records import CheckpointRow, RestoreRow
from neon_checkpoints.names import SCHEDULE_LABEL

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
FINAL_PHASES = ("Succeeded", "Failed")


@dataclass(frozen=True)
class Workload:
    kind: str
    name: str
    revision: str


@dataclass(frozen=True)
class CheckpointNode:
    name: str
    at: dt.datetime
    phase: str
    meta_id: int | None = None
    parent: str | None = None  # the parent checkpoint's name (lineage)
    source: Mapping[str, Any] = field(default_factory=dict)
    schedule: str | None = None  # the CheckpointSchedule that made it, if one did
    workloads: tuple[Workload, ...] = ()
    deleted: bool = False
    snapshot_id: str | None = None


@dataclass(frozen=True)
class Condition:
    type: str
    status: str
    reason: str
    message: str


@dataclass(frozen=True)
class RestoreNode:
    name: str
    at: dt.datetime
    phase: str
    mode: str  # Finalize | Preview | Undo
    checkpoint: str | None  # the checkpoint it goes back to (None for an undo, or when unknown)
    undo_of: str | None = None  # spec.undo.restoreRef.name
    conditions: tuple[Condition, ...] = ()
    message: str = ""
    error: str | None = None


@dataclass(frozen=True)
class Event:
    kind: Literal["checkpoint", "restore"]
    name: str


@dataclass(frozen=True)
class AppView:
    project_id: str
    namespace: str
    checkpoints: tuple[CheckpointNode, ...]
    restores: tuple[RestoreNode, ...]
    events: tuple[Event, ...]  # chronological
    production: str | None  # the checkpoint production is at now
    # For an undo: where production went (the checkpoint it was at just before the undone restore).
    undo_targets: Mapping[str, str | None] = field(default_factory=dict)

    def checkpoint(self, name: str) -> CheckpointNode | None:
        return next((c for c in self.checkpoints if c.name == name), None)

    def restore(self, name: str) -> RestoreNode | None:
        return next((r for r in self.restores if r.name == name), None)


def _time(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def _workloads(status: Mapping[str, Any]) -> tuple[Workload, ...]:
    found = status.get("workloads")
    if not isinstance(found, list):
        return ()
    return tuple(
        Workload(str(w.get("kind", "")), str(w.get("name", "")), str(w.get("revision", "")))
        for w in found
        if isinstance(w, Mapping)
    )


def _conditions(status: Mapping[str, Any]) -> tuple[Condition, ...]:
    found = status.get("conditions")
    if not isinstance(found, list):
        return ()
    return tuple(
        Condition(
            str(c.get("type", "")),
            str(c.get("status", "")),
            str(c.get("reason", "")),
            str(c.get("message", "")),
        )
        for c in found
        if isinstance(c, Mapping)
    )


def apps(checkpoint_rows: Sequence[CheckpointRow], checkpoints: Sequence[Mapping[str, Any]]) -> list[str]:
    """The Neon projects with checkpoints in this namespace, in the meta DB or in the cluster, sorted."""
    found = {r.project_id for r in checkpoint_rows}
    found |= {str(c["spec"]["projectId"]) for c in checkpoints if (c.get("spec") or {}).get("projectId")}
    return sorted(found)


def build_app(
    project_id: str,
    namespace: str,
    checkpoint_rows: Sequence[CheckpointRow],
    restore_rows: Sequence[RestoreRow],
    checkpoints: Sequence[Mapping[str, Any]],
    restores: Sequence[Mapping[str, Any]],
) -> AppView:
    rows_by_uid = {
        r.uid: r for r in checkpoint_rows if r.namespace == namespace and r.project_id == project_id
    }
    names_by_id = {r.id: r.name for r in rows_by_uid.values()}
    live = {
        c["metadata"]["uid"]: c for c in checkpoints if (c.get("spec") or {}).get("projectId") == project_id
    }
    nodes: list[CheckpointNode] = []
    for uid in {*rows_by_uid, *live}:
        row, res = rows_by_uid.get(uid), live.get(uid)
        meta = (res or {}).get("metadata") or {}
        status = (res or {}).get("status") or {}
        spec = (res or {}).get("spec") or {}
        at = (
            (row.snapshot_created_at or row.created_at if row else None)
            or _time(meta.get("creationTimestamp"))
            or EPOCH
        )
        nodes.append(
            CheckpointNode(
                name=row.name if row else str(meta.get("name")),
                at=at,
                phase=str(status.get("phase") or (row.phase if row else "Pending")),
                meta_id=row.id if row else None,
                parent=names_by_id.get(row.parent_checkpoint_id)
                if row and row.parent_checkpoint_id
                else None,
                source=(row.source if row else None) or spec.get("source") or {},
                schedule=(meta.get("labels") or {}).get(SCHEDULE_LABEL),
                workloads=_workloads(status),
                deleted=bool(row and row.deleted_at) and res is None,
                snapshot_id=(row.snapshot_id if row else None) or status.get("snapshotId"),
            )
        )
    nodes.sort(key=lambda n: (n.at, n.meta_id or 0, n.name))
    known = {n.name for n in nodes}

    restore_rows_by_uid = {
        r.uid: r for r in restore_rows if r.namespace == namespace and r.project_id == project_id
    }
    live_restores: dict[str, Mapping[str, Any]] = {}
    for r in restores:
        spec = r.get("spec") or {}
        target = (spec.get("checkpointRef") or {}).get("name")
        # A restore belongs to this app when its checkpoint does, or when the meta DB says so.
        if target in known or r["metadata"]["uid"] in restore_rows_by_uid or (spec.get("undo") and known):
            live_restores[r["metadata"]["uid"]] = r
    restore_nodes: list[RestoreNode] = []
    for uid in {*restore_rows_by_uid, *live_restores}:
        row_r, res = restore_rows_by_uid.get(uid), live_restores.get(uid)
        meta = (res or {}).get("metadata") or {}
        status = (res or {}).get("status") or {}
        spec = (res or {}).get("spec") or {}
        undo_of = ((spec.get("undo") or {}).get("restoreRef") or {}).get("name")
        target = (spec.get("checkpointRef") or {}).get("name")
        if target is None and row_r and row_r.checkpoint_id:
            target = names_by_id.get(row_r.checkpoint_id)
        at = (
            (row_r.database_restored_at or row_r.started_at or row_r.created_at if row_r else None)
            or _time(status.get("startedAt"))
            or _time(meta.get("creationTimestamp"))
            or EPOCH
        )
        restore_nodes.append(
            RestoreNode(
                name=row_r.name if row_r else str(meta.get("name")),
                at=at,
                phase=str(status.get("phase") or (row_r.phase if row_r else "Pending")),
                mode="Undo" if undo_of else str(spec.get("mode") or (row_r.mode if row_r else "Finalize")),
                checkpoint=None if undo_of else target,
                undo_of=str(undo_of) if undo_of else None,
                conditions=_conditions(status),
                message=str(status.get("message") or ""),
                error=row_r.error if row_r else None,
            )
        )
    restore_nodes.sort(key=lambda r: (r.at, r.name))

    events = sorted(
        [Event("checkpoint", n.name) for n in nodes] + [Event("restore", r.name) for r in restore_nodes],
        key=lambda e: _event_time(e, nodes, restore_nodes),
    )
    production, undo_targets = _production(events, nodes, restore_nodes)
    return AppView(
        project_id, namespace, tuple(nodes), tuple(restore_nodes), tuple(events), production, undo_targets
    )


def _event_time(
    event: Event, nodes: Sequence[CheckpointNode], restores: Sequence[RestoreNode]
) -> tuple[dt.datetime, int, str]:
    if event.kind == "checkpoint":
        return next(n.at for n in nodes if n.name == event.name), 0, event.name
    return next(r.at for r in restores if r.name == event.name), 1, event.name


def _production(
    events: Sequence[Event], nodes: Sequence[CheckpointNode], restores: Sequence[RestoreNode]
) -> tuple[str | None, dict[str, str | None]]:
    """Replay the timeline: a Ready checkpoint snapshots production, a succeeded Finalize restore puts
    production at its checkpoint, a succeeded undo puts it back where it was just before the undone restore.
    Preview restores leave production alone."""
    by_name_c = {n.name: n for n in nodes}
    by_name_r = {r.name: r for r in restores}
    production: str | None = None
    before: dict[str, str | None] = {}  # restore name -> production just before it
    undo_targets: dict[str, str | None] = {}
    for event in events:
        if event.kind == "checkpoint":
            if by_name_c[event.name].phase in ("Ready", "Deleting") or by_name_c[event.name].deleted:
                production = event.name
            continue
        restore = by_name_r[event.name]
        if restore.mode == "Undo":
            undo_targets[restore.name] = before.get(restore.undo_of or "")
            if restore.phase == "Succeeded":
                production = undo_targets[restore.name]
        elif restore.mode == "Finalize":
            before[restore.name] = production
            if restore.phase == "Succeeded":
                production = restore.checkpoint
    return production, undo_targets


@dataclass(frozen=True)
class Change:
    what: str
    a: str
    b: str


def compare(a: CheckpointNode, b: CheckpointNode) -> tuple[Change, ...]:
    """What differs between two checkpoints in what the resources and the timeline record: source metadata
    and workload revisions (the schema comes from ui/sources.py)."""
    changes: list[Change] = []
    for key in sorted({*a.source, *b.source}):
        va, vb = a.source.get(key), b.source.get(key)
        if va != vb:
            changes.append(Change(f"source.{key}", _show(va), _show(vb)))
    wa = {(w.kind, w.name): w.revision for w in a.workloads}
    wb = {(w.kind, w.name): w.revision for w in b.workloads}
    for kind, name in sorted({*wa, *wb}):
        ra, rb = wa.get((kind, name)), wb.get((kind, name))
        if ra != rb:
            changes.append(Change(f"{kind}/{name}", ra or "(not captured)", rb or "(not captured)"))
    return tuple(changes)


def _show(value: Any) -> str:
    return "(none)" if value is None else str(value)
