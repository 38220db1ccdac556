"""The timeline as text: a table for people, JSON for programs (pure)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from neon_checkpoints.core.tables import render_columns
from neon_checkpoints.meta.records import CheckpointRow, RestoreRow
from neon_checkpoints.timeline.build import TimelineEntry


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
    return f"Timeline of project {project_id}\n" + render_columns(header, rows) + "\n"


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
