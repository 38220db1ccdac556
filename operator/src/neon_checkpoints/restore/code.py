"""The code part of a finalized restore (design.md §8): record what is replaced and, with `spec.quiesce`,
scale to zero before the database restore; apply the recorded versions after it and wait for the
controller-manager. The flow (flow.py, undo.py) decides when; the calls are in workloads/apply.py."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, cast

from neon_checkpoints.restore.spec import RestoreSpec
from neon_checkpoints.runtime.runtime import Runtime
from neon_checkpoints.runtime.status import StatusWriter
from neon_checkpoints.workloads.apply import Roller, captured_of
from neon_checkpoints.workloads.capture import Captured
from neon_checkpoints.workloads.plan import Progress, summary
from neon_checkpoints.workloads.spec import Kind

CONDITION = "WorkloadsRestored"
# How long the controller-manager may take to observe a new generation (or to scale to zero).
OBSERVE_TIMEOUT = 120.0


class CodeRollback:
    def __init__(
        self,
        runtime: Runtime,
        status: StatusWriter[Any, Any],
        logger: logging.Logger | logging.LoggerAdapter[Any],
        *,
        namespace: str,
        restore_uid: str,
        spec: RestoreSpec,
    ) -> None:
        self.runtime = runtime
        self.status = status
        self.logger = logger
        self.spec = spec
        self.roller = Roller(
            runtime.kube, runtime.store.workloads, namespace, restore_uid, runtime.settings.crash_after
        )

    async def checkpoint_targets(self, checkpoint_uid: str) -> list[Captured]:
        """What a restore of that checkpoint rolls back (nothing with `spec.workloads: Ignore`)."""
        if self.spec.workloads == "Ignore":
            return []
        return [captured_of(row) for row in await self.runtime.store.workloads.of_checkpoint(checkpoint_uid)]

    async def undo_targets(self, undone_uid: str) -> list[Captured]:
        """What an undo rolls back: the versions the undone restore overwrote (a workload it created is
        left as it is)."""
        if self.spec.workloads == "Ignore":
            return []
        store = self.runtime.store.workloads
        targets = []
        for row in await store.progress(undone_uid):
            if row.replaced_digest is None:
                continue
            content = await store.content(row.replaced_digest)
            if content is not None:
                targets.append(Captured(cast(Kind, row.kind), row.name, content, row.replaced_digest))
        return targets

    async def prepare(self, targets: Sequence[Captured]) -> list[Progress]:
        """Before the database restore: record targets and what they replace, then quiesce if asked."""
        if not targets:
            return []
        progress = await self.roller.plan(targets)
        names = ", ".join(str(p) for p in progress)
        self.status.note_condition(
            CONDITION, "False", "Pending", f"to roll back after the database restore: {names}"
        )
        if self.spec.quiesce:
            scaled = await self.roller.quiesce(progress, self.spec.ready_timeout or OBSERVE_TIMEOUT)
            if scaled:
                self.logger.info("scaled %s to zero before the database restore", ", ".join(scaled))
                self.status.note_condition(
                    CONDITION,
                    "False",
                    "Quiesced",
                    f"scaled to zero before the database restore: {', '.join(scaled)}",
                )
        return progress

    async def finish(self) -> tuple[str, dict[str, Any]]:
        """After the database restore: apply what is left to apply and wait for the controller-manager.
        Returns a message suffix and the status fields."""
        progress = await self.roller.progress()
        if not progress:
            return "", {}
        await self.roller.apply(progress)
        progress = await self.roller.progress()
        await self.roller.wait(
            progress,
            ready_timeout=self.spec.ready_timeout,
            limit=self.spec.ready_timeout or OBSERVE_TIMEOUT,
        )
        names = ", ".join(f"{p}@{p.revision}" for p in progress)
        waited = "ready" if self.spec.ready_timeout is not None else "observed by the controller"
        self.status.note_condition(CONDITION, "True", "Applied", f"rolled back and {waited}: {names}")
        return f"; workloads rolled back: {names}", {"workloads": summary(progress, "Applied")}
