"""The operator as kopf runs it: the one place that registers every kind's handlers (by importing them) and
holds the only startup and cleanup hooks, which open and close the one `Runtime` in kopf's memo."""

from __future__ import annotations

import logging
from typing import Any

import kopf

from neon_checkpoints.checkpoint import handlers as checkpoint_handlers
from neon_checkpoints.names import FINALIZER
from neon_checkpoints.restore import handlers as restore_handlers
from neon_checkpoints.runtime.errors import KOPF_DEFAULT_BACKOFF, KOPF_ERROR_BACKOFFS
from neon_checkpoints.runtime.runtime import Runtime
from neon_checkpoints.schedule import handlers as schedule_handlers
from neon_checkpoints.settings import Settings

logger = logging.getLogger(__name__)

# Importing a kind's handlers module registers it with kopf's default registry.
KINDS = (checkpoint_handlers, restore_handlers, schedule_handlers)


@kopf.on.startup()
async def start(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    config: Settings = memo["settings"]
    settings.persistence.finalizer = FINALIZER
    # Events come from explicit phase transitions, not from every log line.
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = 300
    settings.networking.error_backoffs = KOPF_ERROR_BACKOFFS
    settings.execution.default_backoff = KOPF_DEFAULT_BACKOFF
    memo["runtime"] = await Runtime.open(config)
    logger.info(
        "neon-checkpoints operator started: Neon API %s, meta DB %s",
        config.neon_api_url,
        config.meta_database_display,
    )


@kopf.on.cleanup()
async def stop(memo: kopf.Memo, **_: Any) -> None:
    runtime: Runtime | None = memo.get("runtime")
    if runtime is not None:
        await runtime.close()
