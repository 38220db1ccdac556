"""When a Checkpoint with `ttl` / `expiresAt` goes away (pure, no I/O).

The snapshot's own `expires_at` is set at creation by the Checkpoint flow (the same `CheckpointSpec.expiry`
computes both), so Neon drops the snapshot itself; this decides when the Checkpoint resource follows. Its
deletion runs the Checkpoint finalizer, which deletes (or keeps) the snapshot by `deletionPolicy` and marks
the meta row deleted, so nothing is left pointing at a snapshot Neon already removed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from neon_checkpoints.checkpoint.spec import CheckpointSpec
from neon_checkpoints.core.errors import InvalidSpec


@dataclass(frozen=True)
class NeverExpires:
    pass


@dataclass(frozen=True)
class WaitUntil:
    moment: dt.datetime


@dataclass(frozen=True)
class DeleteNow:
    expired_at: dt.datetime


@dataclass(frozen=True)
class HeldByRestore:
    """Expired, but a CheckpointRestore in progress still needs it: look again later."""

    expired_at: dt.datetime


ExpiryAction = NeverExpires | WaitUntil | DeleteNow | HeldByRestore


def expires_at(spec: Mapping[str, Any], created_at: dt.datetime) -> dt.datetime | None:
    """The Checkpoint's expiry, exactly as the snapshot got it (None: no expiry, or an unusable spec that the
    Checkpoint flow reports itself)."""
    try:
        return CheckpointSpec.from_dict(spec).expiry(created_at)
    except InvalidSpec:
        return None


def plan_expiry(
    spec: Mapping[str, Any],
    *,
    created_at: dt.datetime,
    now: dt.datetime,
    deleting: bool,
    held_by_restore: bool,
) -> ExpiryAction:
    moment = expires_at(spec, created_at)
    if moment is None or deleting:
        return NeverExpires()
    if now < moment:
        return WaitUntil(moment)
    if held_by_restore:
        return HeldByRestore(moment)
    return DeleteNow(moment)
