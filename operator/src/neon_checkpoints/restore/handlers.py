"""kopf handlers for CheckpointRestores. Thin: build the flow for the object and run it. Registered by
importing this module (operator.py does, for every kind).

Only Preview restores leave something behind (a branch and a Secret), so only they get a finalizer: kopf
adds one for objects matched by a non-optional delete handler, and `when` limits that to Previews. With
`NEON_CHECKPOINTS_KEEP_OLD_BRANCHES` set, each succeeded Finalize restore gets a daemon that prunes its
project's `(old)` branches once (at operator start too, which covers restores finished while it was down).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf

from neon_checkpoints.names import CHECKPOINT_RESTORES, GROUP, RESTORE_KIND, VERSION
from neon_checkpoints.restore.flow import RestoreFlow
from neon_checkpoints.restore.prune import prune_for_restore
from neon_checkpoints.restore.undo import UndoFlow
from neon_checkpoints.runtime.errors import EXPECTED, classified
from neon_checkpoints.runtime.metrics import reconciles
from neon_checkpoints.runtime.runtime import Runtime

_PRUNE_RETRY_DELAY = 10.0


def _is_preview(spec: kopf.Spec, **_: Any) -> bool:
    return spec.get("mode") == "Preview"


@kopf.on.create(GROUP, VERSION, CHECKPOINT_RESTORES)
@reconciles(RESTORE_KIND)
async def create_restore(body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
    flow = UndoFlow if body.spec.get("undo") else RestoreFlow
    await classified(flow(memo["runtime"], body, logger).create(), subject=body.metadata.name or "?")


@kopf.on.delete(GROUP, VERSION, CHECKPOINT_RESTORES, when=_is_preview)
@reconciles(RESTORE_KIND)
async def delete_restore(body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
    await classified(RestoreFlow(memo["runtime"], body, logger).delete(), subject=body.metadata.name or "?")


def _finalized(spec: Mapping[str, Any], status: Mapping[str, Any], memo: kopf.Memo, **_: Any) -> bool:
    runtime: Runtime | None = memo.get("runtime")
    return (
        runtime is not None
        and runtime.settings.keep_old_branches is not None
        and spec.get("mode", "Finalize") == "Finalize"
        and status.get("phase") == "Succeeded"
    )


@kopf.daemon(GROUP, VERSION, CHECKPOINT_RESTORES, when=_finalized, cancellation_timeout=5.0)
async def prune_old_branches_after_restore(
    body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, stopped: kopf.DaemonStopped, **_: Any
) -> None:
    runtime: Runtime = memo["runtime"]
    keep = runtime.settings.keep_old_branches
    if keep is None:
        return
    while not stopped:
        try:
            await prune_for_restore(runtime, keep, body, logger)
            return
        except EXPECTED as exc:
            logger.warning("pruning (old) branches failed, retrying in %.0fs: %s", _PRUNE_RETRY_DELAY, exc)
        await stopped.wait(_PRUNE_RETRY_DELAY)
