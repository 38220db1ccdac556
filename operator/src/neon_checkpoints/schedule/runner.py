"""One pass of a CheckpointSchedule: observe, plan (plan.py), act.

Observed each time, never remembered: the schedule's Checkpoints (by owner label) say which runs were made,
CheckpointRestores say which Checkpoints are in use. A run's Checkpoint has a deterministic name, so a
crash between creating it and recording it ends in a 409 on the next pass, not a second Checkpoint.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

import kopf

from neon_checkpoints.checkpoint.holds import held_in
from neon_checkpoints.checkpoint.spec import CheckpointSpec
from neon_checkpoints.core.conditions import Progress, set_condition, set_progress
from neon_checkpoints.core.secrets import secret_ref
from neon_checkpoints.core.tenancy import ProjectNotAllowed
from neon_checkpoints.core.times import parse_time_or_none, rfc3339, utcnow
from neon_checkpoints.names import CHECKPOINT_SCHEDULES, CHECKPOINTS, SCHEDULE_UID_LABEL
from neon_checkpoints.runtime.errors import EXPECTED
from neon_checkpoints.runtime.kube import AlreadyExists, KubeError, NotFound
from neon_checkpoints.runtime.runtime import Runtime
from neon_checkpoints.schedule.observe import owned_checkpoint
from neon_checkpoints.schedule.plan import (
    OwnedCheckpoint,
    ScheduleRef,
    checkpoint_manifest,
    last_run_of,
    plan_run,
    select_for_cap,
    select_for_deletion,
)
from neon_checkpoints.schedule.spec import InvalidSchedule, ScheduleSpec
from neon_checkpoints.timeline.cost import Sizes, sizes_to_record

# After a failed Kubernetes call, try again this soon (bounded by the resync period).
_ERROR_DELAY = 5.0
_MIN_SLEEP = 0.2


class ScheduleRunner:
    def __init__(
        self,
        runtime: Runtime,
        body: kopf.Body,
        logger: logging.Logger | logging.LoggerAdapter[Any],
    ) -> None:
        self.runtime = runtime
        self.kube = runtime.kube
        self.settings = runtime.settings
        self.body = body
        self.logger = logger
        meta = body.metadata
        self.ref = ScheduleRef(name=meta.name or "", namespace=meta.namespace or "", uid=meta.uid or "")
        self.created_at = parse_time_or_none(meta.creation_timestamp) or utcnow()
        self._last_reason: str | None = None

    async def tick(self, now: dt.datetime) -> float:
        """One pass; returns how long to sleep before the next."""
        try:
            spec = ScheduleSpec.from_dict(self.body.spec)
        except InvalidSchedule as exc:
            await self._report(False, "InvalidSchedule", str(exc), warning=True)
            return self.settings.resync
        try:
            # Its runs would each fail ProjectNotAllowed: say so once here and make none.
            template = CheckpointSpec.from_dict(spec.template)
            await self.runtime.credentials.check(
                self.ref.namespace, template.project_id, template.credentials
            )
            return await self._tick(spec, now)
        except ProjectNotAllowed as exc:
            await self._report(False, "ProjectNotAllowed", f"no runs: {exc}", warning=True)
            return self.settings.resync
        except KubeError as exc:
            self.logger.warning("schedule pass failed, retrying in %.0fs: %s", _ERROR_DELAY, exc)
            return min(_ERROR_DELAY, self.settings.resync)

    async def _tick(self, spec: ScheduleSpec, now: dt.datetime) -> float:
        status = dict(self.body.get("status") or {})
        objects = await self.kube.list(
            CHECKPOINTS, self.ref.namespace, label_selector=f"{SCHEDULE_UID_LABEL}={self.ref.uid}"
        )
        owned = [c for c in (owned_checkpoint(o) for o in objects) if c is not None]
        last_run = last_run_of(owned, parse_time_or_none(status.get("lastRunTime")))
        suspended_through = parse_time_or_none(status.get("suspendedThrough"))
        plan = plan_run(
            spec.trigger,
            created_at=self.created_at,
            last_run=last_run,
            suspended_through=suspended_through,
            suspend=spec.suspend,
            now=now,
        )
        update: dict[str, Any] = {"schedule": spec.trigger.describe()}
        if plan.due is not None and spec.retention.max_snapshots is not None:
            await self._make_room(spec, spec.retention.max_snapshots, owned, objects)
        if plan.due is not None:
            made = await self._run(spec, plan.due, plan.skipped_runs, last_run)
            # Recorded even when skipped (name taken), so the run is not attempted again.
            update["lastRunTime"] = rfc3339(plan.due)
            if made is not None:
                update["lastCheckpointName"] = made
                owned.append(OwnedCheckpoint(made, plan.due, None))
            # Record the run before retention, so a crash in between still leaves it recorded.
            await self._patch(update)
        elif last_run is not None and not status.get("lastRunTime"):
            update["lastRunTime"] = rfc3339(last_run)
        if spec.suspend:
            update["suspendedThrough"] = rfc3339(now)
        protected = await held_in(self.kube, self.ref.namespace)
        for name in select_for_deletion(owned, spec.retention, now=now, protected=protected):
            if await self.kube.delete(CHECKPOINTS, self.ref.namespace, name):
                self.logger.info("retention: deleted Checkpoint %s", name)
                self.kube.event(
                    self.body, type="Normal", reason="RetentionDeleted", message=f"deleted {name}"
                )
        update["nextRunTime"] = rfc3339(plan.next_run) if plan.next_run else None
        if spec.suspend:
            reason, message = "Suspended", "suspended: no new runs"
        elif plan.next_run is None:
            reason, message = "NoFutureRuns", f"{spec.trigger.describe()} has no future run"
        else:
            reason, message = "Scheduled", f"next run at {rfc3339(plan.next_run)}"
        await self._report(True, reason, message, **update)
        return self._sleep(plan.next_run, now)

    async def _make_room(
        self,
        spec: ScheduleSpec,
        cap: int,
        owned: list[OwnedCheckpoint],
        objects: list[dict[str, Any]],
    ) -> None:
        """Before a run: delete the oldest expendable Checkpoints so that the project's manual snapshots
        plus the run's stay within `cap` (their deletion handlers delete the snapshots, under the project
        lock the run's create also takes; should the create still come first, Neon refuses it and it is
        retried as SnapshotLimitReached). The same listing gives the schedule's Checkpoints the sizes
        Neon has computed since they went Ready (`status.size`)."""
        project = str(spec.template["projectId"])
        try:
            async with self.runtime.credentials.client(
                self.ref.namespace, project, secret_ref(spec.template)
            ) as neon:
                snapshots = await neon.list_snapshots(project)
        except EXPECTED as exc:
            self.logger.warning("retention: cannot count project %s's snapshots: %s", project, exc)
            return
        held = sum(1 for snapshot in snapshots if snapshot.manual)
        await self._record_sizes(objects, {s.id: Sizes(s.full_size, s.diff_size) for s in snapshots})
        protected = await held_in(self.kube, self.ref.namespace)
        doomed = select_for_cap(owned, max_snapshots=cap, held=held, room=1, protected=protected)
        for name in doomed:
            if await self.kube.delete(CHECKPOINTS, self.ref.namespace, name):
                self.logger.info("retention: deleted Checkpoint %s (project at %d of %d)", name, held, cap)
                self.kube.event(
                    self.body,
                    type="Normal",
                    reason="RetentionDeleted",
                    message=f"deleted {name}: project {project} holds {held} of its {cap} snapshots",
                )
        gone = set(doomed)
        owned[:] = [c for c in owned if c.name not in gone]

    async def _record_sizes(self, objects: list[dict[str, Any]], sizes: Mapping[str, Sizes]) -> None:
        for name, size in sizes_to_record(objects, sizes):
            with contextlib.suppress(NotFound):  # deleted meanwhile
                await self.kube.patch_status(CHECKPOINTS, self.ref.namespace, name, {"size": size})

    async def _run(
        self, spec: ScheduleSpec, due: dt.datetime, skipped: bool, last_run: dt.datetime | None
    ) -> str | None:
        """Create the run's Checkpoint; its name, or None when that name belongs to another owner."""
        manifest = checkpoint_manifest(self.ref, spec.template, due)
        name: str = manifest["metadata"]["name"]
        try:
            await self.kube.create(CHECKPOINTS, self.ref.namespace, manifest)
        except AlreadyExists:
            existing = await self.kube.get(CHECKPOINTS, self.ref.namespace, name)
            labels = ((existing or {}).get("metadata") or {}).get("labels") or {}
            if existing is not None and labels.get(SCHEDULE_UID_LABEL) != self.ref.uid:
                # Not ours (e.g. left by an earlier schedule of the same name): do not adopt it.
                self.kube.event(
                    self.body,
                    type="Warning",
                    reason="NameTaken",
                    message=f"Checkpoint {name} is not this schedule's; run {rfc3339(due)} skipped",
                )
                return None
            self.logger.info("Checkpoint %s for the run at %s already exists", name, rfc3339(due))
            return name
        note = ""
        if skipped and last_run is not None:
            note = f" (catch-up: runs after {rfc3339(last_run)} were missed; only the latest is made)"
        self.logger.info("created Checkpoint %s for the run at %s%s", name, rfc3339(due), note)
        self.kube.event(
            self.body, type="Normal", reason="RunCreated", message=f"created Checkpoint {name}{note}"
        )
        return name

    def _sleep(self, next_run: dt.datetime | None, now: dt.datetime) -> float:
        if next_run is None:
            return self.settings.resync
        until = (next_run - now).total_seconds()
        return max(_MIN_SLEEP, min(until, self.settings.resync))

    async def _patch(self, update: Mapping[str, Any]) -> None:
        await self.kube.patch_status(CHECKPOINT_SCHEDULES, self.ref.namespace, self.ref.name, update)

    async def _report(
        self, ok: bool, reason: str, message: str, *, warning: bool = False, **fields: Any
    ) -> None:
        status = self.body.get("status") or {}
        generation, now = self.body.metadata.get("generation"), utcnow()
        conditions = set_condition(
            status.get("conditions") or [],
            type="Ready",
            status="True" if ok else "False",
            reason=reason,
            message=message,
            observed_generation=generation,
            now=now,
        )
        # A pass is over when this is written: done, or stalled on a schedule only an edit can fix.
        progress = Progress.DONE if ok else Progress.STALLED
        conditions = set_progress(
            conditions, progress, reason=reason, message=message, observed_generation=generation, now=now
        )
        await self._patch(
            {
                **fields,
                "message": message,
                "observedGeneration": self.body.metadata.get("generation"),
                "conditions": conditions,
            }
        )
        if reason != self._last_reason and (warning or self._last_reason is not None):
            self.kube.event(
                self.body, type="Warning" if warning else "Normal", reason=reason, message=message
            )
        self._last_reason = reason
