"""kopf daemon deleting a Checkpoint when its `ttl` / `expiresAt` passes (decisions in expiry.py).

One sleeping task per expiring Checkpoint: it wakes at the expiry (or after the resync period), and deletes
the Checkpoint unless a CheckpointRestore in progress refers to it; the Checkpoint's finalizer then handles
the snapshot by `deletionPolicy`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import kopf

from neon_checkpoints.conditions import rfc3339
from neon_checkpoints.custom_objects import CustomObjects, KubeCallFailed
from neon_checkpoints.expiry import DeleteNow, HeldByRestore, NeverExpires, WaitUntil, plan_expiry
from neon_checkpoints.resources import CHECKPOINTS, GROUP, VERSION
from neon_checkpoints.schedule_observe import parse_time, protected_in
from neon_checkpoints.schedule_settings import ScheduleSettings

_ERROR_DELAY = 5.0


def has_expiry(spec: Mapping[str, Any], **_: Any) -> bool:
    return bool(spec.get("ttl") or spec.get("expiresAt"))


async def expire_once(
    objects: CustomObjects, settings: ScheduleSettings, body: kopf.Body, logger: Any, now: dt.datetime
) -> float | None:
    """One look; the seconds to sleep before the next, or None when there is nothing more to do."""
    meta = body.metadata
    namespace, name = meta.namespace or "", meta.name or ""
    created = parse_time(meta.creation_timestamp) or now
    deleting = bool(meta.get("deletionTimestamp"))

    def plan(held: bool) -> NeverExpires | WaitUntil | DeleteNow | HeldByRestore:
        return plan_expiry(body.spec, created_at=created, now=now, deleting=deleting, held_by_restore=held)

    action = plan(False)
    if isinstance(action, DeleteNow):
        action = plan(name in await protected_in(objects, namespace))
    match action:
        case NeverExpires():
            return None
        case WaitUntil(moment=moment):
            return max(0.1, min((moment - now).total_seconds(), settings.resync))
        case HeldByRestore(expired_at=expired_at):
            logger.info(
                "expired at %s but a restore in progress uses it; keeping it for now", rfc3339(expired_at)
            )
            return settings.resync
        case DeleteNow(expired_at=expired_at):
            kopf.event(
                body, type="Normal", reason="Expired", message=f"expired at {rfc3339(expired_at)}: deleting"
            )
            await objects.delete(CHECKPOINTS, namespace, name)
            logger.info("deleted: expired at %s", rfc3339(expired_at))
            return None
    raise AssertionError(action)


@kopf.daemon(GROUP, VERSION, CHECKPOINTS, when=has_expiry, cancellation_timeout=5.0)
async def expire_checkpoint(
    body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, stopped: kopf.DaemonStopped, **_: Any
) -> None:
    while not stopped:
        try:
            delay = await expire_once(
                memo["custom_objects"], memo["schedule_settings"], body, logger, dt.datetime.now(dt.UTC)
            )
        except KubeCallFailed as exc:
            logger.warning("expiry check failed, retrying: %s", exc)
            delay = _ERROR_DELAY
        if delay is None:
            return
        await stopped.wait(delay)
