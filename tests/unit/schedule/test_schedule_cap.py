"""A schedule bounded by maxSnapshotsPerProject makes room before a run: it counts the project's manual
snapshots in Neon and deletes its oldest expendable Checkpoints (never one a restore needs)."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from neon_checkpoints.names import (
    CHECKPOINT_RESTORES,
    CHECKPOINT_SCHEDULES,
    CHECKPOINTS,
    SCHEDULE_UID_LABEL,
    SCHEDULED_TIME_ANNOTATION,
)
from neon_checkpoints.schedule.runner import ScheduleRunner
from tests.unit.flowkit import World
from tests.unit.flowkit.kube import raw_object

pytestmark = pytest.mark.postgres

LOGGER = logging.getLogger("tests.schedule.cap")
CREATED = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)


def owned(world: World, minute: int) -> str:
    name = f"s1-{minute:02d}"
    obj = raw_object(CHECKPOINTS, name, {"projectId": "p-1"}, uid=f"u-{minute}", status={"phase": "Ready"})
    obj["metadata"]["labels"] = {SCHEDULE_UID_LABEL: "sched-uid"}
    obj["metadata"]["annotations"] = {
        SCHEDULED_TIME_ANNOTATION: (CREATED + dt.timedelta(minutes=minute)).isoformat()
    }
    world.kube.put(CHECKPOINTS, obj)
    return name


async def test_a_run_at_the_cap_first_deletes_the_oldest_expendable_checkpoint(world: World) -> None:
    project = world.neon.project()
    branch_id = project.branch_named("production")["id"]  # type: ignore[index]
    names = [owned(world, minute) for minute in (1, 2, 3)]
    for name in [*names, "someone-elses"]:
        project.add_snapshot(name, branch_id)
    # A restore in progress needs the oldest.
    world.kube.put(
        CHECKPOINT_RESTORES,
        raw_object("CheckpointRestore", "r1", {"checkpointRef": {"name": names[0]}}, uid="r-uid"),
    )
    schedule = {
        "every": "1m",
        "checkpointTemplate": {"spec": {"projectId": "p-1", "branch": "production"}},
        "retention": {"maxSnapshotsPerProject": 4},
    }
    world.kube.apply(
        CHECKPOINT_SCHEDULES,
        "CheckpointSchedule",
        "s1",
        schedule,
        uid="sched-uid",
        created=CREATED.isoformat(),
    )
    runner = ScheduleRunner(world.runtime, world.kube.body_of(CHECKPOINT_SCHEDULES, "s1"), LOGGER)

    await runner.tick(CREATED + dt.timedelta(minutes=4, seconds=1))

    left = {name for (plural, _, name) in world.kube.objects if plural == CHECKPOINTS}
    # 4 held + the run's = 5 > 4: one goes, the oldest not held by the restore; the run's is created.
    assert names[1] not in left and {names[0], names[2]} <= left
    assert any(name.startswith("s1-2026") for name in left), left
    assert world.calls.to("GET", "/projects/p-1/snapshots"), "the count came from Neon"


async def test_the_cap_listing_fills_in_sizes_neon_has_computed_since_ready(world: World) -> None:
    """The listing made to count the project's snapshots also gives the schedule's Ready Checkpoints
    `status.size` (no request of its own), once, and leaves those Neon has not measured without one."""
    project = world.neon.project()
    branch_id = project.branch_named("production")["id"]  # type: ignore[index]
    measured, unmeasured = owned(world, 1), owned(world, 2)
    for name, sizes in ((measured, {"full_size": 2_000_000, "diff_size": 0}), (unmeasured, {})):
        snapshot = project.add_snapshot(name, branch_id, **sizes)
        world.kube.objects[(CHECKPOINTS, "apps", name)]["status"]["snapshotId"] = snapshot["id"]
    world.kube.apply(
        CHECKPOINT_SCHEDULES,
        "CheckpointSchedule",
        "s1",
        {
            "every": "1m",
            "checkpointTemplate": {"spec": {"projectId": "p-1", "branch": "production"}},
            "retention": {"maxSnapshotsPerProject": 10},
        },
        uid="sched-uid",
        created=CREATED.isoformat(),
    )
    runner = ScheduleRunner(world.runtime, world.kube.body_of(CHECKPOINT_SCHEDULES, "s1"), LOGGER)

    await runner.tick(CREATED + dt.timedelta(minutes=4, seconds=1))

    assert world.kube.status_of(CHECKPOINTS, measured)["size"] == {
        "full": 2_000_000,
        "diff": 0,
        "display": "2.0 MB (+0 B), $0.0002/month",
    }
    assert "size" not in world.kube.status_of(CHECKPOINTS, unmeasured)
    assert len(world.calls.to("GET", "/projects/p-1/snapshots")) == 1

    await runner.tick(CREATED + dt.timedelta(minutes=5, seconds=1))  # the next run lists again
    size_patches = [f for plural, _, f in world.kube.patches if plural == CHECKPOINTS and "size" in f]
    assert len(size_patches) == 1, "a size already in status is not written again"
