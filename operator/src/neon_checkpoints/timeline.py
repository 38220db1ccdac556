"""The checkpoint timeline of a project as people read it: pure assembly and rendering, no I/O.

Checkpoints and restores are merged into one chronological list; each checkpoint names its parent (the
lineage recorded by the meta store, which follows finalized restores), each restore names the checkpoint it
went back to.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from neon_checkpoints.meta.records import CheckpointRow, RestoreRow


@dataclass(frozen=True)
class TimelineEntry:
    kind: Literal["checkpoint", "restore"]
    at: dt.datetime
    id: int
    name: str
    phase: str
    detail: str
    parent: str


def _source_summary(source: dict[str, Any]) -> str:
    """`commit=3f2c9e1 prompt="add tags"`: the app-version metadata, stored verbatim, shown compactly."""
    return " ".join(
        f"{key}={json.dumps(value) if isinstance(value, str) and ' ' in value else value}"
        for key, value in source.items()
    )


def build_timeline(
    checkpoints: Sequence[CheckpointRow], restores: Sequence[RestoreRow]
) -> list[TimelineEntry]:
    names = {c.id: f"#{c.id} {c.name}" for c in checkpoints}
    entries = [
        TimelineEntry(
            kind="checkpoint",
            at=c.created_at,
            id=c.id,
            name=c.name + (" (deleted)" if c.deleted_at else ""),
            phase=c.phase,
            detail=_source_summary(c.source),
            parent=names.get(c.parent_checkpoint_id, "-") if c.parent_checkpoint_id else "-",
        )
        for c in checkpoints
    ]
    entries += [
        TimelineEntry(
            kind="restore",
            at=r.started_at or r.created_at,
            id=r.id,
            name=r.name,
            phase=r.phase,
            detail=f"{r.mode} -> {names.get(r.checkpoint_id, '?') if r.checkpoint_id else '?'}"
            + (f": {r.error}" if r.error else ""),
            parent="-",
        )
        for r in restores
    ]
    return sorted(entries, key=lambda e: (e.at, e.kind, e.id))


def render_table(project_id: str, entries: Sequence[TimelineEntry]) -> str:
    if not entries:
        return f"No checkpoints recorded for project {project_id}.\n"
    header = ("WHEN (UTC)", "EVENT", "NAME", "PHASE", "PARENT", "SOURCE / RESTORE")
    rows = [
        (
            e.at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
            f"checkpoint #{e.id}" if e.kind == "checkpoint" else f"restore #{e.id}",
            e.name,
            e.phase,
            e.parent,
            e.detail,
        )
        for e in entries
    ]
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in (header, *rows)
    ]
    return f"Timeline of project {project_id}\n" + "\n".join(lines) + "\n"


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def render_json(project_id: str, checkpoints: Sequence[CheckpointRow], restores: Sequence[RestoreRow]) -> str:
    return (
        json.dumps(
            {
                "projectId": project_id,
                "checkpoints": [{k: _jsonable(v) for k, v in c.__dict__.items()} for c in checkpoints],
                "restores": [{k: _jsonable(v) for k, v in r.__dict__.items()} for r in restores],
            },
            indent=2,
        )
        + "\n"
    )
