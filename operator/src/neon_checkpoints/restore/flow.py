"""The CheckpointRestore flows (design.md §4): Finalize, Preview, and the Preview's cleanup on delete.

What makes a restore happen exactly once: it runs under the project's advisory lock; the intent (start
time, target branch id) reaches the meta DB and status BEFORE the POST; a resumed flow first looks in Neon
for the branch an earlier attempt made (plan.find_earlier_restore) and finishes that one instead of asking
again. The production branch is resolved by NAME right before the call, because every finalized restore
gives it a new id (neon-api.md §6.2).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import replace
from typing import Any, NoReturn

import kopf

from neon_api import AsyncNeonClient, errors
from neon_api.models import Branch, Operation
from neon_checkpoints.checkpoint.plan import operation_entries
from neon_checkpoints.checkpoint.spec import CheckpointSpec
from neon_checkpoints.core.errors import InvalidSpec
from neon_checkpoints.core.tenancy import ProjectNotAllowed
from neon_checkpoints.core.times import precise_time, utcnow
from neon_checkpoints.core.verdicts import Verdict, is_stalled
from neon_checkpoints.meta.records import CheckpointRow, RestoreRecord, RestoreRow
from neon_checkpoints.names import (
    API_VERSION,
    CHECKPOINT_RESTORES,
    CHECKPOINTS,
    RESTORE_KIND,
    RESTORE_UID_LABEL,
    preview_branch_name,
)
from neon_checkpoints.restore.code import CONDITION, CodeRollback
from neon_checkpoints.restore.plan import (
    AdoptRestore,
    CheckpointView,
    Fail,
    IssueRestore,
    Proceed,
    RestoreObserved,
    RestorePhase,
    RestoreStep,
    Wait,
    branch_label,
    condition_status,
    duration_seconds,
    kept_old_branch,
    next_phase,
    pick_database,
    pick_production,
    plan_admission,
    plan_adoption,
    plan_preview_secret,
    plan_restore,
)
from neon_checkpoints.restore.spec import RestoreSpec
from neon_checkpoints.runtime.crash import crash_point
from neon_checkpoints.runtime.credentials import checkpoint_key
from neon_checkpoints.runtime.errors import EXPECTED, classify, to_kopf
from neon_checkpoints.runtime.flow import Flow
from neon_checkpoints.runtime.kube import AlreadyExists, SecretUnavailable
from neon_checkpoints.runtime.runtime import Runtime
from neon_checkpoints.runtime.status import PhaseRules
from neon_checkpoints.settle.plan import Intent, neon_time
from neon_checkpoints.settle.run import settle
from neon_checkpoints.workloads.apply import WorkloadProblem

RESTORE_PHASES: PhaseRules[RestorePhase, RestoreStep] = PhaseRules(
    RestorePhase,
    next_phase,
    "Succeeded",
    condition_status,
    failed=RestorePhase.FAILED,
    done=(RestorePhase.SUCCEEDED,),
)

# How often a restore looks again at a Checkpoint that is not Ready yet.
CHECKPOINT_POLL = 1.0


def checkpoint_view(body: dict[str, Any]) -> CheckpointView:
    """The parts of a Checkpoint resource a restore needs (its spec for where, its status for what)."""
    spec = CheckpointSpec.from_dict(body.get("spec") or {})
    status = body.get("status") or {}
    metadata = body.get("metadata") or {}
    return CheckpointView(
        name=metadata.get("name", ""),
        uid=metadata.get("uid", ""),
        phase=status.get("phase"),
        project_id=spec.project_id,
        branch=spec.branch,
        snapshot_id=status.get("snapshotId"),
        checkpoint_id=status.get("checkpointId"),
    )


def _view_of_row(row: CheckpointRow) -> CheckpointView:
    return CheckpointView(
        name=row.name,
        uid=row.uid,
        phase=row.phase,
        project_id=row.project_id,
        branch=row.branch_name or None,
        snapshot_id=row.snapshot_id,
        checkpoint_id=row.id,
    )


class RestoreFlow(Flow):
    plural = CHECKPOINT_RESTORES
    kind = RESTORE_KIND
    phases = RESTORE_PHASES
    queued_step = RestoreStep.QUEUED

    def __init__(
        self, runtime: Runtime, body: kopf.Body, logger: logging.Logger | logging.LoggerAdapter[Any]
    ) -> None:
        super().__init__(runtime, body, logger)
        # The meta row's identity, known once the Checkpoint is: failures after that are recorded in it.
        self._record: RestoreRecord | None = None

    # -- create ---------------------------------------------------------------------------------------

    async def create(self) -> None:
        if self.status.phase in (RestorePhase.SUCCEEDED, RestorePhase.FAILED):
            return  # one-shot: a finished restore is never run again
        spec = await self._spec()
        await self._flag_if_interrupted()
        if self.status.phase is None:
            await self.status.record(
                RestoreStep.RECEIVED, "Received", f"restoring Checkpoint {spec.checkpoint} ({spec.mode})"
            )
        try:
            found = await self.runtime.kube.get(CHECKPOINTS, self.namespace, spec.checkpoint)
            begun = await self._begun()
            if spec.mode == "Preview":
                # Before anything is asked of Neon: a Secret name that is someone else's stops it here.
                await self._may_write_secret(spec)
        except EXPECTED as exc:
            await self._fail_or_retry(classify(exc, subject="the meta database"))
        view = checkpoint_view(found) if found else None
        begun_view = _view_of_row(begun) if begun is not None else None
        match plan_admission(view, ref=spec.checkpoint, namespace=self.namespace, begun=begun_view):
            case Fail(reason=reason, message=message):
                await self._fail_or_retry(Verdict(False, reason, message))
            case Wait(reason=reason, message=message):
                await self._fail_or_retry(
                    Verdict(True, reason, message, CHECKPOINT_POLL), RestoreStep.WAITING
                )
            case Proceed(checkpoint=checkpoint, snapshot_id=snapshot_id):
                pass
        project = checkpoint.project_id
        try:
            self._record = await self._base_record(spec, checkpoint, begun)
            async with (
                self._client(project, spec.credentials, checkpoint_key(found, begun)) as client,
                self._project_lock(project),
            ):
                await self._restore(spec, checkpoint, snapshot_id, client)
        except EXPECTED as exc:
            await self._fail_or_retry(classify(exc, subject=f"Neon project {project}"))

    async def _begun(self) -> CheckpointRow | None:
        """The checkpoint's meta row if this restore's intent was recorded (it may be under way in Neon)."""
        row = await self.runtime.store.get_restore(self.uid)
        if row is None or row.started_at is None or row.checkpoint_id is None:
            return None
        return await self.runtime.store.get_checkpoint_by_id(row.checkpoint_id)

    async def _base_record(
        self, spec: RestoreSpec, checkpoint: CheckpointView, begun: CheckpointRow | None
    ) -> RestoreRecord:
        # The checkpoint's meta row names its branch as the timeline knows it (lineage joins on it); a
        # restore already under way read that row just now.
        row = begun if begun is not None else await self.runtime.store.get_checkpoint(checkpoint.uid)
        return RestoreRecord(
            uid=self.uid,
            namespace=self.namespace,
            name=self.name,
            project_id=checkpoint.project_id,
            branch_name=row.branch_name if row else (checkpoint.branch or ""),
            mode=spec.mode,
            phase=RestorePhase.PENDING.value,
            checkpoint_id=row.id if row else checkpoint.checkpoint_id,
        )

    async def _restore(
        self, spec: RestoreSpec, checkpoint: CheckpointView, snapshot_id: str, client: AsyncNeonClient
    ) -> None:
        assert self._record is not None
        project = checkpoint.project_id
        row = await self.runtime.store.get_restore(self.uid)
        if row is not None and row.phase in (RestorePhase.SUCCEEDED, RestorePhase.FAILED):
            await self._restore_status_from(row)  # finished, but status never said so (crash in between)
            return
        await self._settle(client, project)
        row = await self.runtime.store.get_restore(self.uid)  # settling never touches our own row
        code = self._code(spec)
        if row is not None and row.database_restored_at is not None and row.restored_branch_id:
            # The database part is done (a crash or a retry came after it): never ask Neon again.
            self.logger.info(
                "database already restored (branch %s); finishing the rest", row.restored_branch_id
            )
            assert row.started_at is not None
            await self._finish(
                spec,
                checkpoint,
                client,
                code,
                row.restored_branch_id,
                row.replaced_branch_id,
                row.started_at,
                (),
            )
            return
        intent = (
            Intent(row.started_at, row.target_branch_id)
            if row is not None and row.started_at is not None and row.target_branch_id is not None
            else None
        )
        branches = await client.list_branches(project)
        observed = RestoreObserved(
            production=pick_production(branches, checkpoint.branch),
            restored=tuple(b for b in branches if b.restored_from == snapshot_id),
            intent=intent,
        )
        preview_name = preview_branch_name(self.uid)
        action = plan_restore(
            spec.mode,
            observed,
            snapshot_id=snapshot_id,
            preview_name=preview_name,
            branch_label=branch_label(checkpoint.branch),
        )
        operations: tuple[Operation | str, ...]
        match action:
            case Fail(reason=reason, message=message):
                await self._fail_or_retry(Verdict(False, reason, f"Neon project {project}: {message}"))
            case IssueRestore():
                branch, operations, intent = await self._issue(action, checkpoint, client, code)
            case AdoptRestore(branch=branch):
                self.logger.info("restore already requested by an earlier attempt: branch %s", branch.id)
                adoption = plan_adoption(
                    branch,
                    intent=intent,
                    project_operations=await client.list_operations(project),
                    recorded=row.operation_ids if row else (),
                )
                operations, intent = adoption.operations, adoption.intent
                await self.status.record(
                    RestoreStep.REQUESTED,
                    "RestoreAccepted",
                    f"resuming the restore of snapshot {snapshot_id} into branch {branch.id}",
                    snapshotId=snapshot_id,
                )
        finished = await self._wait_for(
            client, project, operations, [op.action for op in operations if isinstance(op, Operation)]
        )
        await self._complete(spec, checkpoint, client, code, branch, intent, finished)

    def _code(self, spec: RestoreSpec) -> CodeRollback:
        return CodeRollback(
            self.runtime, self.status, self.logger, namespace=self.namespace, restore_uid=self.uid, spec=spec
        )

    async def _issue(
        self, action: IssueRestore, checkpoint: CheckpointView, client: AsyncNeonClient, code: CodeRollback
    ) -> tuple[Branch, tuple[Operation | str, ...], Intent]:
        """Record the intent, then ask Neon; return the new branch and the operations to wait for."""
        assert self._record is not None
        project, snapshot_id = checkpoint.project_id, action.snapshot_id
        row = await self.runtime.store.upsert_restore(
            replace(
                self._record,
                phase=RestorePhase.RESTORING.value,
                target_branch_id=action.target_branch_id,
                started_at=utcnow(),
            )
        )
        started = row.started_at or utcnow()
        verb = "finalized restore" if action.finalize else "preview"
        await self.status.record(
            RestoreStep.REQUESTED,
            "Restoring",
            f"requesting a {verb} of snapshot {snapshot_id} onto branch {action.target_branch_id}",
            snapshotId=snapshot_id,
            targetBranchId=action.target_branch_id,
            checkpointId=self._record.checkpoint_id,
            startedAt=precise_time(started),
        )
        if action.finalize:
            # Intent first, then what the workloads are now (for an undo), then the quiesce.
            await code.prepare(await code.checkpoint_targets(checkpoint.uid))
            crash_point(self.runtime.settings.crash_after, "workloads-prepared")
        try:
            result = await client.restore_snapshot(
                project,
                action.snapshot_id,
                target_branch_id=action.target_branch_id,
                finalize=action.finalize,
                name=action.name,
            )
        except errors.NotFound as exc:
            # Deleted out of band (or the project is gone): say what Neon said.
            await self._fail_or_retry(
                Verdict(
                    False,
                    "SnapshotNotFound",
                    f"Neon could not restore snapshot {snapshot_id} of Checkpoint {checkpoint.name}: "
                    f"{exc.message} (404)",
                )
            )
        crash_point(self.runtime.settings.crash_after, "restore-accepted")
        self.logger.info("restore of snapshot %s accepted: new branch %s", snapshot_id, result.branch.id)
        await self._record_accepted(
            result.operations,
            f"restore accepted by Neon (branch {result.branch.id}); waiting for its operations",
        )
        return result.branch, result.operations, Intent(started, action.target_branch_id)

    async def _record_accepted(self, operations: tuple[Operation, ...], message: str) -> None:
        """Neon accepted the request: its operations go to the meta row and status, so a resumed run waits
        for them instead of asking again."""
        assert self._record is not None
        await self.runtime.store.upsert_restore(
            replace(
                self._record,
                phase=RestorePhase.RESTORING.value,
                operation_ids=tuple(op.id for op in operations),
            )
        )
        await self.status.record(
            RestoreStep.REQUESTED, "RestoreAccepted", message, operations=operation_entries(operations)
        )

    async def _complete(
        self,
        spec: RestoreSpec,
        checkpoint: CheckpointView,
        client: AsyncNeonClient,
        code: CodeRollback,
        branch: Branch,
        intent: Intent,
        finished: tuple[Operation, ...],
    ) -> None:
        project = checkpoint.project_id
        restored = await client.get_branch(project, branch.id)
        replaced: str | None = None
        if spec.mode == "Finalize":
            replaced = restored.restored_as or intent.target_branch_id
            at = neon_time(finished, restored, utcnow())
            await self.runtime.store.mark_database_restored(self.uid, restored.id, replaced, at)
            crash_point(self.runtime.settings.crash_after, "database-restored")
        await self._finish(
            spec, checkpoint, client, code, restored.id, replaced, intent.started_at, finished, restored
        )

    async def _finish(
        self,
        spec: RestoreSpec,
        checkpoint: CheckpointView,
        client: AsyncNeonClient,
        code: CodeRollback,
        restored_id: str,
        replaced: str | None,
        started_at: dt.datetime,
        finished: tuple[Operation, ...],
        restored: Branch | None = None,
    ) -> None:
        """After the database restore: the workloads, the `(old)` branch policy or the Preview's Secret,
        then Succeeded."""
        assert self._record is not None
        project = checkpoint.project_id
        fields: dict[str, Any] = {"restoredBranchId": restored_id}
        superseded = await self._superseded() if spec.mode == "Finalize" else None
        if superseded is not None:
            # Resumed after a crash, finished after another restore that Neon ran after it: production is
            # that one's, so this one says what it was, and leaves the workloads to it.
            later, took_effect = superseded
            fields["replacedBranchId"] = replaced
            message = (
                f"branch {checkpoint.branch or 'default'} was Checkpoint {checkpoint.name} (branch "
                f"{restored_id}; replaced {replaced}) until CheckpointRestore {later.name}, which Neon ran "
                "after it; the workloads are as that restore left them"
            )
            if spec.old_branch_policy == "Delete" and replaced:
                message += await self._delete_old_branch(client, project, replaced)
            await self._succeed(
                restored_id, replaced, started_at, finished, message, fields, completed=took_effect
            )
            return
        if spec.mode == "Finalize":
            fields["replacedBranchId"] = replaced
            message = (
                f"branch {checkpoint.branch or 'default'} is now Checkpoint {checkpoint.name} "
                f"(branch {restored_id}; replaced {replaced})"
            )
            suffix, code_fields = await self._finish_code(code)
            message += suffix
            fields.update(code_fields)
            if spec.old_branch_policy == "Delete" and replaced:
                message += await self._delete_old_branch(client, project, replaced)
        else:
            restored = restored or await client.get_branch(project, restored_id)
            secret = await self._write_preview_secret(client, project, restored, spec)
            fields["previewSecretName"] = secret
            message = (
                f"preview of Checkpoint {checkpoint.name} on branch {restored.id}; URI in Secret {secret}"
            )
            try:
                suffix, code_fields = await code.preview_copies(
                    checkpoint.uid, checkpoint.name, self.name, secret, self._owner()
                )
            except WorkloadProblem as exc:
                await self._fail_or_retry(
                    Verdict(False, exc.reason, f"the preview branch is ready, but {exc}")
                )
            message += suffix
            fields.update(code_fields)
        await self._succeed(restored_id, replaced, started_at, finished, message, fields)

    async def _superseded(self) -> tuple[RestoreRow, dt.datetime] | None:
        """The restore (or undo) that Neon ran after this one on the same branch, and when this one took
        effect; None when this one is production's latest."""
        later = await self.runtime.store.superseded_by(self.uid)
        if later is None:
            return None
        own = await self.runtime.store.get_restore(self.uid)
        assert own is not None and own.database_restored_at is not None  # superseded_by requires both
        return later, own.database_restored_at

    async def _settle(self, client: AsyncNeonClient, project: str) -> None:
        """What interrupted flows left on the project, from Neon's record, before this one mutates it."""
        await settle(
            self.runtime.store, client, project, own_uid=self.uid, wait=self._wait_for, logger=self.logger
        )

    async def _finish_code(self, code: CodeRollback) -> tuple[str, dict[str, Any]]:
        try:
            return await code.finish()
        except WorkloadProblem as exc:
            self.status.note_condition(CONDITION, "False", exc.reason, str(exc))
            await self._fail_or_retry(Verdict(False, exc.reason, f"the database was restored, but {exc}"))

    async def _succeed(
        self,
        restored_id: str,
        replaced: str | None,
        started_at: dt.datetime,
        finished: tuple[Operation, ...],
        message: str,
        fields: dict[str, Any],
        *,
        completed: dt.datetime | None = None,
    ) -> None:
        """Succeeded, completed now (or at `completed`: a superseded restore ended when the next began)."""
        assert self._record is not None
        completed = completed or utcnow()
        self.runtime.metrics.restore_seconds.labels(self._record.mode).observe(
            max(0.0, (completed - started_at).total_seconds())
        )
        await self.runtime.store.upsert_restore(
            replace(
                self._record,
                phase=RestorePhase.SUCCEEDED.value,
                restored_branch_id=restored_id,
                replaced_branch_id=replaced,
                operation_ids=tuple(op.id for op in finished),
                completed_at=completed,
            )
        )
        if finished:
            fields["operations"] = operation_entries(finished)
        await self.status.record(
            RestoreStep.SUCCEEDED,
            "Restored",
            message,
            **fields,
            completedAt=precise_time(completed),
            durationSeconds=duration_seconds(started_at, completed),
        )

    async def _delete_old_branch(self, client: AsyncNeonClient, project: str, branch_id: str) -> str:
        """oldBranchPolicy Delete. The restore itself has succeeded, so a refusal (e.g. the branch has
        children) keeps the branch and says so; retryable errors propagate and the resumed flow retries."""
        try:
            operations = await client.delete_branch(project, branch_id, hard_delete=True)
        except errors.NeonClientError as exc:
            kept = kept_old_branch(exc.status, exc.message)
            if kept is None:
                raise
            self.logger.warning("could not delete the replaced branch %s: %s", branch_id, exc.message)
            return kept
        await self._wait_for(client, project, operations)
        self.logger.info("replaced branch %s deleted (oldBranchPolicy Delete)", branch_id)
        return "; the replaced branch was deleted"

    async def _write_preview_secret(
        self, client: AsyncNeonClient, project: str, branch: Branch, spec: RestoreSpec
    ) -> str:
        database = pick_database(await client.list_databases(project, branch.id))
        if database is None:
            await self._fail_or_retry(
                Verdict(False, "NoDatabase", f"preview branch {branch.id} has no database to connect to")
            )
        uri = await client.connection_uri(
            project, database_name=database.name, role_name=database.owner_name, branch_id=branch.id
        )
        name = spec.secret_name(self.name)
        owner = self._owner()
        data = {"uri": uri, "branchId": branch.id, "database": database.name, "role": database.owner_name}
        replace = await self._may_write_secret(spec)
        try:
            await self.runtime.kube.write_secret(
                self.namespace,
                name,
                data,
                owner=owner,
                labels={RESTORE_UID_LABEL: self.uid},
                replace=replace,
            )
        except AlreadyExists:
            # Made by someone else since we looked: look again on the retry (never overwrite it).
            await self._fail_or_retry(
                Verdict(True, "SecretNameTaken", f"Secret {name} appeared meanwhile; looking again", 1.0)
            )
        return name

    def _owner(self) -> dict[str, Any]:
        """The ownerReference of what a Preview makes (its Secret, its workload copies)."""
        return {
            "apiVersion": API_VERSION,
            "kind": RESTORE_KIND,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
        }

    async def _may_write_secret(self, spec: RestoreSpec) -> bool:
        """Whether the Preview's Secret is to be replaced (True) or created (False); fails the restore
        when its name is another's Secret."""
        name = spec.secret_name(self.name)
        owners = await self.runtime.kube.secret_owners(self.namespace, name)
        decision = plan_preview_secret(owners, restore_uid=self.uid, name=f"{self.namespace}/{name}")
        if isinstance(decision, Fail):
            await self._fail_or_retry(Verdict(False, decision.reason, decision.message))
        return decision

    async def _restore_status_from(self, row: RestoreRow) -> None:
        if row.phase == RestorePhase.FAILED:
            await self.status.record(RestoreStep.FAILED, "Failed", row.error or "restore failed")
            return
        fields: dict[str, Any] = {"restoredBranchId": row.restored_branch_id}
        if row.replaced_branch_id:
            fields["replacedBranchId"] = row.replaced_branch_id
        if row.started_at and row.completed_at:
            fields["durationSeconds"] = duration_seconds(row.started_at, row.completed_at)
            fields["completedAt"] = precise_time(row.completed_at)
        await self.status.record(RestoreStep.SUCCEEDED, "Restored", "restore completed", **fields)

    # -- delete (Preview: the branch and the Secret go with the resource) -----------------------------

    async def delete(self) -> None:
        try:
            spec = RestoreSpec.from_dict(self.body.spec)
        except InvalidSpec:
            return
        if spec.mode != "Preview":
            return
        try:
            row = await self.runtime.store.get_restore(self.uid)
            if row is not None:  # no row: no intent, so no restore request was ever sent
                await self._delete_preview(spec, row)
            copies = await self._code(spec).delete_copies()
            if copies:
                self.logger.info("deleted %d workload copies of the preview", copies)
            # Only its own: a Secret of that name that another made is not this restore's to delete.
            await self.runtime.kube.delete_owned_secret(
                self.namespace, spec.secret_name(self.name), owner_uid=self.uid
            )
        except EXPECTED as exc:
            verdict = classify(exc, subject="the preview's cleanup")
            self.logger.warning("deleting the preview failed, retrying: %s", verdict.message)
            raise to_kopf(verdict) from None

    async def _delete_preview(self, spec: RestoreSpec, row: RestoreRow) -> None:
        """The preview branch goes; when Neon cannot be asked at all (no readable key, a project the
        namespace may not use, a refusal), the restore goes anyway and a Warning Event names the branch."""
        try:
            key = await self.runtime.credentials.checkpoint_ref(
                self.namespace, spec.checkpoint, row.checkpoint_id
            )
            async with (
                self._client(row.project_id, spec.credentials, key) as client,
                self._project_lock(row.project_id),
            ):
                await self._delete_preview_branch(client, row.project_id)
        except (ProjectNotAllowed, SecretUnavailable, errors.NeonClientError) as exc:
            verdict = classify(exc, subject=f"Neon project {row.project_id}")
            if verdict.retry and not isinstance(exc, SecretUnavailable):
                raise
            message = (
                f"the restore goes, but its preview branch {preview_branch_name(self.uid)} in Neon project "
                f"{row.project_id} may remain (delete it there): {verdict.message}"
            )
            self.logger.warning("%s", message)
            self.runtime.kube.event(self.body, type="Warning", reason="BranchLeftBehind", message=message)

    async def _delete_preview_branch(self, client: AsyncNeonClient, project: str) -> None:
        try:
            branch = await client.find_branch(project, preview_branch_name(self.uid))
        except errors.NotFound:
            return  # the whole project is gone, and the branch with it
        if branch is None:
            return
        operations = await client.delete_branch(project, branch.id, hard_delete=True)
        await self._wait_for(client, project, operations)
        self.logger.info("preview branch %s deleted", branch.id)

    # -- shared ---------------------------------------------------------------------------------------

    async def _spec(self) -> RestoreSpec:
        try:
            return RestoreSpec.from_dict(self.body.spec)
        except InvalidSpec as exc:
            await self._fail_or_retry(Verdict(False, "InvalidSpec", str(exc)))

    async def _fail_or_retry(self, verdict: Verdict, step: RestoreStep = RestoreStep.RETRYING) -> NoReturn:
        """Record the verdict in status (+ Event) and the meta row, and hand it to kopf. Always raises."""
        self._count_failure(verdict)
        if verdict.retry:
            self.logger.warning("will retry in %.1fs: %s", verdict.delay, verdict.message)
            if verdict.reason == "Queued":
                step = RestoreStep.QUEUED
            await self.status.record(step, verdict.reason, verdict.message, blocked=is_stalled(verdict))
        else:
            self.logger.error("restore failed: %s", verdict.message)
            if self._record is not None:
                # Only the failure: ids of a half-done restore are not written as if they were results.
                await self.runtime.store.upsert_restore(
                    replace(self._record, phase=RestorePhase.FAILED.value, error=verdict.message)
                )
            await self.status.record(RestoreStep.FAILED, verdict.reason, verdict.message)
        raise to_kopf(verdict)
