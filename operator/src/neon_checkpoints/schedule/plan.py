"""CheckpointSchedule decisions (pure, no I/O): which run is due, the Checkpoint a run creates, and which of
the schedule's Checkpoints retention removes.

Idempotence comes from names: a run's Checkpoint is named from the schedule and the run's scheduled time, so
an operator that crashes after creating it and plans again gets the same name and a 409 from the apiserver.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from neon_checkpoints.core.times import rfc3339
from neon_checkpoints.names import (
    API_VERSION,
    CHECKPOINT_KIND,
    SCHEDULE_KIND,
    SCHEDULE_LABEL,
    SCHEDULE_UID_LABEL,
    SCHEDULED_TIME_ANNOTATION,
)
from neon_checkpoints.schedule.cron import Trigger
from neon_checkpoints.schedule.spec import Retention

# Kubernetes label values and many tools cap names at 63 characters.
NAME_LIMIT = 63
_CHECKPOINT_SETTLED = frozenset({"Ready", "Failed"})


# -- which run is due -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunPlan:
    # The scheduled time to create a Checkpoint for now (None: nothing due).
    due: dt.datetime | None
    # For status; None while suspended or when the trigger never fires again.
    next_run: dt.datetime | None
    # True when runs between the last one and `due` were dropped (downtime): only the latest is made up.
    skipped_runs: bool = False


def plan_run(
    trigger: Trigger,
    *,
    created_at: dt.datetime,
    last_run: dt.datetime | None,
    suspended_through: dt.datetime | None,
    suspend: bool,
    now: dt.datetime,
) -> RunPlan:
    """Which run (if any) to make now.

    Runs are the trigger's times after `created_at`. Everything up to the last run, and up to the moment a
    suspension ended (`suspended_through`), counts as done. Of the runs since then that are already due,
    only the latest is made (at most one catch-up after downtime, never a burst).
    """
    if suspend:
        return RunPlan(due=None, next_run=None)
    done_until = max(t for t in (created_at, last_run, suspended_through) if t is not None)
    latest = trigger.latest_at_or_before(now, created_at)
    if latest is None or latest <= done_until:
        return RunPlan(due=None, next_run=trigger.next_after(max(done_until, now), created_at))
    first_missed = trigger.next_after(done_until, created_at)
    return RunPlan(
        due=latest,
        next_run=trigger.next_after(now, created_at),
        skipped_runs=first_missed is not None and first_missed < latest,
    )


# -- the Checkpoint of a run ----------------------------------------------------------------------------


def checkpoint_name(schedule_name: str, scheduled: dt.datetime) -> str:
    """`<schedule>-<yyyymmddhhmmss>`; a long schedule name is cut and given a hash of the full name, so
    two long names with a common prefix still get different Checkpoints."""
    stamp = scheduled.astimezone(dt.UTC).strftime("%Y%m%d%H%M%S")
    return f"{short_schedule_name(schedule_name, NAME_LIMIT - len(stamp) - 1)}-{stamp}"


def short_schedule_name(schedule_name: str, limit: int = NAME_LIMIT) -> str:
    """The schedule's name if it fits `limit`, else a cut prefix plus 8 hex digits of its hash (valid as a
    DNS label and as a label value: starts and ends alphanumeric)."""
    if len(schedule_name) <= limit:
        return schedule_name
    digest = hashlib.sha256(schedule_name.encode()).hexdigest()[:8]
    prefix = schedule_name[: limit - len(digest) - 1].rstrip("-.")
    return f"{prefix}-{digest}"


@dataclass(frozen=True)
class ScheduleRef:
    name: str
    namespace: str
    uid: str


def checkpoint_manifest(
    schedule: ScheduleRef, template: Mapping[str, Any], scheduled: dt.datetime
) -> dict[str, Any]:
    """The Checkpoint for one run: named for the run, labelled and owned by the schedule (deleting the
    schedule lets Kubernetes' garbage collector delete its Checkpoints)."""
    return {
        "apiVersion": API_VERSION,
        "kind": CHECKPOINT_KIND,
        "metadata": {
            "name": checkpoint_name(schedule.name, scheduled),
            "namespace": schedule.namespace,
            "labels": {
                SCHEDULE_LABEL: short_schedule_name(schedule.name),
                SCHEDULE_UID_LABEL: schedule.uid,
            },
            "annotations": {SCHEDULED_TIME_ANNOTATION: rfc3339(scheduled)},
            "ownerReferences": [
                {
                    "apiVersion": API_VERSION,
                    "kind": SCHEDULE_KIND,
                    "name": schedule.name,
                    "uid": schedule.uid,
                    "controller": True,
                }
            ],
        },
        "spec": dict(template),
    }


# -- retention -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OwnedCheckpoint:
    """One of the schedule's Checkpoints as observed in the cluster."""

    name: str
    scheduled_time: dt.datetime
    # None: the Checkpoint controller has not reported yet.
    phase: str | None
    deleting: bool = False


def select_for_deletion(
    checkpoints: Iterable[OwnedCheckpoint],
    retention: Retention,
    *,
    now: dt.datetime,
    protected: frozenset[str] = frozenset(),
) -> tuple[str, ...]:
    """Names of Checkpoints retention removes, oldest first.

    - Only settled Checkpoints (Ready or Failed) are candidates: one still being created is neither counted
      nor removed, so a slow snapshot never pushes out a good one.
    - Ready: any older than `maxAge` (by scheduled time), and, once any of `keepLast`, `keepHourly`,
      `keepDaily` is set, every one no tier keeps (`kept_by_tiers`).
    - Failed: once a newer Ready one exists (it replaces what the failed run should have made), or when
      older than `maxAge`.
    - Never one that an in-progress restore refers to, or one already being deleted.
    """
    live = sorted(
        (c for c in checkpoints if not c.deleting and c.phase in _CHECKPOINT_SETTLED),
        key=lambda c: (c.scheduled_time, c.name),
        reverse=True,
    )
    ready = [c for c in live if c.phase == "Ready"]
    newest_ready = ready[0].scheduled_time if ready else None
    kept = kept_by_tiers(ready, retention)
    doomed: list[OwnedCheckpoint] = []
    for checkpoint in live:
        too_old = retention.max_age is not None and now - checkpoint.scheduled_time > retention.max_age
        if checkpoint.phase == "Ready":
            beyond_count = retention.tiered and checkpoint.name not in kept
            superseded = False
        else:
            beyond_count = False
            superseded = newest_ready is not None and newest_ready > checkpoint.scheduled_time
        if (too_old or beyond_count or superseded) and checkpoint.name not in protected:
            doomed.append(checkpoint)
    return tuple(c.name for c in reversed(doomed))


def _hour(moment: dt.datetime) -> tuple[int, ...]:
    utc = moment.astimezone(dt.UTC)
    return (utc.year, utc.month, utc.day, utc.hour)


def _day(moment: dt.datetime) -> tuple[int, ...]:
    utc = moment.astimezone(dt.UTC)
    return (utc.year, utc.month, utc.day)


def kept_by_tiers(ready: list[OwnedCheckpoint], retention: Retention) -> set[str]:
    """Names the tiers keep, from Ready Checkpoints newest first: the newest `keepLast`, and the newest of
    each of the latest `keepHourly` hours and `keepDaily` days (UTC) that have one."""
    kept = {c.name for c in ready[: retention.keep_last or 0]}
    for count, period in ((retention.keep_hourly, _hour), (retention.keep_daily, _day)):
        periods: set[tuple[int, ...]] = set()
        for checkpoint in ready:
            if not count:
                break
            key = period(checkpoint.scheduled_time)
            if key in periods:
                continue
            if len(periods) >= count:
                break
            periods.add(key)
            kept.add(checkpoint.name)
    return kept


def select_for_cap(
    checkpoints: Iterable[OwnedCheckpoint],
    *,
    max_snapshots: int,
    held: int,
    room: int,
    protected: frozenset[str] = frozenset(),
) -> tuple[str, ...]:
    """Ready Checkpoints to delete, oldest first, so that the project's `held` manual snapshots plus `room`
    new ones stay within `max_snapshots` (the plan's cap). Never one a restore still needs, never the
    newest Ready one; fewer than needed when nothing else is expendable."""
    excess = held + room - max_snapshots
    if excess <= 0:
        return ()
    ready = sorted(
        (c for c in checkpoints if c.phase == "Ready" and not c.deleting),
        key=lambda c: (c.scheduled_time, c.name),
    )
    expendable = [c.name for c in ready[:-1] if c.name not in protected]
    return tuple(expendable[:excess])


def last_run_of(checkpoints: Iterable[OwnedCheckpoint], recorded: dt.datetime | None) -> dt.datetime | None:
    """The latest run made: observed from the schedule's Checkpoints, with the time recorded in status as a
    fallback for when retention has removed them all."""
    times = [c.scheduled_time for c in checkpoints]
    if recorded is not None:
        times.append(recorded)
    return max(times, default=None)
