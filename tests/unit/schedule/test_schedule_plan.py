"""CheckpointSchedule planning (pure): the spec, the due run, names, the Checkpoint manifest, retention."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from neon_checkpoints.checkpoint.holds import held_checkpoints
from neon_checkpoints.names import SCHEDULE_UID_LABEL
from neon_checkpoints.schedule.cron import Every, parse_cron
from neon_checkpoints.schedule.plan import (
    OwnedCheckpoint,
    RunPlan,
    ScheduleRef,
    checkpoint_manifest,
    checkpoint_name,
    last_run_of,
    plan_run,
    select_for_cap,
    select_for_deletion,
)
from neon_checkpoints.schedule.spec import InvalidSchedule, Retention, ScheduleSpec

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def spec(**fields: Any) -> dict[str, Any]:
    return {"checkpointTemplate": {"spec": {"projectId": "p-1"}}, **fields}


# -- spec ------------------------------------------------------------------------------------------------


def test_spec_from_dict_reads_everything() -> None:
    parsed = ScheduleSpec.from_dict(
        {
            "every": "1h30m",
            "suspend": True,
            "retention": {"keepLast": 3, "maxAge": "7d"},
            "checkpointTemplate": {
                "spec": {"projectId": "p-1", "branch": "production", "deletionPolicy": "Retain", "x": 1}
            },
        }
    )
    assert parsed.trigger == Every(dt.timedelta(minutes=90))
    assert parsed.suspend is True
    assert parsed.retention == Retention(3, dt.timedelta(days=7))
    # Only Checkpoint spec fields are copied.
    assert parsed.template == {"projectId": "p-1", "branch": "production", "deletionPolicy": "Retain"}


@pytest.mark.parametrize(
    ("situation", "fields", "message"),
    [
        ("neither schedule nor every", {}, "exactly one of spec.schedule and spec.every"),
        ("both", {"schedule": "* * * * *", "every": "5m"}, "exactly one"),
        ("bad cron", {"schedule": "61 * * * *"}, "spec.schedule: '61 * * * *': the minute field"),
        ("bad duration", {"every": "5 minutes"}, "spec.every"),
        ("zero keepLast", {"every": "5m", "retention": {"keepLast": 0}}, "spec.retention.keepLast"),
        ("bad maxAge", {"every": "5m", "retention": {"maxAge": "a week"}}, "spec.retention.maxAge"),
    ],
)
def test_invalid_specs_name_the_field(situation: str, fields: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidSchedule, match=re.escape(message)):
        ScheduleSpec.from_dict(spec(**fields))


def test_template_needs_a_project() -> None:
    with pytest.raises(InvalidSchedule, match="projectId"):
        ScheduleSpec.from_dict({"every": "5m", "checkpointTemplate": {"spec": {}}})


# -- which run is due ------------------------------------------------------------------------------------

EVERY_10S = Every(dt.timedelta(seconds=10))


@pytest.mark.parametrize(
    ("situation", "last_run", "suspended_through", "suspend", "now", "expected"),
    [
        ("nothing due before the first tick", None, None, False, at(5), RunPlan(None, at(10))),
        ("first tick due", None, None, False, at(10), RunPlan(at(10), at(20))),
        ("first tick, noticed late", None, None, False, at(13), RunPlan(at(10), at(20))),
        ("run already made", at(10), None, False, at(15), RunPlan(None, at(20))),
        ("next tick due", at(10), None, False, at(21), RunPlan(at(20), at(30))),
        (
            "downtime: one catch-up for the latest missed tick, not a burst",
            at(10),
            None,
            False,
            at(95),
            RunPlan(at(90), at(100), skipped_runs=True),
        ),
        ("suspended: nothing, no next run", at(10), None, True, at(95), RunPlan(None, None)),
        (
            "resumed: ticks during the suspension are not made up",
            at(10),
            at(92),
            False,
            at(95),
            RunPlan(None, at(100)),
        ),
        ("resumed: the next tick runs", at(10), at(92), False, at(101), RunPlan(at(100), at(110))),
    ],
)
def test_plan_run_every(
    situation: str,
    last_run: dt.datetime | None,
    suspended_through: dt.datetime | None,
    suspend: bool,
    now: dt.datetime,
    expected: RunPlan,
) -> None:
    plan = plan_run(
        EVERY_10S,
        created_at=T0,
        last_run=last_run,
        suspended_through=suspended_through,
        suspend=suspend,
        now=now,
    )
    assert plan == expected, situation


@pytest.mark.parametrize(
    ("situation", "created", "last_run", "now", "expected"),
    [
        (
            "a cron time before the schedule existed is not a run",
            at(7 * 60 + 30),
            None,
            at(9 * 60),
            RunPlan(None, at(10 * 60)),
        ),
        (
            "first cron time after creation",
            at(7 * 60 + 30),
            None,
            at(10 * 60 + 1),
            RunPlan(at(600), at(1200)),
        ),
        (
            "a day of downtime: one catch-up",
            T0,
            at(600),
            at(86400 + 700),
            RunPlan(at(86400 + 600), at(86400 + 1200), skipped_runs=True),
        ),
        ("one missed tick is a catch-up without skips", T0, at(600), at(1250), RunPlan(at(1200), at(1800))),
    ],
)
def test_plan_run_cron(
    situation: str, created: dt.datetime, last_run: dt.datetime | None, now: dt.datetime, expected: RunPlan
) -> None:
    plan = plan_run(
        parse_cron("*/10 * * * *"),
        created_at=created,
        last_run=last_run,
        suspended_through=None,
        suspend=False,
        now=now,
    )
    assert plan == expected, situation


def test_replanning_after_a_crash_names_the_same_checkpoint() -> None:
    """The run's identity is its scheduled time, so planning twice (before and after a crash, seconds apart)
    yields the same Checkpoint name."""
    kwargs: dict[str, Any] = {"created_at": T0, "last_run": None, "suspended_through": None, "suspend": False}
    first = plan_run(EVERY_10S, now=at(10.2), **kwargs)
    again = plan_run(EVERY_10S, now=at(14.9), **kwargs)
    assert first.due == again.due == at(10)
    assert checkpoint_name("nightly", first.due) == checkpoint_name("nightly", again.due)


# -- names and the manifest ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("situation", "schedule", "expected"),
    [
        ("short name", "nightly", "nightly-20260101000010"),
        ("exactly fits", "a" * 48, "a" * 48 + "-20260101000010"),
    ],
)
def test_checkpoint_name(situation: str, schedule: str, expected: str) -> None:
    assert checkpoint_name(schedule, at(10)) == expected, situation


def test_long_schedule_names_are_cut_and_hashed_apart() -> None:
    one = checkpoint_name("x" * 80 + "-one", at(10))
    two = checkpoint_name("x" * 80 + "-two", at(10))
    assert len(one) <= 63 and len(two) <= 63
    assert one != two
    assert one.endswith("-20260101000010")
    # A cut at a dash must not leave "--" or a trailing dash in the prefix.
    dashed = checkpoint_name("a" * 38 + "-" + "b" * 40, at(10))
    assert DNS_LABEL.match(dashed) and "--" not in dashed


def test_manifest_is_owned_labelled_and_copies_the_template() -> None:
    ref = ScheduleRef(name="nightly", namespace="apps", uid="1234-uid")
    template = {"projectId": "p-1", "source": {"commit": "abc"}}
    manifest = checkpoint_manifest(ref, template, at(10))
    meta = manifest["metadata"]
    assert manifest["kind"] == "Checkpoint"
    assert meta["name"] == "nightly-20260101000010"
    assert meta["namespace"] == "apps"
    assert meta["labels"][SCHEDULE_UID_LABEL] == "1234-uid"
    assert meta["annotations"]["neoncheckpoints.dev/scheduled-time"] == "2026-01-01T00:00:10Z"
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "neoncheckpoints.dev/v1alpha1",
            "kind": "CheckpointSchedule",
            "name": "nightly",
            "uid": "1234-uid",
            "controller": True,
        }
    ]
    assert manifest["spec"] == template


# -- retention -------------------------------------------------------------------------------------------


def ckpt(minute: int, phase: str | None = "Ready", deleting: bool = False) -> OwnedCheckpoint:
    return OwnedCheckpoint(f"c{minute:02d}", at(minute * 60), phase, deleting)


NOW = at(60 * 60)


@pytest.mark.parametrize(
    ("situation", "checkpoints", "retention", "protected", "expected"),
    [
        ("no retention keeps everything", [ckpt(1), ckpt(2)], Retention(), set(), ()),
        ("within keepLast", [ckpt(1), ckpt(2)], Retention(keep_last=2), set(), ()),
        (
            "beyond keepLast, oldest first",
            [ckpt(3), ckpt(1), ckpt(4), ckpt(2)],
            Retention(keep_last=2),
            set(),
            ("c01", "c02"),
        ),
        (
            "older than maxAge",
            [ckpt(1), ckpt(30), ckpt(50)],
            Retention(max_age=dt.timedelta(minutes=20)),
            set(),
            ("c01", "c30"),
        ),
        (
            "either rule deletes",
            [ckpt(1), ckpt(50), ckpt(55), ckpt(58)],
            Retention(keep_last=3, max_age=dt.timedelta(minutes=20)),
            set(),
            ("c01",),
        ),
        (
            "a restore in progress protects its checkpoint",
            [ckpt(1), ckpt(2), ckpt(3)],
            Retention(keep_last=1),
            {"c01"},
            ("c02",),
        ),
        (
            "in-flight checkpoints are neither counted nor deleted",
            [ckpt(1), ckpt(2), ckpt(3, "Creating"), ckpt(4, None)],
            Retention(keep_last=2),
            set(),
            (),
        ),
        (
            "a failed run is removed once a newer one is ready",
            [ckpt(1), ckpt(2, "Failed"), ckpt(3), ckpt(4, "Failed")],
            Retention(keep_last=5),
            set(),
            ("c02",),
        ),
        (
            "already deleting is not deleted again",
            [ckpt(1, deleting=True), ckpt(2), ckpt(3)],
            Retention(keep_last=1),
            set(),
            ("c02",),
        ),
    ],
)
def test_select_for_deletion(
    situation: str,
    checkpoints: list[OwnedCheckpoint],
    retention: Retention,
    protected: set[str],
    expected: tuple[str, ...],
) -> None:
    chosen = select_for_deletion(checkpoints, retention, now=NOW, protected=frozenset(protected))
    assert chosen == expected, situation


def restore(checkpoint: str, phase: str | None) -> dict[str, Any]:
    status = {"phase": phase} if phase else {}
    return {"spec": {"checkpointRef": {"name": checkpoint}}, "status": status}


@pytest.mark.parametrize(
    ("situation", "restores", "expected"),
    [
        ("not started yet", [restore("a", None)], {"a"}),
        ("queued, pending, restoring", [restore("a", "Queued"), restore("b", "Restoring")], {"a", "b"}),
        ("finished either way", [restore("a", "Succeeded"), restore("b", "Failed")], set()),
    ],
)
def test_held_checkpoints(situation: str, restores: list[dict[str, Any]], expected: set[str]) -> None:
    assert held_checkpoints(restores) == expected, situation


def test_last_run_prefers_observed_checkpoints_and_falls_back_to_status() -> None:
    assert last_run_of([ckpt(1), ckpt(3)], recorded=at(60)) == at(180)
    assert last_run_of([], recorded=at(60)) == at(60)
    assert last_run_of([], recorded=None) is None


def hourly(hour: int, minute: int = 0) -> OwnedCheckpoint:
    """A Ready checkpoint at `hour`:`minute` on day 1, or later days for hours past 23."""
    return OwnedCheckpoint(
        f"h{hour:03d}m{minute:02d}", T0 + dt.timedelta(hours=hour, minutes=minute), "Ready"
    )


def test_tiers_keep_the_newest_of_each_recent_hour_and_day_plus_the_newest_few() -> None:
    # Four a hour for 50 hours (days 1-3 of January).
    checkpoints = [hourly(h, m) for h in range(50) for m in (0, 15, 30, 45)]
    retention = Retention(keep_last=3, keep_hourly=4, keep_daily=3)
    doomed = set(select_for_deletion(checkpoints, retention, now=T0 + dt.timedelta(days=3)))
    kept = {c.name for c in checkpoints} - doomed
    assert kept == {
        "h049m45", "h049m30", "h049m15",  # keepLast 3
        "h048m45", "h047m45", "h046m45",  # keepHourly 4 (with h049m45)
        "h023m45",  # keepDaily 3: the newest of Jan 3 (h049m45), Jan 2 (h047m45), Jan 1
    }  # fmt: skip


def test_without_any_tier_count_nothing_is_deleted_for_its_count() -> None:
    checkpoints = [hourly(h) for h in range(30)]
    assert select_for_deletion(checkpoints, Retention(), now=T0) == ()


@pytest.mark.parametrize(
    ("situation", "held", "protected", "expected"),
    [
        ("room left", 3, set(), ()),
        ("at the cap: room for the run", 5, set(), ("c01",)),
        ("over the cap (others' snapshots too): oldest first", 7, set(), ("c01", "c02", "c03")),
        ("a restore's checkpoint is skipped", 6, {"c01"}, ("c02", "c03")),
        ("never the newest Ready one", 20, set(), ("c01", "c02", "c03")),
    ],
)
def test_select_for_cap(situation: str, held: int, protected: set[str], expected: tuple[str, ...]) -> None:
    checkpoints = [ckpt(1), ckpt(2), ckpt(3), ckpt(4), ckpt(5, "Creating"), ckpt(6, deleting=True)]
    doomed = select_for_cap(checkpoints, max_snapshots=5, held=held, room=1, protected=frozenset(protected))
    assert doomed == expected


def test_tier_counts_are_bounded_and_named() -> None:
    with pytest.raises(InvalidSchedule, match=r"spec\.retention\.keepHourly"):
        ScheduleSpec.from_dict(spec(every="1h", retention={"keepHourly": 0}))
    parsed = ScheduleSpec.from_dict(
        spec(every="1h", retention={"keepDaily": 7, "maxSnapshotsPerProject": 100})
    )
    assert parsed.retention == Retention(keep_daily=7, max_snapshots=100)
