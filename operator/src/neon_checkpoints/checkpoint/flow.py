"""The Checkpoint create and delete flows (design.md §4): observe Neon, plan, execute, record.

The order is what makes a create idempotent across crashes: the snapshot name comes from the resource's
uid and is looked up before any POST; the snapshot id and operation ids reach status before the wait;
the meta row is an upsert keyed by uid.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, NoReturn

from neon_api import AsyncNeonClient, errors
from neon_api.models import Branch, Mutation, Operation, Snapshot
from neon_checkpoints import names
from neon_checkpoints.checkpoint.plan import (
    AdoptSnapshot,
    ChangeExpiry,
    Fail,
    Observed,
    Phase,
    Step,
    TakeSnapshot,
    adopted_snapshot_operations,
    needs_snapshot_listing,
    next_phase,
    operation_entries,
    pick_default_branch,
    plan_create,
    plan_expiry_change,
    ready_condition_status,
    snapshot_may_exist,
)
from neon_checkpoints.checkpoint.spec import CheckpointSpec
from neon_checkpoints.core.errors import InvalidSpec
from neon_checkpoints.core.tenancy import ProjectNotAllowed
from neon_checkpoints.core.times import parse_time_or_none, rfc3339, utcnow
from neon_checkpoints.core.verdicts import Verdict, is_stalled
from neon_checkpoints.meta.records import CheckpointRecord
from neon_checkpoints.meta.workloads import Revision
from neon_checkpoints.names import CHECKPOINTS
from neon_checkpoints.runtime.crash import crash_point
from neon_checkpoints.runtime.errors import EXPECTED, classify, to_kopf
from neon_checkpoints.runtime.flow import Flow
from neon_checkpoints.runtime.kube import SecretUnavailable
from neon_checkpoints.runtime.status import PhaseRules
from neon_checkpoints.settle.run import settle
from neon_checkpoints.timeline.cost import Sizes, size_status
from neon_checkpoints.workloads.apply import WorkloadProblem, read_workloads, revision_of
from neon_checkpoints.workloads.capture import REVISION_LENGTH

CHECKPOINT_PHASES: PhaseRules[Phase, Step] = PhaseRules(
    Phase, next_phase, "Ready", ready_condition_status, failed=Phase.FAILED, done=(Phase.READY,)
)


def _summary(revision: Revision) -> dict[str, str]:
    return {"kind": revision.kind, "name": revision.name, "revision": revision.digest[:REVISION_LENGTH]}


def _time(moment: dt.datetime | None) -> str | None:
    return rfc3339(moment) if moment is not None else None


class CheckpointFlow(Flow):
    plural = CHECKPOINTS
    kind = names.CHECKPOINT_KIND
    phases = CHECKPOINT_PHASES
    queued_step = Step.QUEUED

    # -- create ---------------------------------------------------------------------------------------

    async def create(self) -> None:
        spec = await self._spec()
        project = spec.project_id
        await self._flag_if_interrupted()
        # Read before this run writes anything: whether an earlier run may have sent the POST.
        may_exist = snapshot_may_exist(self.status.status)
        if self.status.phase is None:
            await self.status.record(
                Step.RECEIVED, "Received", f"snapshotting Neon project {project}", createPending=True
            )
        try:
            async with self._client(project, spec.credentials) as client, self._project_lock(project):
                await self._create(spec, client, may_exist=may_exist)
        except EXPECTED as exc:
            await self._fail_or_retry(classify(exc, subject=f"Neon project {project}"))

    async def _create(self, spec: CheckpointSpec, client: AsyncNeonClient, *, may_exist: bool) -> None:
        project = spec.project_id
        # What an interrupted flow left on the project is settled first, so this snapshot's parent and
        # the branch it is taken from are what Neon's record says.
        await settle(
            self.runtime.store, client, project, own_uid=self.uid, wait=self._wait_for, logger=self.logger
        )
        name = names.snapshot_name(self.uid)
        created = self._created_at()
        observed = Observed(
            branch=await self._resolve_branch(client, spec),
            snapshot=await client.find_snapshot(project, name) if may_exist else None,
        )
        action = plan_create(spec, observed, snapshot_name=name, created_at=created)
        workloads: dict[str, Any] = {}
        wait_on: list[Operation | str] = []
        if isinstance(action, TakeSnapshot):
            workloads = await self._capture_workloads(spec)
            if not self.status.get("createPending"):
                await self.status.note(createPending=True)
            assert observed.branch is not None  # plan_create takes a snapshot only of a branch it found
            await self._record_intent(spec, spec.branch or observed.branch.name, action.name)
            taken = await self._take(client, spec, action)
            if isinstance(taken, Mutation):
                crash_point(self.runtime.settings.crash_after, "snapshot-accepted")
                snapshot, recorded_ops = taken.value, operation_entries(taken.operations)
                # As Neon answered them: a wait on known operations teaches OperationPace (and stall_after).
                wait_on = list(taken.operations)
                self.logger.info("snapshot %s (%s) accepted by Neon", snapshot.id, snapshot.name)
            else:
                action = taken
        match action:
            case Fail(reason=reason, message=message):
                await self._fail_or_retry(Verdict(False, reason, message))
                return
            case TakeSnapshot():
                pass
            case AdoptSnapshot(snapshot=snapshot):
                # Made by an earlier attempt: the project's operations matter only if it recorded none.
                recorded = self.status.get("operations") or []
                listed = () if recorded else await client.list_operations(project)
                recorded_ops = adopted_snapshot_operations(snapshot, recorded, listed)
                workloads = await self._recorded_workloads()
                wait_on = [op["id"] for op in recorded_ops]
                self.logger.info("snapshot %s already exists: adopting it", snapshot.id)
        resolved = observed.branch.name if observed.branch else self.status.get("branch")
        branch_name = spec.branch or resolved or ""
        await self.status.record(
            Step.SNAPSHOT_ACCEPTED,
            "SnapshotAccepted",
            f"snapshot {snapshot.id} accepted; waiting for Neon operations",
            branch=branch_name,
            snapshotId=snapshot.id,
            snapshotName=snapshot.name,
            sourceBranchId=snapshot.source_branch_id,
            operations=recorded_ops,
            **workloads,
        )
        finished = await self._wait_for(client, project, wait_on, [op["action"] for op in recorded_ops])
        if needs_snapshot_listing(snapshot):
            # Neon fills lsn/timestamp once the snapshot is complete.
            snapshot = await client.find_snapshot(project, name) or snapshot
        row = await self.runtime.store.upsert_checkpoint(
            CheckpointRecord(
                uid=self.uid,
                namespace=self.namespace,
                name=self.name,
                project_id=project,
                branch_name=branch_name,
                phase=Phase.READY.value,
                source_branch_id=snapshot.source_branch_id,
                snapshot_id=snapshot.id,
                snapshot_name=snapshot.name,
                lsn=snapshot.lsn,
                snapshot_created_at=snapshot.created_at,
                expires_at=snapshot.expires_at,
                source=dict(spec.source),
                credentials=spec.credentials,
            )
        )
        ready_after = round(max(0.0, (utcnow() - created).total_seconds()), 3)
        if self.status.phase is not Phase.READY:
            self.runtime.metrics.checkpoint_seconds.observe(ready_after)
        # Only when the answers in hand carry it (Neon computes sizes later; a listing fills it in then).
        size = size_status(Sizes(snapshot.full_size, snapshot.diff_size))
        sized: dict[str, Any] = {"size": size} if size is not None else {}
        await self.status.record(
            Step.OPERATIONS_FINISHED,
            "SnapshotReady",
            f"snapshot {snapshot.id} of branch {branch_name} is ready",
            operations=operation_entries(finished),
            lsn=snapshot.lsn,
            timestamp=_time(snapshot.timestamp),
            createdAt=_time(snapshot.created_at),
            expiresAt=_time(snapshot.expires_at),
            checkpointId=row.id,
            parentCheckpointId=row.parent_checkpoint_id,
            durationSeconds=ready_after,
            createPending=None,
            **sized,
        )

    async def _record_intent(self, spec: CheckpointSpec, branch_name: str, snapshot_name: str) -> None:
        """The meta row before the snapshot is asked for: after a crash, the next flow on the project
        settles it from Neon (settle/) before it mutates the project."""
        await self.runtime.store.record_checkpoint_intent(
            CheckpointRecord(
                uid=self.uid,
                namespace=self.namespace,
                name=self.name,
                project_id=spec.project_id,
                branch_name=branch_name,
                phase=Phase.PENDING.value,
                snapshot_name=snapshot_name,
                source=dict(spec.source),
                credentials=spec.credentials,
            )
        )

    async def _capture_workloads(self, spec: CheckpointSpec) -> dict[str, Any]:
        """Read the workloads just before the snapshot is asked for and record them (replacing what an
        attempt that never got its snapshot recorded): a missing or oversized one fails the checkpoint
        here, with no snapshot taken."""
        if spec.workloads.empty:
            return {}
        try:
            result = await read_workloads(self.runtime.kube, self.namespace, spec.workloads)
        except WorkloadProblem as exc:
            await self._fail_or_retry(Verdict(False, exc.reason, str(exc)))
        rows = await self.runtime.store.workloads.record_capture(
            self.uid, [(revision_of(item), env) for item, env in result.captured], replace=True
        )
        return {"workloads": [_summary(row.revision) for row in rows]}

    async def _recorded_workloads(self) -> dict[str, Any]:
        rows = await self.runtime.store.workloads.of_checkpoint(self.uid)
        return {"workloads": [_summary(row.revision) for row in rows]} if rows else {}

    async def _take(
        self, client: AsyncNeonClient, spec: CheckpointSpec, take: TakeSnapshot
    ) -> Mutation[Snapshot] | AdoptSnapshot | Fail:
        """POST the snapshot. A 409 means our name is taken: an earlier attempt made it (the marker's second
        guard), so adopt it. A 404 may mean the remembered branch id is stale: look the branch up by name
        once more and POST again (a project that is gone answers 404 to that lookup as well)."""
        project = spec.project_id
        try:
            return await client.create_snapshot(
                project, take.branch_id, name=take.name, expires_at=take.expires_at
            )
        except errors.Conflict:
            found = await client.find_snapshot(project, take.name)
            if found is None:
                raise
            return AdoptSnapshot(found)
        except errors.NotFound:
            self.runtime.branch_ids.forget(project)
            observed = Observed(await self._resolve_branch(client, spec), None)
            fresh = plan_create(spec, observed, snapshot_name=take.name, created_at=self._created_at())
            if not isinstance(fresh, TakeSnapshot):
                return fresh
            return await client.create_snapshot(
                project, fresh.branch_id, name=take.name, expires_at=take.expires_at
            )

    async def _resolve_branch(self, client: AsyncNeonClient, spec: CheckpointSpec) -> Branch | None:
        # By NAME (a finalized restore gives the branch a new id, neon-api.md §6.2), remembered while no
        # restore was recorded on the project since (branch_ids.py).
        project = spec.project_id
        stamp = await self.runtime.store.restore_stamp(project)
        known = self.runtime.branch_ids.get(project, spec.branch, stamp)
        if known is not None:
            return known
        if spec.branch:
            branch = await client.find_branch(project, spec.branch)
        else:
            branch = pick_default_branch(await client.list_branches(project))
        if branch is not None:
            self.runtime.branch_ids.put(project, spec.branch, branch, stamp)
        return branch

    async def observe_spec_change(self) -> None:
        """A mutable field changed: move the snapshot's expiry if `ttl`/`expiresAt` did (else Neon would drop
        it on the old date under a Checkpoint that says otherwise), and acknowledge the new generation."""
        try:
            spec = CheckpointSpec.from_dict(self.body.spec)
        except InvalidSpec:
            spec = None  # nothing to move; the Ready condition below is acknowledged as it is
        change = self._expiry_change(spec) if spec is not None else None
        if spec is not None and change is not None:
            await self._move_expiry(spec, change)
            return
        ready = next((c for c in self.status.get("conditions") or [] if c.get("type") == "Ready"), None)
        if ready is not None:
            await self.status.record(Step.SPEC_CHANGED, ready.get("reason", ""), ready.get("message", ""))

    def _expiry_change(self, spec: CheckpointSpec) -> ChangeExpiry | None:
        recorded = self.status.get("expiresAt")
        return plan_expiry_change(
            spec,
            phase=self.status.phase,
            snapshot_id=self.status.get("snapshotId"),
            created_at=self._created_at(),
            recorded=parse_time_or_none(recorded),
            now=utcnow(),
        )

    async def _move_expiry(self, spec: CheckpointSpec, change: ChangeExpiry) -> None:
        snapshot_id: str = self.status.get("snapshotId")
        try:
            async with self._client(spec.project_id, spec.credentials) as client:
                await client.update_snapshot(spec.project_id, snapshot_id, expires_at=change.expires_at)
            await self.runtime.store.set_checkpoint_expiry(self.uid, change.expires_at)
        except EXPECTED as exc:
            await self._fail_or_retry(classify(exc, subject=f"Neon project {spec.project_id}"))
        when = f"expires at {_time(change.expires_at)}" if change.expires_at else "no longer expires"
        self.logger.info("snapshot %s now %s", snapshot_id, when)
        await self.status.record(
            Step.SPEC_CHANGED,
            "ExpiryChanged",
            f"snapshot {snapshot_id} now {when}",
            expiresAt=_time(change.expires_at),
        )

    def _created_at(self) -> dt.datetime:
        return parse_time_or_none(self.body.metadata.creation_timestamp) or utcnow()

    # -- delete ---------------------------------------------------------------------------------------

    async def delete(self) -> None:
        """Delete the snapshot (deletionPolicy Delete) and let the resource go. What only waits (Neon or the
        apiserver briefly away) is retried soon; what cannot be done at all (no readable key, a project the
        namespace may not use, a refusal) never holds the resource: it goes, and a Warning Event and the
        operator log name the snapshot left in Neon."""
        try:
            spec = CheckpointSpec.from_dict(self.body.spec)
        except InvalidSpec:
            spec = None
        # A create that failed before Neon accepted a snapshot owes no cleanup there.
        never_snapshotted = self.status.phase is Phase.FAILED and not self.status.get("snapshotId")
        await self.status.record(Step.DELETE_REQUESTED, "Deleting", "deleting the checkpoint")
        try:
            if spec is not None and spec.deletion_policy == "Delete" and not never_snapshotted:
                try:
                    async with (
                        self._client(spec.project_id, spec.credentials) as client,
                        self._project_lock(spec.project_id),
                    ):
                        await self._delete_snapshot(spec, client)
                except (ProjectNotAllowed, SecretUnavailable, errors.NeonClientError) as exc:
                    verdict = classify(exc, subject=f"Neon project {spec.project_id}")
                    # A Secret that is not there now will not appear for a resource being deleted
                    # (and a Checkpoint that never had its key never had a snapshot either).
                    if verdict.retry and not isinstance(exc, SecretUnavailable):
                        raise
                    self._left_behind(spec, verdict)
            await self.runtime.store.mark_checkpoint_deleted(self.uid)
        except EXPECTED as exc:
            verdict = classify(exc, subject=f"Neon project {spec.project_id if spec else '?'}")
            self._count_failure(verdict)
            self.logger.warning("deleting the checkpoint failed, retrying: %s", verdict.message)
            await self.status.record(
                Step.RETRYING, verdict.reason, verdict.message, blocked=is_stalled(verdict)
            )
            raise to_kopf(verdict) from None

    def _left_behind(self, spec: CheckpointSpec, verdict: Verdict) -> None:
        snapshot = self.status.get("snapshotId") or names.snapshot_name(self.uid)
        message = (
            f"the Checkpoint goes, but its snapshot {snapshot} in Neon project {spec.project_id} "
            f"may remain (delete it there): {verdict.message}"
        )
        self.logger.warning("%s", message)
        self.runtime.kube.event(self.body, type="Warning", reason="SnapshotLeftBehind", message=message)

    async def _delete_snapshot(self, spec: CheckpointSpec, client: AsyncNeonClient) -> None:
        # The id status recorded needs no lookup (a DELETE of one already gone, or of a project gone,
        # answers 404: nothing to wait for); without it a create may still have made one under our name.
        snapshot_id: str | None = self.status.get("snapshotId")
        if snapshot_id is None:
            try:
                found = await client.find_snapshot(spec.project_id, names.snapshot_name(self.uid))
            except errors.NotFound:
                found = None  # the whole project is gone, and the snapshot with it
            if found is None:
                return
            snapshot_id = found.id
        operations = await client.delete_snapshot(spec.project_id, snapshot_id)
        await self._wait_for(client, spec.project_id, operations)
        self.logger.info("snapshot %s deleted (deletionPolicy Delete)", snapshot_id)

    # -- shared ---------------------------------------------------------------------------------------

    async def _spec(self) -> CheckpointSpec:
        try:
            return CheckpointSpec.from_dict(self.body.spec)
        except InvalidSpec as exc:
            await self._fail_or_retry(Verdict(False, "InvalidSpec", str(exc)))
            raise AssertionError("unreachable") from None

    async def _fail_or_retry(self, verdict: Verdict) -> NoReturn:
        """Record the verdict in status (+ Event) and hand it to kopf. Always raises."""
        self._count_failure(verdict)
        if verdict.retry:
            self.logger.warning("will retry in %.1fs: %s", verdict.delay, verdict.message)
            step = Step.QUEUED if verdict.reason == "Queued" else Step.RETRYING
            await self.status.record(step, verdict.reason, verdict.message, blocked=is_stalled(verdict))
        else:
            self.logger.error("checkpoint failed: %s", verdict.message)
            if not self.status.get("snapshotId"):
                # Refused before Neon took a snapshot: no intent is left for a later flow to settle.
                await self.runtime.store.drop_checkpoint_intent(self.uid)
            await self.status.record(Step.FAILED, verdict.reason, verdict.message)
        raise to_kopf(verdict)
