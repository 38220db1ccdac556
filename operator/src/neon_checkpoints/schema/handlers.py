"""kopf wiring of the schema capture: one daemon per Ready Checkpoint whose schema is not captured yet.
Registered by importing this module (operator.py does)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf

from neon_checkpoints.names import CHECKPOINTS, GROUP, VERSION
from neon_checkpoints.runtime.kube import KubeError
from neon_checkpoints.runtime.runtime import Runtime
from neon_checkpoints.schema.capture import capture_once
from neon_checkpoints.schema.plan import needs_capture

_ERROR_DELAY = 5.0


def _needs_capture(status: Mapping[str, Any], **_: Any) -> bool:
    return needs_capture(status)


@kopf.daemon(GROUP, VERSION, CHECKPOINTS, when=_needs_capture, cancellation_timeout=5.0)
async def capture_schema(
    body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, stopped: kopf.DaemonStopped, **_: Any
) -> None:
    runtime: Runtime = memo["runtime"]
    # Counted here: the body's status lags behind the patches this daemon makes.
    attempt = int((body.get("status") or {}).get("schemaAttempts") or 0)
    while not stopped:
        attempt += 1
        try:
            delay = await capture_once(runtime, body, logger, attempt)
        except KubeError as exc:
            logger.warning("recording the schema capture failed, retrying: %s", exc)
            delay = _ERROR_DELAY
        if delay is None:
            return
        await stopped.wait(delay)
