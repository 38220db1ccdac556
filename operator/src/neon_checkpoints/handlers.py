"""The kopf entry point: lifecycle (settings, meta store, clients) and the Checkpoint handlers.

Handlers are thin: build the flow for the object and run it. Importing this module registers them.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from neon_api import OperationPace
from neon_checkpoints.checkpoint_flow import CheckpointFlow
from neon_checkpoints.kube import Kube
from neon_checkpoints.meta import MetaStore
from neon_checkpoints.resources import CHECKPOINTS, GROUP, VERSION
from neon_checkpoints.runtime import Runtime
from neon_checkpoints.settings import Settings

logger = logging.getLogger(__name__)

FINALIZER = "neoncheckpoints.dev/snapshot"


@kopf.on.startup()
async def start(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    config: Settings = memo["settings"]
    settings.persistence.finalizer = FINALIZER
    # Events come from explicit phase transitions, not from every log line.
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = 300
    store = await MetaStore.open(config.meta_database_url, max_size=config.meta_pool_size)
    memo["runtime"] = Runtime(
        settings=config,
        store=store,
        kube=Kube.from_environment(),
        neon=Runtime.neon_client(config, config.neon_api_key),
        pace=OperationPace(config.operation_poll_interval),
    )
    logger.info(
        "neon-checkpoints operator started: Neon API %s, meta DB %s",
        config.neon_api_url,
        config.meta_database_display,
    )


@kopf.on.cleanup()
async def stop(memo: kopf.Memo, **_: Any) -> None:
    runtime: Runtime | None = memo.get("runtime")
    if runtime is not None:
        await runtime.neon.aclose()
        await runtime.store.close()


@kopf.on.create(GROUP, VERSION, CHECKPOINTS)
async def create_checkpoint(body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
    await CheckpointFlow(memo["runtime"], body, logger).create()


@kopf.on.update(GROUP, VERSION, CHECKPOINTS, field="spec")
async def update_checkpoint(body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
    await CheckpointFlow(memo["runtime"], body, logger).observe_spec_change()


@kopf.on.delete(GROUP, VERSION, CHECKPOINTS)
async def delete_checkpoint(body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
    await CheckpointFlow(memo["runtime"], body, logger).delete()
