"""kopf handlers for CheckpointSchedules: one daemon per schedule that sleeps until the next run (or the
resync period), then runs one pass (runner.py). An edit of the schedule's spec (a new generation) wakes its
daemon at once, so e.g. un-suspending takes effect without waiting for the resync. Registered by importing
this module (operator.py does, for every kind).
"""

from __future__ import annotations

import asyncio
from typing import Any

import kopf

from neon_checkpoints.core.times import utcnow
from neon_checkpoints.names import CHECKPOINT_SCHEDULES, GROUP, SCHEDULE_KIND, VERSION
from neon_checkpoints.runtime.metrics import reconcile_result
from neon_checkpoints.runtime.runtime import Runtime, Waker
from neon_checkpoints.schedule.runner import ScheduleRunner


@kopf.daemon(GROUP, VERSION, CHECKPOINT_SCHEDULES, cancellation_timeout=10.0)
async def run_schedule(
    body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, stopped: kopf.DaemonStopped, **_: Any
) -> None:
    runtime: Runtime = memo["runtime"]
    runner = ScheduleRunner(runtime, body, logger)
    uid = body.metadata.uid or ""
    waker = runtime.wakers.setdefault(uid, Waker(body.metadata.get("generation")))
    try:
        while not stopped:
            # The body is kopf's live view: this pass sees the newest spec.
            waker.generation = body.metadata.get("generation")
            waker.edited.clear()
            with runtime.metrics.reconcile(SCHEDULE_KIND, reconcile_result):
                delay = await runner.tick(utcnow())
            await _sleep(stopped, waker.edited, delay)
    finally:
        runtime.wakers.pop(uid, None)


async def _sleep(stopped: kopf.DaemonStopped, edited: asyncio.Event, delay: float) -> None:
    """Until `delay` passes, the daemon is stopped, or the schedule's spec is edited."""

    async def until_stopped() -> None:
        await stopped.wait(delay)

    waits = [asyncio.ensure_future(until_stopped()), asyncio.ensure_future(edited.wait())]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()


@kopf.on.event(GROUP, VERSION, CHECKPOINT_SCHEDULES)
async def wake_on_edit(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """A new generation (a spec edit, not a status write) wakes the schedule's daemon."""
    runtime: Runtime | None = memo.get("runtime")
    waker = runtime.wakers.get(body.metadata.uid or "") if runtime is not None else None
    generation = body.metadata.get("generation")
    if waker is not None and generation is not None and generation != waker.generation:
        waker.edited.set()
