"""The undo flow (`spec.undo.restoreRef`): production back to the state just before a finalized restore.

Under the project lock, like every mutating flow. The intent reaches the meta DB and status before anything
changes; what the workloads are now is recorded (so an undo can itself be undone), the workloads are
quiesced if asked, then Neon restores production from the replaced branch, keeping production's state
under a name derived from this resource's uid: a resumed flow that finds that branch never asks again.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from neon_api import AsyncNeonClient
from neon_api.models import Operation
from neon_checkpoints.core.secrets import SecretRef, secret_ref
from neon_checkpoints.core.times import precise_time, utcnow
from neon_checkpoints.core.verdicts import Verdict
from neon_checkpoints.meta.records import RestoreRecord, RestoreRow
from neon_checkpoints.names import CHECKPOINT_RESTORES, undo_preserve_name
from neon_checkpoints.restore.code import CodeRollback
from neon_checkpoints.restore.flow import CHECKPOINT_POLL, RestoreFlow
from neon_checkpoints.restore.plan import Fail, RestorePhase, RestoreStep, Wait, pick_production
from neon_checkpoints.restore.spec import RestoreSpec
from neon_checkpoints.restore.undo_plan import (
    AdoptBranchRestore,
    IssueBranchRestore,
    ProceedUndo,
    UndoneView,
    plan_undo_admission,
    plan_undo_restore,
)
from neon_checkpoints.runtime.crash import crash_point
from neon_checkpoints.runtime.errors import EXPECTED, classify
from neon_checkpoints.settle.plan import neon_time


def _view(row: RestoreRow) -> UndoneView:
    return UndoneView(
        uid=row.uid,
        name=row.name,
        mode=row.mode,
        phase=row.phase,
        project_id=row.project_id,
        branch_name=row.branch_name,
        replaced_branch_id=row.replaced_branch_id,
    )


class UndoFlow(RestoreFlow):
    async def create(self) -> None:
        if self.status.phase in (RestorePhase.SUCCEEDED, RestorePhase.FAILED):
            return
        spec = await self._spec()
        assert spec.undo_of is not None
        if self.status.phase is None:
            await self.status.record(
                RestoreStep.RECEIVED, "Received", f"undoing CheckpointRestore {spec.undo_of}"
            )
        try:
            resource, undone = await self._undone(spec.undo_of)
        except EXPECTED as exc:
            await self._fail_or_retry(classify(exc, subject="the meta database"))
        view = _view(undone) if undone is not None else None
        match plan_undo_admission(view, ref=spec.undo_of, namespace=self.namespace):
            case Fail(reason=reason, message=message):
                await self._fail_or_retry(Verdict(False, reason, message))
            case Wait(reason=reason, message=message):
                await self._fail_or_retry(
                    Verdict(True, reason, message, CHECKPOINT_POLL), RestoreStep.WAITING
                )
            case ProceedUndo(undone=target, old_branch_id=old_branch_id):
                pass
        project = target.project_id
        self._record = RestoreRecord(
            uid=self.uid,
            namespace=self.namespace,
            name=self.name,
            project_id=project,
            branch_name=target.branch_name,
            mode="Undo",
            phase=RestorePhase.PENDING.value,
            undo_of=target.uid,
        )
        try:
            key = await self._key(resource, undone)
            async with self._client(project, spec.credentials, key) as client, self._project_lock(project):
                await self._undo(spec, target, old_branch_id, client)
        except EXPECTED as exc:
            await self._fail_or_retry(classify(exc, subject=f"Neon project {project}"))

    async def _undone(self, name: str) -> tuple[dict[str, Any] | None, RestoreRow | None]:
        """The restore to undo: by its resource's uid while it exists, else the newest of that name."""
        resource = await self.runtime.kube.get(CHECKPOINT_RESTORES, self.namespace, name)
        if resource is not None:
            uid = (resource.get("metadata") or {}).get("uid", "")
            return resource, await self.runtime.store.get_restore(uid)
        return None, await self.runtime.store.find_restore(self.namespace, name)

    async def _key(self, resource: dict[str, Any] | None, undone: RestoreRow | None) -> SecretRef | None:
        """The undone restore's own key, else that of the Checkpoint it restored."""
        if resource is not None and (ref := secret_ref(resource.get("spec") or {})) is not None:
            return ref
        if undone is None or undone.checkpoint_id is None:
            return None
        row = await self.runtime.store.get_checkpoint_by_id(undone.checkpoint_id)
        if row is None:
            return None
        return await self.runtime.credentials.checkpoint_ref(self.namespace, row.name, row.id)

    async def _undo(
        self, spec: RestoreSpec, undone: UndoneView, old_branch_id: str, client: AsyncNeonClient
    ) -> None:
        assert self._record is not None
        project = undone.project_id
        row = await self.runtime.store.get_restore(self.uid)
        if row is not None and row.phase in (RestorePhase.SUCCEEDED, RestorePhase.FAILED):
            await self._restore_status_from(row)
            return
        await self._settle(client, project)
        row = await self.runtime.store.get_restore(self.uid)
        code = self._code(spec)
        if row is not None and row.database_restored_at is not None and row.restored_branch_id:
            assert row.started_at is not None
            await self._done(code, undone, row.restored_branch_id, row.replaced_branch_id, row.started_at, ())
            return
        branches = await client.list_branches(project)
        action = plan_undo_restore(
            branches,
            production=pick_production(branches, undone.branch_name or None),
            old_branch_id=old_branch_id,
            preserve_name=undo_preserve_name(self.uid),
            recorded_target=row.target_branch_id if row is not None and row.started_at else None,
            undone_name=undone.name,
        )
        operations: tuple[Operation | str, ...]
        match action:
            case Fail(reason=reason, message=message):
                await self._fail_or_retry(Verdict(False, reason, f"Neon project {project}: {message}"))
            case IssueBranchRestore():
                operations = await self._issue_undo(action, undone, client, code)
                target, preserved_name = action.target_branch_id, action.preserve_under_name
            case AdoptBranchRestore(target_branch_id=target, preserved=preserved):
                self.logger.info(
                    "undo already requested by an earlier attempt (branch %s kept)", preserved.id
                )
                listed = await client.list_operations(project)
                recorded = row.operation_ids if row is not None else []
                pending = [op for op in listed if op.in_progress]
                operations = (*pending, *(i for i in recorded if i not in {op.id for op in pending}))
                preserved_name = preserved.name
        finished = await self._wait_for(client, project, operations)
        kept = await client.find_branch(project, preserved_name)
        kept_id = kept.id if kept is not None else None
        at = neon_time(finished, kept, utcnow())
        await self.runtime.store.mark_database_restored(self.uid, target, kept_id, at)
        crash_point(self.runtime.settings.crash_after, "database-restored")
        started = row.started_at if row is not None and row.started_at else None
        stored = await self.runtime.store.get_restore(self.uid)
        await self._done(
            code,
            undone,
            target,
            kept_id,
            (stored.started_at if stored else None) or started or utcnow(),
            finished,
        )

    async def _issue_undo(
        self, action: IssueBranchRestore, undone: UndoneView, client: AsyncNeonClient, code: CodeRollback
    ) -> tuple[Operation, ...]:
        assert self._record is not None
        row = await self.runtime.store.upsert_restore(
            replace(
                self._record,
                phase=RestorePhase.RESTORING.value,
                target_branch_id=action.target_branch_id,
                started_at=utcnow(),
            )
        )
        await self.status.record(
            RestoreStep.REQUESTED,
            "Restoring",
            f"restoring branch {action.target_branch_id} from {action.source_branch_id}, the branch "
            f"CheckpointRestore {undone.name} replaced",
            targetBranchId=action.target_branch_id,
            undoOf=undone.name,
            startedAt=precise_time(row.started_at or utcnow()),
        )
        await code.prepare(await code.undo_targets(undone.uid))
        result = await client.restore_branch(
            undone.project_id,
            action.target_branch_id,
            source_branch_id=action.source_branch_id,
            preserve_under_name=action.preserve_under_name,
        )
        crash_point(self.runtime.settings.crash_after, "restore-accepted")
        await self._record_accepted(
            result.operations,
            f"branch restore accepted by Neon; production's state is kept as {action.preserve_under_name}",
        )
        return result.operations

    async def _done(
        self,
        code: CodeRollback,
        undone: UndoneView,
        target: str,
        kept: str | None,
        started_at: Any,
        finished: tuple[Operation, ...],
    ) -> None:
        fields: dict[str, Any] = {"restoredBranchId": target, "replacedBranchId": kept, "undoOf": undone.name}
        superseded = await self._superseded()
        if superseded is not None:
            later, took_effect = superseded
            message = (
                f"production (branch {target}) was back to its state before CheckpointRestore {undone.name} "
                f"(the state it had is kept as branch {kept}) until CheckpointRestore {later.name}, which "
                "Neon ran after it; the workloads are as that restore left them"
            )
            await self._succeed(target, kept, started_at, finished, message, fields, completed=took_effect)
            return
        message = (
            f"production (branch {target}) is back to its state before CheckpointRestore {undone.name}; "
            f"the state it had is kept as branch {kept}"
        )
        suffix, code_fields = await self._finish_code(code)
        await self._succeed(target, kept, started_at, finished, message + suffix, {**fields, **code_fields})
