"""What every flow shares: its Neon client (chosen by the one credential resolver), the per-project lock
that serializes mutating flows on one Neon project (its waiting shows as phase Queued), and the watch that
turns a late wait or an interrupted run into kstatus `Stalled` (see `stall_after`)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterable, Sequence
from enum import StrEnum
from typing import Any, ClassVar, NoReturn

import kopf

from neon_api import AsyncNeonClient, OperationPace, errors
from neon_api.budget import on_budget_wait
from neon_api.models import Operation
from neon_checkpoints.core.conditions import RECONCILING, STALLED, find, true_since
from neon_checkpoints.core.secrets import SecretRef
from neon_checkpoints.core.times import utcnow
from neon_checkpoints.core.verdicts import Verdict
from neon_checkpoints.meta.locks import ProjectBusy
from neon_checkpoints.runtime.runtime import Runtime
from neon_checkpoints.runtime.status import PhaseRules, StatusWriter

# A wait is Stalled once it lasts twice the p99 of the recent ones of its kind, but never sooner than this:
# below it, poll gaps and a busy event loop are the noise, not Neon.
MIN_STALL_AFTER = 0.5
MIN_LEARNED = 3  # as OperationPace: fewer remembered waits say nothing about a p99
# The longest one handler run waits for Neon's operations: then it hands back to kopf and resumes from what
# status recorded, so a `kubectl delete` meanwhile is acted on within seconds (kopf runs one handler at a
# time per object). The whole wait is still bounded by NEON_OPERATION_TIMEOUT, by the operations' age.
WAIT_SLICE = 5.0
RESUME_DELAY = 0.1


class Flow(ABC):
    """One run of a kind's flow on one object: what it is, where its status goes, and its shared steps."""

    plural: ClassVar[str]
    kind: ClassVar[str]  # the metrics' `kind` label
    phases: ClassVar[PhaseRules[Any, Any]]
    queued_step: ClassVar[StrEnum]  # the step recorded while waiting for the project lock

    def __init__(
        self, runtime: Runtime, body: kopf.Body, logger: logging.Logger | logging.LoggerAdapter[Any]
    ) -> None:
        self.runtime = runtime
        self.body = body
        self.logger = logger
        self.status: StatusWriter[Any, Any] = StatusWriter(runtime.kube, self.plural, body, self.phases)
        self.uid = body.metadata.uid or ""
        self.namespace = body.metadata.namespace or ""
        self.name = body.metadata.name or ""

    @abstractmethod
    async def _fail_or_retry(self, verdict: Verdict) -> NoReturn:
        """Record the verdict in status (+ Event) and hand it to kopf. Always raises."""

    @contextlib.asynccontextmanager
    async def _client(self, project_id: str, *chain: SecretRef | None) -> AsyncIterator[AsyncNeonClient]:
        """The client for the first key of `chain`, else the operator's (raises `SecretUnavailable`), once
        the namespace may use `project_id` with it (else `ProjectNotAllowed`). While a request of this flow
        waits for its key's request budget, status says so (phase Queued before the snapshot, the message
        otherwise)."""

        async def queued(wait: float) -> None:
            await self.status.record(
                self.queued_step, "Queued", f"waiting {wait:.1f} s for the Neon API key's request budget"
            )

        token = on_budget_wait.set(queued)
        try:
            async with self.runtime.credentials.client(self.namespace, project_id, *chain) as client:
                yield client
        finally:
            on_budget_wait.reset(token)

    # -- kstatus: never Reconciling for long without a Stalled reason --------------------------------------

    def stall_after(self, actions: Iterable[str]) -> float:
        """How long a wait for operations of these actions may take before the resource shows Stalled:
        twice the p99 of the recent waits of that kind (OperationPace remembers them), at least
        MIN_STALL_AFTER; before any is remembered (e.g. right after a restart), the configured fallback."""
        learned = sorted(self.runtime.pace.remembered(OperationPace.kind(actions)))
        if len(learned) < MIN_LEARNED:
            return self.runtime.settings.stall_after
        p99 = learned[min(len(learned) - 1, int(0.99 * len(learned)))]
        return max(MIN_STALL_AFTER, 2 * p99)

    async def _wait_for(
        self,
        client: AsyncNeonClient,
        project_id: str,
        operations: Sequence[Operation | str],
        actions: Iterable[str] | None = None,
    ) -> tuple[Operation, ...]:
        """Wait for a flow's Neon operations: one listing of the project's operations per poll (not one GET
        per operation), at the pace learned for their kind (`actions`; default: those of `operations`).
        Past `stall_after`, say so (Stalled, OperationOverdue) and keep waiting; at most WAIT_SLICE in this
        handler run (then kopf resumes it soon, so a `kubectl delete` meanwhile is acted on)."""
        if actions is None:
            actions = (op.action for op in operations if isinstance(op, Operation))
        actions = tuple(actions)
        bound = self.stall_after(actions)

        async def overdue() -> None:
            await asyncio.sleep(bound)
            await self.status.stall(
                "OperationOverdue",
                f"Neon operations {', '.join(sorted(set(actions))) or '?'} on project {project_id} are still "
                f"running after {bound:.1f}s (twice the recent p99); still waiting",
            )

        timeout = self.runtime.settings.operation_timeout
        watch = asyncio.create_task(overdue())
        try:
            return await client.wait_for_operations(
                project_id,
                operations,
                timeout=min(timeout, WAIT_SLICE),
                pace=self.runtime.pace,
                listing=True,
            )
        except errors.OperationTimeout as exc:
            oldest = min((op.created_at for op in exc.operations), default=None)
            if timeout <= WAIT_SLICE or oldest is None or (utcnow() - oldest).total_seconds() >= timeout:
                raise
            self.logger.info("Neon operations still running; resuming the wait shortly")
            raise kopf.TemporaryError("Neon operations still running", delay=RESUME_DELAY) from None
        finally:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch

    async def _flag_if_interrupted(self) -> None:
        """A run resumed on a resource that has been Reconciling for longer than its operations may take
        (the operator was stopped or killed meanwhile): mark it Stalled until this run finishes it."""
        conditions = self.status.get("conditions") or []
        since = true_since(conditions, RECONCILING)
        stalled = find(conditions, STALLED)
        if since is None or (stalled is not None and stalled.get("status") == "True"):
            return
        actions = [op.get("action", "") for op in self.status.get("operations") or []]
        age = (utcnow() - since).total_seconds()
        if age > self.stall_after(actions):
            await self.status.stall(
                "Interrupted",
                f"reconciling since {since.astimezone(dt.UTC):%H:%M:%SZ} ({age:.0f}s): the operator was "
                "interrupted; resuming",
            )

    def _count_failure(self, verdict: Verdict) -> None:
        """Every verdict a flow records, by its reason (the `_fail_or_retry` of each kind calls this)."""
        self.runtime.metrics.failed(self.kind, verdict.reason)

    @contextlib.asynccontextmanager
    async def _project_lock(self, project_id: str) -> AsyncIterator[None]:
        async def queued() -> None:
            await self.status.record(
                self.queued_step, "Queued", f"waiting for another flow on Neon project {project_id}"
            )

        started = time.monotonic()
        acquired = False
        try:
            async with self.runtime.store.locks.hold(
                project_id, wait=self.runtime.settings.project_lock_wait, on_queued=queued
            ):
                acquired = True
                self.runtime.metrics.lock_waited(time.monotonic() - started, acquired=True)
                yield
        except ProjectBusy:
            if not acquired:
                self.runtime.metrics.lock_waited(time.monotonic() - started, acquired=False)
            raise
