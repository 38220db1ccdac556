"""What every flow shares: its Neon client (chosen by the one credential resolver) and the per-project lock
that serializes mutating flows on one Neon project (its waiting shows as phase Queued)."""

from __future__ import annotations

import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from enum import StrEnum
from typing import Any, ClassVar, NoReturn

import kopf

from neon_api import AsyncNeonClient, errors
from neon_api.models import Operation
from neon_checkpoints.core.secrets import SecretRef
from neon_checkpoints.core.times import utcnow
from neon_checkpoints.core.verdicts import Verdict
from neon_checkpoints.runtime.runtime import Runtime
from neon_checkpoints.runtime.status import PhaseRules, StatusWriter

# The longest one handler run waits for Neon's operations: then it hands back to kopf and resumes from what
# status recorded, so a `kubectl delete` meanwhile is acted on within seconds (kopf runs one handler at a
# time per object). The whole wait is still bounded by NEON_OPERATION_TIMEOUT, by the operations' age.
WAIT_SLICE = 5.0
RESUME_DELAY = 0.1


class Flow(ABC):
    """One run of a kind's flow on one object: what it is, where its status goes, and its shared steps."""

    plural: ClassVar[str]
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

    def _client(
        self, project_id: str, *chain: SecretRef | None
    ) -> contextlib.AbstractAsyncContextManager[AsyncNeonClient]:
        """The client for the first key of `chain`, else the operator's (raises `SecretUnavailable`), once
        the namespace may use `project_id` with it (else `ProjectNotAllowed`)."""
        return self.runtime.credentials.client(self.namespace, project_id, *chain)

    async def _wait(
        self, client: AsyncNeonClient, project_id: str, operations: Sequence[Operation | str]
    ) -> tuple[Operation, ...]:
        """Wait for `operations`, at most WAIT_SLICE in this handler run (then kopf resumes it soon)."""
        timeout = self.runtime.settings.operation_timeout
        try:
            return await client.wait_for_operations(
                project_id, operations, timeout=min(timeout, WAIT_SLICE), pace=self.runtime.pace
            )
        except errors.OperationTimeout as exc:
            oldest = min((op.created_at for op in exc.operations), default=None)
            if timeout <= WAIT_SLICE or oldest is None or (utcnow() - oldest).total_seconds() >= timeout:
                raise
            self.logger.info("Neon operations still running; resuming the wait shortly")
            raise kopf.TemporaryError("Neon operations still running", delay=RESUME_DELAY) from None

    @contextlib.asynccontextmanager
    async def _project_lock(self, project_id: str) -> AsyncIterator[None]:
        async def queued() -> None:
            await self.status.record(
                self.queued_step, "Queued", f"waiting for another flow on Neon project {project_id}"
            )

        async with self.runtime.store.locks.hold(
            project_id, wait=self.runtime.settings.project_lock_wait, on_queued=queued
        ):
            yield
