"""kstatus' Reconciling/Stalled pair (pure): exactly one is true while not done, both false when done, and a
"late" Stalled (Interrupted, OperationOverdue) stays until the run is done."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from neon_checkpoints.core.conditions import Progress, mark_stalled, set_progress, true_since
from neon_checkpoints.core.verdicts import Verdict, is_stalled

T0 = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(seconds=30)


def pair(conditions: list[dict[str, Any]]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c.get("reason", "")) for c in conditions}


@pytest.mark.parametrize(
    ("progress", "expected"),
    [
        (Progress.RECONCILING, {"Reconciling": ("True", "R"), "Stalled": ("False", "Progressing")}),
        (Progress.STALLED, {"Reconciling": ("False", "Idle"), "Stalled": ("True", "R")}),
        (Progress.DONE, {"Reconciling": ("False", "Idle"), "Stalled": ("False", "Idle")}),
    ],
    ids=["reconciling", "stalled", "done"],
)
def test_one_abnormal_condition_at_most(progress: Progress, expected: dict[str, tuple[str, str]]) -> None:
    conditions = set_progress(
        [{"type": "Ready", "status": "False"}],
        progress,
        reason="R",
        message="m",
        observed_generation=3,
        now=T0,
    )
    assert {k: v for k, v in pair(conditions).items() if k != "Ready"} == expected
    assert all(c.get("observedGeneration") == 3 for c in conditions if c["type"] != "Ready")


def test_reconciling_keeps_its_transition_time_across_steps() -> None:
    first = set_progress([], Progress.RECONCILING, reason="a", message="", observed_generation=1, now=T0)
    later = set_progress(first, Progress.RECONCILING, reason="b", message="", observed_generation=1, now=T1)
    assert true_since(later, "Reconciling") == T0


@pytest.mark.parametrize("late", ["Interrupted", "OperationOverdue"])
def test_a_late_stall_stays_until_done(late: str) -> None:
    reconciling = set_progress(
        [], Progress.RECONCILING, reason="a", message="", observed_generation=1, now=T0
    )
    stalled = mark_stalled(reconciling, reason=late, message="late", observed_generation=1, now=T1)
    assert pair(stalled)["Reconciling"] == ("True", "a")
    resumed = set_progress(
        stalled, Progress.RECONCILING, reason="b", message="", observed_generation=1, now=T1
    )
    assert pair(resumed)["Stalled"] == ("True", late)
    done = set_progress(resumed, Progress.DONE, reason="c", message="", observed_generation=1, now=T1)
    assert pair(done)["Stalled"] == ("False", "Idle")


def test_a_blocked_stall_clears_once_work_goes_on() -> None:
    blocked = set_progress(
        [], Progress.STALLED, reason="SecretNotFound", message="", observed_generation=1, now=T0
    )
    going = set_progress(blocked, Progress.RECONCILING, reason="b", message="", observed_generation=1, now=T1)
    assert pair(going) == {"Reconciling": ("True", "b"), "Stalled": ("False", "Progressing")}


@pytest.mark.parametrize(
    ("verdict", "stalled"),
    [
        (Verdict(False, "NeonRejected", "no"), True),
        (Verdict(True, "SecretNotFound", "missing", 5.0), True),
        (Verdict(True, "OperationTimeout", "slow", 10.0), True),
        (Verdict(True, "NeonRateLimited", "429", 1.0), False),
        (Verdict(True, "Queued", "busy", 1.0), False),
    ],
    ids=["refusal", "missing-secret", "timeout", "rate-limited", "queued"],
)
def test_which_verdicts_stall(verdict: Verdict, stalled: bool) -> None:
    assert is_stalled(verdict) is stalled
