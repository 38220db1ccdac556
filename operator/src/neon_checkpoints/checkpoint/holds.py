"""Which Checkpoints a CheckpointRestore still needs: retention and expiry must leave those alone."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from neon_checkpoints.names import CHECKPOINT_RESTORES
from neon_checkpoints.runtime.kube import Kube

# CheckpointRestore phases after which it no longer needs its Checkpoint.
_RESTORE_DONE = frozenset({"Succeeded", "Failed"})


def held_checkpoints(restores: Iterable[Mapping[str, Any]]) -> frozenset[str]:
    """Names of the Checkpoints that restores in progress (any phase but Succeeded/Failed, including not yet
    started) refer to (pure)."""
    held = set()
    for restore in restores:
        if (restore.get("status") or {}).get("phase") in _RESTORE_DONE:
            continue
        ref = (restore.get("spec") or {}).get("checkpointRef") or {}
        if ref.get("name"):
            held.add(str(ref["name"]))
    return frozenset(held)


async def held_in(kube: Kube, namespace: str) -> frozenset[str]:
    return held_checkpoints(await kube.list(CHECKPOINT_RESTORES, namespace))
