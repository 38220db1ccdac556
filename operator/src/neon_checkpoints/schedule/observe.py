"""A schedule's Checkpoints as observed in the cluster (pure parsing of the listed objects)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from neon_checkpoints.core.times import parse_time_or_none
from neon_checkpoints.names import SCHEDULED_TIME_ANNOTATION
from neon_checkpoints.schedule.plan import OwnedCheckpoint


def owned_checkpoint(obj: Mapping[str, Any]) -> OwnedCheckpoint | None:
    meta = obj.get("metadata") or {}
    scheduled = parse_time_or_none((meta.get("annotations") or {}).get(SCHEDULED_TIME_ANNOTATION))
    if scheduled is None:
        return None
    return OwnedCheckpoint(
        name=meta["name"],
        scheduled_time=scheduled,
        phase=(obj.get("status") or {}).get("phase"),
        deleting=bool(meta.get("deletionTimestamp")),
    )
