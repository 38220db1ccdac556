"""Checkpoint expiry decisions and `(old)` branch selection (pure), plus the handlers' settings."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from neon_api.models import Branch
from neon_checkpoints.expiry import (
    DeleteNow,
    ExpiryAction,
    HeldByRestore,
    NeverExpires,
    WaitUntil,
    plan_expiry,
)
from neon_checkpoints.old_branches import select_old_branches
from neon_checkpoints.schedule_settings import ScheduleSettings
from neon_checkpoints.settings import SettingsError

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


def branch(
    bid: str,
    name: str,
    created: float,
    *,
    default: bool = False,
    restored_as: str | None = None,
    parent: str | None = None,
    protected: bool = False,
) -> Branch:
    return Branch(
        id=bid,
        project_id="p",
        name=name,
        parent_id=parent,
        default=default,
        protected=protected,
        current_state="ready",
        created_at=at(created),
        restored_as=restored_as,
    )


# Three finalized restores of `production`: br-0 -> br-1 -> br-2 -> br-3 (current).
HISTORY = [
    branch("br-0", "production (old)", 0),
    branch("br-1", "production (old 2)", 10, restored_as="br-0"),
    branch("br-2", "production (old 3)", 20, restored_as="br-1"),
    branch("br-3", "production", 30, default=True, restored_as="br-2"),
]


@pytest.mark.parametrize(
    ("situation", "branches", "keep", "expected"),
    [
        ("keep none", HISTORY, 0, ["br-2", "br-1", "br-0"]),
        ("keep the newest one", HISTORY, 1, ["br-1", "br-0"]),
        ("keep more than exist", HISTORY, 5, []),
        (
            "renamed old branch found through restored_as",
            [branch("br-0", "before-restore", 0), branch("br-1", "production", 10, restored_as="br-0")],
            0,
            ["br-0"],
        ),
        (
            "ordinary, default and protected branches are never picked",
            [
                branch("br-a", "dev", 0),
                branch("br-b", "main (old)", 1, protected=True),
                branch("br-c", "production", 2, default=True),
            ],
            0,
            [],
        ),
        (
            "a branch with children is skipped (Neon refuses to delete it)",
            [*HISTORY, branch("br-x", "feature", 40, parent="br-0")],
            0,
            ["br-2", "br-1"],
        ),
    ],
)
def test_select_old_branches(situation: str, branches: list[Branch], keep: int, expected: list[str]) -> None:
    assert [b.id for b in select_old_branches(branches, keep)] == expected, situation


def test_settings_defaults_and_values() -> None:
    assert ScheduleSettings.from_env({}) == ScheduleSettings(resync=30.0, keep_old_branches=None)
    assert ScheduleSettings.from_env(
        {"NEON_CHECKPOINTS_SCHEDULE_RESYNC": "1.5", "NEON_CHECKPOINTS_KEEP_OLD_BRANCHES": "2"}
    ) == ScheduleSettings(resync=1.5, keep_old_branches=2)


def test_settings_report_every_problem_at_once() -> None:
    with pytest.raises(SettingsError) as caught:
        ScheduleSettings.from_env(
            {"NEON_CHECKPOINTS_SCHEDULE_RESYNC": "soon", "NEON_CHECKPOINTS_KEEP_OLD_BRANCHES": "-1"}
        )
    assert len(caught.value.problems) == 2
