"""What every flow shares: the Neon client for a resource's credentials, and the per-project lock that
serializes mutating flows on one Neon project (its waiting shows as phase Queued)."""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from enum import StrEnum
from typing import Any, ClassVar, NoReturn

from neon_api import AsyncNeonClient
from neon_checkpoints.checkpoint_spec import SecretRef
from neon_checkpoints.error_mapping import Verdict
from neon_checkpoints.kube import SecretUnavailable
from neon_checkpoints.runtime import Runtime
from neon_checkpoints.status_writer import StatusWriter


class Flow(ABC):
    runtime: Runtime
    namespace: str
    status: StatusWriter[Any, Any]
    queued_step: ClassVar[StrEnum]  # the step recorded while waiting for the project lock

    @abstractmethod
    async def _fail_or_retry(self, verdict: Verdict) -> NoReturn:
        """Record the verdict in status (+ Event) and hand it to kopf. Always raises."""

    @contextlib.asynccontextmanager
    async def _client(self, credentials: SecretRef | None) -> AsyncIterator[AsyncNeonClient]:
        """The operator's client, or one with the per-resource key from `credentialsSecretRef`."""
        if credentials is None:
            yield self.runtime.neon
            return
        try:
            api_key = await self.runtime.kube.read_secret_value(
                self.namespace, credentials.name, credentials.key
            )
        except SecretUnavailable as exc:
            # The Secret may simply not be applied yet: wait for it rather than fail for good.
            await self._fail_or_retry(Verdict(True, exc.reason, str(exc), delay=5.0))
        async with Runtime.neon_client(self.runtime.settings, api_key) as client:
            yield client

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
