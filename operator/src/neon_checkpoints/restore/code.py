"""The code part of a finalized restore (design.md §8): record what is replaced and, with `spec.quiesce`,
scale to zero before the database restore; apply the recorded versions after it and wait for the
controller-manager. The flow (flow.py, undo.py) decides when; the calls are in workloads/apply.py."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, cast

from neon_checkpoints.restore.plan import RestoreStep
from neon_checkpoints.restore.spec import RestoreSpec
from neon_checkpoints.runtime.runtime import Runtime
from neon_checkpoints.runtime.status import StatusWriter
from neon_checkpoints.workloads.apply import Roller, captured_of
from neon_checkpoints.workloads.capture import Captured
from neon_checkpoints.workloads.plan import Progress, copy_body, plan_copies, summary
from neon_checkpoints.workloads.spec import DatabaseUrl, Kind

CONDITION = "WorkloadsRestored"
# How long the controller-manager may take to observe a new generation (or to scale to zero).
OBSERVE_TIMEOUT = 120.0
# How long the rollback may take before status says the database is restored and workloads are being applied.
SAY_APPLYING_AFTER = 1.0


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

    async def preview_copies(
        self,
        checkpoint_uid: str,
        checkpoint_name: str,
        restore_name: str,
        secret_name: str,
        owner: dict[str, Any],
    ) -> tuple[str, dict[str, Any]]:
        """A Preview: copies of the checkpoint's workloads next to the originals, reading the preview's
        database; none (and the condition says why) when no workload names its database URL."""
        if self.spec.workloads == "Ignore":
            return "", {}
        rows = await self.runtime.store.workloads.of_checkpoint(checkpoint_uid)
        if not rows:
            return "", {}
        recorded = [
            (cast(Kind, r.revision.kind), r.revision.name, r.database_url_env, r.revision.content)
            for r in rows
        ]
        plan = plan_copies(recorded, restore_name, checkpoint_name)
        if plan.reason is not None:
            self.status.note_condition(CONDITION, "False", "NoDatabaseUrl", plan.reason)
            return f"; {plan.reason}", {}
        configmaps = {name: new for (kind, name), new in plan.names.items() if kind == "ConfigMap"}
        made = []
        for row in rows:
            rev = row.revision
            new_name = plan.names.get((rev.kind, rev.name))
            if new_name is None:
                continue
            body = copy_body(
                cast(Kind, rev.kind),
                rev.name,
                rev.content,
                namespace=self.roller.namespace,
                new_name=new_name,
                restore_uid=self.roller.restore_uid,
                owner=owner,
                database_url=DatabaseUrl.from_stored(row.database_url_env),
                secret_name=secret_name,
                configmaps=configmaps,
            )
            await self.roller.copy(rev.kind, new_name, body)
            made.append(
                {
                    "kind": rev.kind,
                    "name": rev.name,
                    "revision": rev.digest[:12],
                    "copy": new_name,
                    "state": "Copied",
                }
            )
        names = ", ".join(f"{m['kind']}/{m['copy']}" for m in made)
        if plan.skipped:
            names += f" (not copied: {'; '.join(plan.skipped)})"
        self.status.note_condition(CONDITION, "True", "Copied", f"preview copies: {names}")
        return f"; workload copies: {names}", {"workloads": made}

    async def delete_copies(self) -> int:
        return await self.roller.delete_copies()

    async def finish(self) -> tuple[str, dict[str, Any]]:
        """After the database restore: apply what is left to apply and wait for the controller-manager.
        Returns a message suffix and the status fields. Status says "applying" only when that takes longer
        than SAY_APPLYING_AFTER (usually it is done in tens of ms, and the next status write says so)."""
        progress = await self.roller.progress()
        if not progress:
            return "", {}
        rolling = asyncio.ensure_future(
            self.roller.roll_back(
                progress,
                ready_timeout=self.spec.ready_timeout,
                limit=self.spec.ready_timeout or OBSERVE_TIMEOUT,
            )
        )
        try:
            done = await asyncio.wait_for(asyncio.shield(rolling), SAY_APPLYING_AFTER)
        except TimeoutError:
            await self.status.record(
                RestoreStep.REQUESTED,
                "DatabaseRestored",
                "the database is restored; applying the recorded workloads",
                workloads=summary(progress, "Pending"),
            )
            done = await rolling
        finally:
            if not rolling.done():
                rolling.cancel()
                await asyncio.gather(rolling, return_exceptions=True)
        names = ", ".join(f"{p}@{p.revision}" for p in done)
        waited = "ready" if self.spec.ready_timeout is not None else "observed by the controller"
        self.status.note_condition(CONDITION, "True", "Applied", f"rolled back and {waited}: {names}")
        return f"; workloads rolled back: {names}", {"workloads": summary(done, "Applied")}
