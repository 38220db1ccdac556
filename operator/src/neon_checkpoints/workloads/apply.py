"""The workloads' I/O: read them for a capture, record what a restore replaces, scale to zero, apply the
recorded versions back and wait for the controller-manager. Thin: decisions are in capture.py and plan.py;
every Kubernetes call goes through runtime/kube.py, every row through meta/workloads.py."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

from neon_checkpoints.meta.workloads import (
    CheckpointWorkloadRow,
    PlannedWorkload,
    RestoreWorkloadRow,
    Revision,
    WorkloadStore,
)
from neon_checkpoints.runtime.crash import crash_point
from neon_checkpoints.runtime.kube import Kube, KubeError
from neon_checkpoints.workloads.capture import Captured, capture, missing_message, select
from neon_checkpoints.workloads.plan import (
    COPY_LABEL,
    FIELD_MANAGER,
    Progress,
    apply_body,
    generation_observed,
    ready,
    scale_to_zero,
    scaled_down,
    to_apply,
    to_quiesce,
)
from neon_checkpoints.workloads.spec import KINDS, Kind, WorkloadsSpec

# When a watch cannot be had, polling the controller-manager's progress (a GET each): it observes a new
# generation within tens of ms, so poll every 10 ms for the first half second, then back off to this.
_POLL_FIRST = 0.01
_POLL_FAST_FOR = 0.5
_POLL_MAX = 0.25

log = logging.getLogger(__name__)


class WorkloadProblem(Exception):
    """A workload cannot be captured or rolled back; `reason` is the status condition's reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class CaptureResult:
    captured: tuple[tuple[Captured, str | None], ...]  # with the env var carrying the database URL


async def read_workloads(kube: Kube, namespace: str, spec: WorkloadsSpec) -> CaptureResult:
    """What every named and selected workload runs now. Raises WorkloadProblem (WorkloadNotFound,
    WorkloadTooLarge) before anything is recorded or snapshotted."""
    listed = {ref.key: await kube.get_workload(ref.kind, namespace, ref.name) for ref in spec.refs}
    selected: list[tuple[Kind, Mapping[str, Any]]] = []
    if spec.selector:
        for kind in KINDS:
            for obj in await kube.list_workloads(kind, namespace, spec.selector_string()):
                selected.append((kind, obj))
    selection = select(spec.refs, listed, selected)
    if selection.missing:
        raise WorkloadProblem("WorkloadNotFound", missing_message(selection.missing, namespace))
    out: list[tuple[Captured, str | None]] = []
    for ref, found in selection.found:
        try:
            out.append((capture(ref.kind, ref.name, found), ref.database_url_stored))
        except ValueError as exc:
            raise WorkloadProblem("WorkloadTooLarge", str(exc)) from None
    return CaptureResult(tuple(out))


def revision_of(item: Captured) -> Revision:
    return Revision(item.kind, item.name, item.digest, dict(item.content))


def captured_of(row: CheckpointWorkloadRow) -> Captured:
    rev = row.revision
    return Captured(cast(Kind, rev.kind), rev.name, rev.content, rev.digest)


def progress_of(row: RestoreWorkloadRow) -> Progress:
    return Progress(
        row.position,
        cast(Kind, row.kind),
        row.name,
        row.target_digest,
        row.replaced_digest,
        row.applied_generation,
        row.applied,
    )


class Roller:
    """Rolls one restore's workloads to their recorded versions, resumable from the meta rows."""

    def __init__(
        self, kube: Kube, store: WorkloadStore, namespace: str, restore_uid: str, crash_after: str | None
    ) -> None:
        self.kube = kube
        self.store = store
        self.namespace = namespace
        self.restore_uid = restore_uid
        self.crash_after = crash_after

    async def plan(self, targets: Sequence[Captured]) -> list[Progress]:
        """Record the targets and what each one replaces (read now, before anything changes)."""
        planned = []
        for target in targets:
            current = await self.kube.get_workload(target.kind, self.namespace, target.name)
            replaced = capture(target.kind, target.name, current) if current is not None else None
            planned.append(
                PlannedWorkload(
                    target.kind,
                    target.name,
                    target.digest,
                    revision_of(replaced) if replaced is not None else None,
                )
            )
        rows = await self.store.plan_restore(self.restore_uid, planned)
        return [progress_of(row) for row in rows]

    async def progress(self) -> list[Progress]:
        return [progress_of(row) for row in await self.store.progress(self.restore_uid)]

    async def quiesce(self, progress: Sequence[Progress], limit: float) -> list[str]:
        """Scale the Deployments/StatefulSets to zero and wait until the controller-manager has removed
        their pods. Returns what was scaled."""
        scaled = []
        for item in to_quiesce(progress):
            found = await self.kube.patch_workload(
                item.kind, self.namespace, item.name, scale_to_zero(), field_manager=FIELD_MANAGER
            )
            if found is not None:
                scaled.append(str(item))
        for item in to_quiesce(progress):
            await self._until(scaled_down, item, limit, f"{item} did not scale to zero")
        return scaled

    async def roll_back(
        self, progress: Sequence[Progress], *, ready_timeout: float | None, limit: float
    ) -> list[Progress]:
        """Apply each workload not applied yet, one after another, each recorded as applied before the next
        (a resume skips those); wait until the controller-manager has observed each applied generation
        (and, with `ready_timeout`, every replica is ready). A workload's wait starts as soon as it is
        applied, so it overlaps the next applies, and the whole wait is the slowest one's, not their sum.
        Returns the progress as recorded."""
        pending = to_apply(progress)
        contents = await self.store.contents([item.target_digest for item in pending])
        done = {(p.kind, p.name): p for p in progress}
        waits = [asyncio.create_task(self._observed(p, ready_timeout, limit)) for p in progress if p.applied]
        try:
            for item in pending:
                content = contents.get(item.target_digest)
                if content is None:
                    raise WorkloadProblem(
                        "WorkloadRevisionMissing", f"no recorded version {item.revision} of {item}"
                    )
                body = apply_body(item.kind, item.name, self.namespace, content)
                applied = await self.kube.apply_workload(
                    item.kind, self.namespace, item.name, body, field_manager=FIELD_MANAGER
                )
                generation = (applied.get("metadata") or {}).get("generation")
                await self.store.mark_applied(self.restore_uid, item.kind, item.name, generation)
                crash_point(self.crash_after, "workload-applied")
                now = replace(item, applied_generation=generation, applied=True)
                done[(item.kind, item.name)] = now
                waits.append(asyncio.create_task(self._observed(now, ready_timeout, limit, applied)))
            await asyncio.gather(*waits)  # the first failure as it is
        finally:
            for wait in waits:
                wait.cancel()
            await asyncio.gather(*waits, return_exceptions=True)
        return sorted(done.values(), key=lambda p: p.position)

    async def copy(self, kind: str, name: str, body: Mapping[str, Any]) -> None:
        """Create or update a Preview's copy (server-side apply)."""
        await self.kube.apply_workload(kind, self.namespace, name, body, field_manager=FIELD_MANAGER)

    async def delete_copies(self) -> int:
        """Delete this restore's copies (found by their label); how many there were."""
        deleted = 0
        for kind in KINDS:
            for obj in await self.kube.list_workloads(
                kind, self.namespace, f"{COPY_LABEL}={self.restore_uid}"
            ):
                if await self.kube.delete_workload(kind, self.namespace, obj["metadata"]["name"]):
                    deleted += 1
        return deleted

    async def _observed(
        self,
        item: Progress,
        ready_timeout: float | None,
        limit: float,
        seen: Mapping[str, Any] | None = None,
    ) -> None:
        if item.kind == "ConfigMap":
            return  # no controller acts on it
        generation = item.applied_generation
        await self._until(
            lambda obj: generation_observed(obj, generation),
            item,
            limit,
            f"the controller has not observed {item}'s new generation",
            seen,
        )
        if ready_timeout is not None:
            await self._until(ready, item, ready_timeout, f"{item} has no ready replicas yet")

    async def _until(
        self, test: Any, item: Progress, limit: float, message: str, seen: Mapping[str, Any] | None = None
    ) -> None:
        """Until `test` holds for the workload: watched from `seen` (a state just read or applied; else
        read now), so the controller's status write is seen the moment it is made; polled when the watch
        cannot be made or breaks."""
        start = time.monotonic()
        obj = seen if seen is not None else await self.kube.get_workload(item.kind, self.namespace, item.name)
        if test(obj):
            return
        version = ((obj or {}).get("metadata") or {}).get("resourceVersion")
        if version:
            try:
                async with asyncio.timeout(limit):
                    async for obj in self.kube.watch_workload(
                        item.kind, self.namespace, item.name, version, limit
                    ):
                        if test(obj):
                            return
            except TimeoutError:
                raise WorkloadProblem("WorkloadNotReady", f"{message} after {limit:.0f}s") from None
            except KubeError as exc:
                log.info("watching %s failed (%s); polling it instead", item, exc)
        delay = _POLL_FIRST
        while True:
            if time.monotonic() - start >= limit:
                raise WorkloadProblem("WorkloadNotReady", f"{message} after {limit:.0f}s")
            await asyncio.sleep(delay)
            if time.monotonic() - start >= _POLL_FAST_FOR:
                delay = min(delay * 1.5, _POLL_MAX)
            if test(await self.kube.get_workload(item.kind, self.namespace, item.name)):
                return
