"""The timeline as text: a table for people, JSON for programs (pure)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

from neon_checkpoints.core.tables import render_columns
from neon_checkpoints.meta.records import CheckpointRow, RestoreRow
from neon_checkpoints.timeline.build import TimelineEntry
from neon_checkpoints.timeline.cost import PRICE_PER_GB_MONTH, Sizes, describe


def render_table(
    project_id: str,
    entries: Sequence[TimelineEntry],
    sizes: Mapping[str, Sizes] | None = None,
    *,
    price_per_gb_month: float = PRICE_PER_GB_MONTH,
) -> str:
    """`sizes` (by snapshot id, from Neon) adds each checkpoint's size and cost estimate."""
    if not entries:
        return f"No checkpoints recorded for project {project_id}.\n"
    header: tuple[str, ...] = ("WHEN (UTC)", "EVENT", "NAME", "PHASE", "PARENT", "SOURCE / RESTORE")
    if sizes is not None:
        header += ("SIZE (+DIFF), COST",)
    rows = [
        (
            e.at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
            f"checkpoint #{e.id}" if e.kind == "checkpoint" else f"restore #{e.id}",
            e.name,
            e.phase,
            e.parent,
            e.detail,
            *(() if sizes is None else (_cost(e, sizes, price_per_gb_month),)),
        )
        for e in entries
    ]
    return f"Timeline of project {project_id}\n" + render_columns(header, rows) + "\n"


def _cost(entry: TimelineEntry, sizes: Mapping[str, Sizes], price: float) -> str:
    if entry.kind != "checkpoint":
        return ""
    return describe(sizes.get(entry.snapshot_id or ""), price)


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
