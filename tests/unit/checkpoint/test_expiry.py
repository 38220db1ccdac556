"""When an expiring Checkpoint goes away (pure)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from neon_checkpoints.checkpoint.expiry import (
    DeleteNow,
    ExpiryAction,
    HeldByRestore,
    NeverExpires,
    WaitUntil,
    plan_expiry,
)

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("situation", "spec", "now", "deleting", "held", "expected"),
    [
        ("no expiry", {"projectId": "p"}, at(10**6), False, False, NeverExpires()),
        ("ttl not reached", {"projectId": "p", "ttl": "1h"}, at(60), False, False, WaitUntil(at(3600))),
        ("ttl reached", {"projectId": "p", "ttl": "1h"}, at(3600), False, False, DeleteNow(at(3600))),
        (
            "expiresAt passed",
            {"projectId": "p", "expiresAt": "2026-01-01T00:00:30Z"},
            at(31),
            False,
            False,
            DeleteNow(at(30)),
        ),
        ("held by a restore", {"projectId": "p", "ttl": "10s"}, at(11), False, True, HeldByRestore(at(10))),
        ("already being deleted", {"projectId": "p", "ttl": "10s"}, at(11), True, False, NeverExpires()),
        (
            "unusable spec is left to the Checkpoint flow",
            {"ttl": "10s"},
            at(11),
            False,
            False,
            NeverExpires(),
        ),
    ],
)
def test_plan_expiry(
    situation: str, spec: dict[str, Any], now: dt.datetime, deleting: bool, held: bool, expected: ExpiryAction
) -> None:
    action = plan_expiry(spec, created_at=T0, now=now, deleting=deleting, held_by_restore=held)
    assert action == expected, situation
