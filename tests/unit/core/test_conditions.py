"""Conditions keep their transition time unless their status changes (pure)."""

from __future__ import annotations

import datetime as dt

from neon_checkpoints.core.conditions import set_condition

T0 = dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(minutes=5)


def test_new_condition() -> None:
    [cond] = set_condition(
        [], type="Ready", status="False", reason="Received", message="m", observed_generation=1, now=T0
    )
    assert cond == {
        "type": "Ready",
        "status": "False",
        "reason": "Received",
        "message": "m",
        "lastTransitionTime": "2026-11-28T10:00:00Z",
        "observedGeneration": 1,
    }


def test_same_status_keeps_the_transition_time_but_updates_the_rest() -> None:
    first = set_condition(
        [], type="Ready", status="False", reason="Received", message="a", observed_generation=1, now=T0
    )
    [cond] = set_condition(
        first,
        type="Ready",
        status="False",
        reason="SnapshotAccepted",
        message="b",
        observed_generation=2,
        now=T1,
    )
    assert cond["lastTransitionTime"] == "2026-11-28T10:00:00Z"
    assert (cond["reason"], cond["message"], cond["observedGeneration"]) == ("SnapshotAccepted", "b", 2)


def test_status_change_moves_the_transition_time_and_keeps_other_types() -> None:
    other = {"type": "Synced", "status": "True", "lastTransitionTime": "x"}
    first = set_condition(
        [other], type="Ready", status="False", reason="r", message="m", observed_generation=1, now=T0
    )
    conditions = set_condition(
        first,
        type="Ready",
        status="True",
        reason="SnapshotReady",
        message="ok",
        observed_generation=1,
        now=T1,
    )
    assert conditions[0] == other
    assert conditions[1]["lastTransitionTime"] == "2026-11-28T10:05:00Z"
