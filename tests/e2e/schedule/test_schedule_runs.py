"""CheckpointSchedule end to end (issue 8 items 2, 3, 5): the real apiserver, the emulator, a real meta DB
and the operator run by kopf, with intervals of seconds."""

from __future__ import annotations

import datetime as dt
import re
import time
from typing import Any

import pytest

from tests.e2e.checkpoint.conftest import Harness, eventually
from tests.e2e.schedule.conftest import Schedules

pytestmark = [pytest.mark.kube, pytest.mark.emulator, pytest.mark.postgres]

FAST = {"NEON_CHECKPOINTS_SCHEDULE_RESYNC": "1"}


def scheduled_time(checkpoint: dict[str, object]) -> dt.datetime:
    meta = checkpoint["metadata"]
    assert isinstance(meta, dict)
    stamp = meta["annotations"]["neoncheckpoints.dev/scheduled-time"]
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def test_runs_happen_and_retention_holds_the_count(harness: Harness, schedules: Schedules) -> None:
    project = harness.create_project()
    harness.start_operator(**FAST)
    schedule = schedules.create("every3", project, "every: 3s", "  retention: {keepLast: 2}")
    uid = schedule["metadata"]["uid"]

    created = dt.datetime.fromisoformat(schedule["metadata"]["creationTimestamp"].replace("Z", "+00:00"))

    runs: set[str] = set()

    def five_runs() -> bool:
        runs.add(schedules.status("every3").get("lastCheckpointName") or "")
        return len(runs - {""}) >= 5

    eventually(five_runs, timeout=60, what="five runs", h=harness)
    # Suspending stops new runs but not retention: the schedule settles at its two newest Ready runs.
    schedules.patch("every3", '{"spec":{"suspend":true}}')

    def settled() -> list[dict[str, object]] | None:
        owned = schedules.owned(schedule)
        ready = schedules.ready(schedule)
        return ready if len(owned) == len(ready) == 2 else None

    ready = eventually(settled, timeout=60, what="exactly two Ready checkpoints left", h=harness)
    for checkpoint in ready:
        meta = checkpoint["metadata"]
        assert re.fullmatch(r"every3-\d{14}", meta["name"])
        assert meta["ownerReferences"][0]["uid"] == uid
        assert meta["ownerReferences"][0]["kind"] == "CheckpointSchedule"
        assert checkpoint["spec"]["projectId"] == project
        # Runs sit on the schedule's grid: creation + k * 3 s.
        offset = (scheduled_time(checkpoint) - created).total_seconds()
        assert offset > 0 and offset % 3 == 0

    # Retention deleted the older Checkpoints, and with them (deletionPolicy Delete) their snapshots. A
    # deletion marks the meta row after the snapshot is gone and before the finalizer goes: wait for the
    # resources themselves to be gone, not only for their snapshots.
    def deletions_done() -> bool:
        everything = schedules.owned(schedule, deleting=True)
        live = {f"ckpt-{c['metadata']['uid']}" for c in everything}
        return len(everything) == 2 and set(harness.snapshot_names(project)) == live

    eventually(deletions_done, timeout=30, what="deleted checkpoints and their snapshots gone", h=harness)
    rows = harness.meta_rows("SELECT name, deleted_at FROM checkpoints ORDER BY name")
    assert {r["name"] for r in rows} >= runs - {""}
    assert sorted(r["name"] for r in rows if r["deleted_at"] is None) == sorted(
        c["metadata"]["name"] for c in ready
    )
    reasons = {e["reason"] for e in harness.events("every3")}
    assert {"RunCreated", "RetentionDeleted"} <= reasons

    status = schedules.status("every3")
    assert status["schedule"] == "every 3s"
    assert status["lastRunTime"] == f"{max(scheduled_time(c) for c in ready):%Y-%m-%dT%H:%M:%SZ}"
    assert "nextRunTime" not in status  # suspended
    [condition] = [c for c in status["conditions"] if c["type"] == "Ready"]
    assert (condition["status"], condition["reason"]) == ("True", "Suspended")
    printed = harness.kubectl("get", "ckptsched", "every3").stdout.splitlines()[1].split()
    assert printed[:4] == ["every3", "every", "3s", "true"]


def test_suspend_stops_runs_and_resuming_makes_none_up(harness: Harness, schedules: Schedules) -> None:
    project = harness.create_project()
    harness.start_operator(**FAST)
    schedule = schedules.create("paused", project, "every: 2s", "  suspend: true")

    eventually(
        lambda: any(
            (c["type"], c["reason"]) == ("Ready", "Suspended")
            for c in schedules.status("paused").get("conditions") or []
        ),
        timeout=30,
        what="condition Suspended",
        h=harness,
    )
    time.sleep(5)
    assert schedules.owned(schedule) == []
    assert "nextRunTime" not in schedules.status("paused")

    resumed = dt.datetime.now(dt.UTC)
    schedules.patch("paused", '{"spec":{"suspend":false}}')
    eventually(lambda: schedules.owned(schedule), timeout=30, what="a run after resuming", h=harness)
    time.sleep(3)
    made = [scheduled_time(c) for c in schedules.owned(schedule)]
    # No burst for the ~3 ticks missed while suspended: only runs from (about) the resume on, one per 2 s.
    assert all(t >= resumed - dt.timedelta(seconds=2) for t in made), made
    assert len(made) <= 4, made

    schedules.patch("paused", '{"spec":{"suspend":true}}')
    time.sleep(2)
    count = len(schedules.owned(schedule))
    time.sleep(5)
    assert len(schedules.owned(schedule)) == count


def test_restart_in_the_middle_of_a_run_creates_no_duplicate(harness: Harness, schedules: Schedules) -> None:
    project = harness.create_project()
    # The first operator dies right after Neon accepted the first run's snapshot request.
    crashing = harness.start_operator(NEON_CHECKPOINTS_CRASH_AFTER="snapshot-accepted", **FAST)
    schedule = schedules.create("crashy", project, "every: 3s")
    assert crashing.wait_exit(timeout=90) != 0, crashing.log()[-3000:]
    # The crashed run, and perhaps the next one created while its snapshot was being taken.
    before_crash = schedules.owned(schedule)
    first = before_crash[0]
    last_run_before_crash = scheduled_time(before_crash[-1])
    # Stay down for several ticks.
    time.sleep(8)
    restarted = dt.datetime.now(dt.UTC)
    harness.start_operator(**FAST)

    eventually(lambda: len(schedules.ready(schedule)) >= 3, timeout=90, what="three Ready runs", h=harness)
    schedules.patch("crashy", '{"spec":{"suspend":true}}')
    owned = eventually(
        lambda: (lambda o: o if o == schedules.ready(schedule) else None)(schedules.owned(schedule)),
        timeout=60,
        what="every run Ready",
        h=harness,
    )

    names = [c["metadata"]["name"] for c in owned]
    times = [scheduled_time(c) for c in owned]
    assert names[0] == first["metadata"]["name"]
    assert len(set(times)) == len(times)
    # The downtime is made up by at most one catch-up run, never a burst.
    during_downtime = [t for t in times if last_run_before_crash < t <= restarted]
    assert len(during_downtime) <= 1, times
    # One snapshot and one meta row per run: the crashed run was resumed, not repeated.
    assert harness.snapshot_names(project) == sorted(f"ckpt-{c['metadata']['uid']}" for c in owned)
    rows = harness.meta_rows("SELECT name FROM checkpoints ORDER BY name")
    assert [r["name"] for r in rows] == sorted(names)


def test_expired_checkpoint_is_deleted_with_its_snapshot(harness: Harness) -> None:
    project = harness.create_project()
    harness.start_operator(**FAST)
    manifest = """
apiVersion: neoncheckpoints.dev/v1alpha1
kind: Checkpoint
metadata: {{name: {name}}}
spec: {{projectId: {project}, branch: production, ttl: {ttl}}}
"""
    applied = harness.apply(manifest.format(name="long", project=project, ttl="1h"))
    assert applied.returncode == 0, applied.stderr
    harness.wait_ready("long")
    applied = harness.apply(manifest.format(name="short", project=project, ttl="8s"))
    assert applied.returncode == 0, applied.stderr
    short = harness.get("checkpoint", "short")
    created = dt.datetime.fromisoformat(short["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
    expires = created + dt.timedelta(seconds=8)

    gone = harness.kubectl(
        "wait", "--for=delete", "checkpoint/short", "--timeout=60s", check=False, timeout=80
    )
    assert gone.returncode == 0, gone.stderr + harness.operator_logs()
    assert dt.datetime.now(dt.UTC) >= expires
    long_uid = harness.get("checkpoint", "long")["metadata"]["uid"]
    assert harness.snapshot_names(project) == [f"ckpt-{long_uid}"]
    rows = {r["name"]: r for r in harness.meta_rows("SELECT name, expires_at, deleted_at FROM checkpoints")}
    # The snapshot itself carried the expiry (Neon would drop it even without the operator).
    assert rows["short"]["expires_at"] == expires
    assert rows["short"]["deleted_at"] is not None
    assert rows["long"]["deleted_at"] is None
    assert "Expired" in {e["reason"] for e in harness.events("short")}


def test_cron_the_apiserver_accepts_but_never_fires_is_reported(
    harness: Harness, schedules: Schedules
) -> None:
    """The CRD's per-field regexes cannot know that February has no 30th; the operator's parser does."""
    project = harness.create_project()
    harness.start_operator(**FAST)
    schedule = schedules.create("feb30", project, "schedule: '0 0 30 2 *'")

    def invalid() -> dict[str, str] | None:
        conditions = schedules.status("feb30").get("conditions") or []
        return next((c for c in conditions if (c["type"], c["reason"]) == ("Ready", "InvalidSchedule")), None)

    condition = eventually(invalid, timeout=30, what="condition InvalidSchedule", h=harness)
    assert condition["status"] == "False"
    assert "spec.schedule" in condition["message"] and "never matches" in condition["message"]
    [event] = [e for e in harness.events("feb30") if e["reason"] == "InvalidSchedule"]
    assert event["type"] == "Warning"
    assert schedules.owned(schedule) == []


def test_retention_never_deletes_a_checkpoint_a_restore_in_progress_needs(
    harness: Harness, schedules: Schedules
) -> None:
    project = harness.create_project()
    harness.start_operator(**FAST)
    schedule = schedules.create("held", project, "every: 3s", "  retention: {keepLast: 1}")
    [first] = eventually(lambda: schedules.ready(schedule), timeout=60, what="a first Ready run", h=harness)
    needed = first["metadata"]["name"]
    # A restore of it that stays in progress: its API-key Secret does not exist (yet), so it waits.
    applied = harness.apply(f"""
apiVersion: neoncheckpoints.dev/v1alpha1
kind: CheckpointRestore
metadata: {{name: waiting}}
spec:
  checkpointRef: {{name: {needed}}}
  credentialsSecretRef: {{name: not-there-yet}}
""")
    assert applied.returncode == 0, applied.stderr
    runs: set[str] = set()

    def three_more_runs() -> bool:
        runs.add(schedules.status("held").get("lastCheckpointName") or needed)
        return len(runs - {needed}) >= 3

    eventually(three_more_runs, timeout=60, what="three more runs", h=harness)
    schedules.patch("held", '{"spec":{"suspend":true}}')

    def settled() -> list[str] | None:
        owned, ready = schedules.owned(schedule), schedules.ready(schedule)
        return [c["metadata"]["name"] for c in owned] if len(owned) == len(ready) == 2 else None

    kept = eventually(settled, timeout=60, what="the newest run plus the one the restore needs", h=harness)
    assert kept[0] == needed
    restore = harness.get("checkpointrestore", "waiting")
    assert restore.get("status", {}).get("phase") not in ("Succeeded", "Failed")

    # Once the restore is gone, retention removes it.
    harness.kubectl("delete", "checkpointrestore", "waiting", "--timeout=60s")
    eventually(
        lambda: [c["metadata"]["name"] for c in schedules.owned(schedule)] == kept[1:],
        timeout=60,
        what="the no longer needed checkpoint deleted",
        h=harness,
    )


def condition_reason(status: dict[str, Any]) -> str | None:
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    return ready.get("reason") if ready else None


def test_unsuspending_takes_effect_at_once_not_at_the_next_resync(
    harness: Harness, schedules: Schedules
) -> None:
    project = harness.create_project()
    harness.start_operator()  # the default resync: a suspended schedule's daemon sleeps 30 s
    schedule = schedules.create("held", project, "every: 2s", "  suspend: true")
    # The operator has seen the schedule and its daemon is asleep: only then does the un-suspend test what
    # it should (waking the sleeping daemon), not an operator that simply started late.
    eventually(
        lambda: condition_reason(schedules.status("held")) == "Suspended",
        timeout=30,
        what="the schedule reported Suspended",
        h=harness,
    )
    time.sleep(4)
    assert schedules.owned(schedule) == [], "suspended: no runs"
    schedules.patch("held", '{"spec":{"suspend":false}}')
    resumed = time.monotonic()
    eventually(lambda: schedules.owned(schedule), timeout=15, what="a run after un-suspending", h=harness)
    assert time.monotonic() - resumed < 15  # the resync alone would have taken up to 26 s more
