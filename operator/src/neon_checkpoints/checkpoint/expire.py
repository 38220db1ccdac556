"""Deleting a Checkpoint when its `ttl` / `expiresAt` passes (decisions in expiry.py).

One sleeping daemon per expiring Checkpoint: it wakes at the expiry (or after the resync period), and deletes
the Checkpoint unless a CheckpointRestore in progress refers to it; the Checkpoint's finalizer then handles
the snapshot by `deletionPolicy`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import kopf

from neon_checkpoints.checkpoint.expiry import DeleteNow, HeldByRestore, NeverExpires, WaitUntil, plan_expiry
from neon_checkpoints.checkpoint.holds import held_in
from neon_checkpoints.core.times import parse_time_or_none, rfc3339
from neon_checkpoints.names import CHECKPOINTS
from neon_checkpoints.runtime.runtime import Runtime


async def expire_once(runtime: Runtime, body: kopf.Body, logger: Any, now: dt.datetime) -> float | None:
    """One look; the seconds to sleep before the next, or None when there is nothing more to do."""
    meta = body.metadata
    namespace, name = meta.namespace or "", meta.name or ""
    created = parse_time_or_none(meta.creation_timestamp) or now
    deleting = bool(meta.get("deletionTimestamp"))

    def plan(held: bool) -> NeverExpires | WaitUntil | DeleteNow | HeldByRestore:
        return plan_expiry(body.spec, created_at=created, now=now, deleting=deleting, held_by_restore=held)

    action = plan(False)
    if isinstance(action, DeleteNow):
        action = plan(name in await held_in(runtime.kube, namespace))
    resync = runtime.settings.resync
    match action:
        case NeverExpires():
            return None
        case WaitUntil(moment=moment):
            return max(0.1, min((moment - now).total_seconds(), resync))
        case HeldByRestore(expired_at=expired_at):
            logger.info(
                "expired at %s but a restore in progress uses it; keeping it for now", rfc3339(expired_at)
            )
            return resync
        case DeleteNow(expired_at=expired_at):
            runtime.kube.event(
                body, type="Normal", reason="Expired", message=f"expired at {rfc3339(expired_at)}: deleting"
            )
            await runtime.kube.delete(CHECKPOINTS, namespace, name)
            logger.info("deleted: expired at %s", rfc3339(expired_at))
            return None
    raise AssertionError(action)
