"""The checkpoint timeline of a project: its meta rows merged into one chronological list (pure).

Checkpoints and restores are merged into one list in Neon's order (a checkpoint at its snapshot's time, a
restore when it took effect in Neon, else when it started); each checkpoint names its parent (the lineage
recorded by the meta store, meta/parents.py), each restore names the checkpoint it went back to.
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
    snapshot_id: str | None = None


def _source_summary(source: dict[str, Any]) -> str:
    """`commit=3f2c9e1 prompt="add tags"`: the app-version metadata, stored verbatim, shown compactly."""
    return " ".join(
        f"{key}={json.dumps(value) if isinstance(value, str) and ' ' in value else value}"
        for key, value in source.items()
    )


def _code_summary(workloads: Sequence[dict[str, str]] | None) -> str:
    """` code: Deployment/web@1a2b3c4d5e6f ...`: the workloads recorded with the snapshot."""
    if not workloads:
        return ""
    return " code: " + " ".join(f"{w['kind']}/{w['name']}@{w['revision']}" for w in workloads)


def build_timeline(
    checkpoints: Sequence[CheckpointRow], restores: Sequence[RestoreRow]
) -> list[TimelineEntry]:
    names = {c.id: f"#{c.id} {c.name}" for c in checkpoints}
    undone = {r.uid: r.name for r in restores}
    entries = [
        TimelineEntry(
            kind="checkpoint",
            at=c.snapshot_created_at or c.created_at,
            id=c.id,
            name=c.name + (" (deleted)" if c.deleted_at else ""),
            phase=c.phase,
            detail=_source_summary(c.source) + _code_summary(c.workloads),
            parent=names.get(c.parent_checkpoint_id, "-") if c.parent_checkpoint_id else "-",
            snapshot_id=c.snapshot_id,
        )
        for c in checkpoints
    ]
    entries += [
        TimelineEntry(
            kind="restore",
            at=r.database_restored_at or r.started_at or r.created_at,
            id=r.id,
            name=r.name,
            phase=r.phase,
            detail=(
                f"Undo of {undone.get(r.undo_of or '', '?')}"
                if r.mode == "Undo"
                else f"{r.mode} -> {names.get(r.checkpoint_id, '?') if r.checkpoint_id else '?'}"
            )
            + (f": {r.error}" if r.error else ""),
            parent="-",
        )
        for r in restores
    ]
    return sorted(entries, key=lambda e: (e.at, e.kind, e.id))
