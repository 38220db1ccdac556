"""kopf handlers for Checkpoints. Thin: build the flow for the object and run it. Registered by importing
this module (operator.py does, for every kind)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf

from neon_checkpoints.checkpoint.expire import expire_once
from neon_checkpoints.checkpoint.flow import CheckpointFlow
from neon_checkpoints.core.times import utcnow
from neon_checkpoints.names import CHECKPOINT_KIND, CHECKPOINTS, GROUP, VERSION
from neon_checkpoints.runtime.errors import classified
from neon_checkpoints.runtime.kube import KubeError
from neon_checkpoints.runtime.metrics import reconciles
from neon_checkpoints.runtime.runtime import Runtime

# After a failed Kubernetes call, the expiry daemon looks again this soon.
_ERROR_DELAY = 5.0


@kopf.on.create(GROUP, VERSION, CHECKPOINTS)
@reconciles(CHECKPOINT_KIND)
async def create_checkpoint(body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
    await classified(
        CheckpointFlow(memo["runtime"], body, logger).create(), subject=body.metadata.name or "?"
    )


@kopf.on.update(GROUP, VERSION, CHECKPOINTS, field="spec")
@reconciles(CHECKPOINT_KIND)
async def update_checkpoint(body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
    await classified(
        CheckpointFlow(memo["runtime"], body, logger).observe_spec_change(), subject=f"{body.metadata.name}"
    )


@kopf.on.delete(GROUP, VERSION, CHECKPOINTS)
@reconciles(CHECKPOINT_KIND)
async def delete_checkpoint(body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
    await classified(
        CheckpointFlow(memo["runtime"], body, logger).delete(), subject=body.metadata.name or "?"
    )


def _has_expiry(spec: Mapping[str, Any], **_: Any) -> bool:
    return bool(spec.get("ttl") or spec.get("expiresAt"))


@kopf.daemon(GROUP, VERSION, CHECKPOINTS, when=_has_expiry, cancellation_timeout=5.0)
async def expire_checkpoint(
    body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, stopped: kopf.DaemonStopped, **_: Any
) -> None:
    runtime: Runtime = memo["runtime"]
    while not stopped:
        try:
            delay = await expire_once(runtime, body, logger, utcnow())
        except KubeError as exc:
            logger.warning("expiry check failed, retrying: %s", exc)
            delay = _ERROR_DELAY
        if delay is None:
            return
        await stopped.wait(delay)
