"""`neon-checkpoints status` (pure): per Neon project, the newest checkpoint and restore from the meta
database and whatever Kubernetes shows Stalled, rendered as a table or JSON."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from neon_checkpoints.core.conditions import STALLED, find
from neon_checkpoints.core.tables import render_columns
from neon_checkpoints.meta.records import CheckpointRow, RestoreRow


@dataclass(frozen=True)
class StalledResource:
    kind: str
    namespace: str
    name: str
    project_id: str | None
    reason: str
    message: str


@dataclass
class ProjectSummary:
    project_id: str
    last_checkpoint: dict[str, Any] | None = None
    last_restore: dict[str, Any] | None = None
    stalled: list[StalledResource] = field(default_factory=list)


def stalled_resource(kind: str, body: Mapping[str, Any], project_id: str | None) -> StalledResource | None:
    """The resource if its Stalled condition is True."""
    condition = find((body.get("status") or {}).get("conditions") or [], STALLED)
    if condition is None or condition.get("status") != "True":
        return None
    meta = body.get("metadata") or {}
    return StalledResource(
        kind,
        meta.get("namespace", ""),
        meta.get("name", ""),
        project_id,
        str(condition.get("reason") or ""),
        str(condition.get("message") or ""),
    )


def _when(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S") if moment else None


def summarize(
    checkpoints: Iterable[CheckpointRow], restores: Iterable[RestoreRow], stalled: Iterable[StalledResource]
) -> list[ProjectSummary]:
    projects: dict[str, ProjectSummary] = {}

    def of(project_id: str) -> ProjectSummary:
        return projects.setdefault(project_id, ProjectSummary(project_id))

    for c in checkpoints:
        of(c.project_id).last_checkpoint = {
            "name": f"{c.namespace}/{c.name}",
            "phase": "Deleted" if c.deleted_at else c.phase,
            "snapshotId": c.snapshot_id,
            "when": _when(c.ready_at or c.created_at),
        }
    for r in restores:
        duration = (
            (r.completed_at - r.started_at).total_seconds() if r.completed_at and r.started_at else None
        )
        of(r.project_id).last_restore = {
            "name": f"{r.namespace}/{r.name}",
            "mode": r.mode,
            "phase": r.phase,
            "when": _when(r.completed_at or r.created_at),
            "durationSeconds": round(duration, 3) if duration is not None else None,
            "error": r.error,
        }
    for s in stalled:
        of(s.project_id or "?").stalled.append(s)
    return [projects[p] for p in sorted(projects)]


def render_status_json(summaries: Sequence[ProjectSummary], budget: str) -> str:
    return json.dumps({"projects": [asdict(s) for s in summaries], "requestBudget": budget}, indent=2) + "\n"


def render_status_table(summaries: Sequence[ProjectSummary], budget: str) -> str:
    rows = []
    for s in summaries:
        c, r = s.last_checkpoint, s.last_restore
        checkpoint = f"{c['name']} {c['phase']} {c['when'] or ''}".strip() if c else "-"
        restore = "-"
        if r:
            took = f" in {r['durationSeconds']:.1f}s" if r["durationSeconds"] is not None else ""
            restore = f"{r['name']} {r['mode']} {r['phase']}{took} {r['when'] or ''}".strip()
        stalled = "; ".join(f"{x.kind} {x.namespace}/{x.name}: {x.reason}" for x in s.stalled) or "-"
        rows.append((s.project_id, checkpoint, restore, stalled))
    table = (
        render_columns(("PROJECT", "LAST CHECKPOINT", "LAST RESTORE", "STALLED"), rows)
        if rows
        else "no projects"
    )
    return f"{table}\nrequest budget: {budget}\n"
