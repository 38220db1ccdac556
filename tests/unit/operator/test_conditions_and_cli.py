"""Conditions keep their transition time unless their status changes; the CLI answers --help everywhere."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest

from neon_checkpoints.cli import build_parser
from neon_checkpoints.conditions import set_condition

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


@pytest.mark.parametrize("argv", [["--help"], ["operator", "--help"]])
def test_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(argv)
    assert exit_.value.code == 0
    assert "usage: neon-checkpoints" in capsys.readouterr().out


def test_operator_refuses_to_start_without_settings_and_says_why() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "neon_checkpoints.cli", "operator"],
        env={
            "PATH": "/usr/bin:/bin",
            "NEON_API_KEY": "napi_topsecret",
            "META_DATABASE_URL": "nope",
            "NEON_CHECKPOINTS_KEEP_OLD_BRANCHES": "some",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "META_DATABASE_URL must be a postgresql:// URL" in result.stderr
    # The schedule handlers' settings are checked in the same breath, not after kopf started.
    assert "NEON_CHECKPOINTS_KEEP_OLD_BRANCHES must be a whole number" in result.stderr
    assert "napi_topsecret" not in result.stderr + result.stdout
