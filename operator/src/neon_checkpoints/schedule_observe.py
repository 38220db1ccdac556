"""Reading the cluster objects the schedule and expiry handlers decide on: a schedule's Checkpoints and the
CheckpointRestores that still need theirs (pure parsing plus one list call)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from neon_checkpoints.custom_objects import CustomObjects
from neon_checkpoints.resources import CHECKPOINT_RESTORES
from neon_checkpoints.schedules import (
    SCHEDULED_TIME_ANNOTATION,
    OwnedCheckpoint,
    RestoreRef,
    protected_checkpoints,
)


def parse_time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def owned_checkpoint(obj: Mapping[str, Any]) -> OwnedCheckpoint | None:
    meta = obj.get("metadata") or {}
    scheduled = parse_time((meta.get("annotations") or {}).get(SCHEDULED_TIME_ANNOTATION))
    if scheduled is None:
        return None
    return OwnedCheckpoint(
        name=meta["name"],
        scheduled_time=scheduled,
        phase=(obj.get("status") or {}).get("phase"),
        deleting=bool(meta.get("deletionTimestamp")),
    )


def restore_ref(obj: Mapping[str, Any]) -> RestoreRef:
    ref = (obj.get("spec") or {}).get("checkpointRef") or {}
    return RestoreRef(checkpoint_name=ref.get("name", ""), phase=(obj.get("status") or {}).get("phase"))


async def protected_in(objects: CustomObjects, namespace: str) -> frozenset[str]:
    """Checkpoints in `namespace` that a CheckpointRestore in progress refers to."""
    restores = await objects.list(CHECKPOINT_RESTORES, namespace)
    return protected_checkpoints(restore_ref(r) for r in restores)
