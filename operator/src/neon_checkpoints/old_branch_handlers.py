"""kopf daemon keeping only the newest N `(old)` branches per Neon project (KEEP_OLD_BRANCHES setting).

A finalized restore that succeeded is what makes a new `(old)` branch, so each such CheckpointRestore gets a
short-lived daemon that prunes its project once (under the per-project lock, like every mutating flow) and
exits; on failure it retries after a delay. At operator start each succeeded restore is looked at once
more, which also covers restores finished while the operator was down. A branch Neon refuses to delete is
kept and reported as a Warning Event on the restore.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

import kopf
import psycopg

from neon_api import AsyncNeonClient, errors
from neon_checkpoints.custom_objects import CustomObjects, KubeCallFailed
from neon_checkpoints.kube import SecretUnavailable
from neon_checkpoints.meta.locks import ProjectBusy
from neon_checkpoints.old_branches import prune_old_branches
from neon_checkpoints.resources import CHECKPOINT_RESTORES, CHECKPOINTS, GROUP, VERSION
from neon_checkpoints.restore_spec import RestoreSpec
from neon_checkpoints.runtime import Runtime
from neon_checkpoints.schedule_settings import ScheduleSettings

_RETRY_DELAY = 10.0
_RETRYABLE = (errors.NeonError, psycopg.Error, ProjectBusy, KubeCallFailed, SecretUnavailable)


def finalized_restore(spec: Mapping[str, Any], status: Mapping[str, Any], memo: kopf.Memo, **_: Any) -> bool:
    settings: ScheduleSettings | None = memo.get("schedule_settings")
    return (
        settings is not None
        and settings.keep_old_branches is not None
        and spec.get("mode", "Finalize") == "Finalize"
        and status.get("phase") == "Succeeded"
    )


@contextlib.asynccontextmanager
async def _client(runtime: Runtime, namespace: str, spec: RestoreSpec) -> AsyncIterator[AsyncNeonClient]:
    if spec.credentials is None:
        yield runtime.neon
        return
    key = await runtime.kube.read_secret_value(namespace, spec.credentials.name, spec.credentials.key)
    async with Runtime.neon_client(runtime.settings, key) as client:
        yield client


async def prune_for_restore(
    runtime: Runtime, objects: CustomObjects, keep: int, body: kopf.Body, logger: Any
) -> None:
    namespace = body.metadata.namespace or ""
    spec = RestoreSpec.from_dict(body.spec)
    checkpoint = await objects.get(CHECKPOINTS, namespace, spec.checkpoint)
    project = ((checkpoint or {}).get("spec") or {}).get("projectId")
    if not project:
        logger.info("Checkpoint %s is gone: cannot tell which project to prune", spec.checkpoint)
        return
    async with (
        _client(runtime, namespace, spec) as client,
        runtime.store.locks.hold(project, wait=runtime.settings.project_lock_wait),
    ):
        result = await prune_old_branches(
            client, project, keep, operation_timeout=runtime.settings.operation_timeout
        )
    if result.deleted:
        logger.info("deleted (old) branches of project %s: %s", project, ", ".join(result.deleted))
    for kept in result.kept:
        kopf.event(
            body,
            type="Warning",
            reason="OldBranchKept",
            message=f"kept {kept.name!r} ({kept.branch_id}) of project {project}: {kept.reason}",
        )


@kopf.daemon(GROUP, VERSION, CHECKPOINT_RESTORES, when=finalized_restore, cancellation_timeout=5.0)
async def prune_old_branches_after_restore(
    body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, stopped: kopf.DaemonStopped, **_: Any
) -> None:
    settings: ScheduleSettings = memo["schedule_settings"]
    if settings.keep_old_branches is None:
        return
    while not stopped:
        try:
            await prune_for_restore(
                memo["runtime"], memo["custom_objects"], settings.keep_old_branches, body, logger
            )
            return
        except _RETRYABLE as exc:
            logger.warning("pruning (old) branches failed, retrying in %.0fs: %s", _RETRY_DELAY, exc)
        await stopped.wait(_RETRY_DELAY)
