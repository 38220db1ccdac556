"""The operator as kopf runs it: the one place that registers every kind's handlers (by importing them) and
holds the only startup and cleanup hooks, which open and close the one `Runtime` in kopf's memo."""

from __future__ import annotations

import logging
from typing import Any

import kopf

from neon_checkpoints import names
from neon_checkpoints.checkpoint import handlers as checkpoint_handlers
from neon_checkpoints.names import FINALIZER
from neon_checkpoints.restore import handlers as restore_handlers
from neon_checkpoints.runtime.errors import KOPF_DEFAULT_BACKOFF, KOPF_ERROR_BACKOFFS
from neon_checkpoints.runtime.runtime import Runtime
from neon_checkpoints.schedule import handlers as schedule_handlers
from neon_checkpoints.schema import handlers as schema_handlers
from neon_checkpoints.settings import Settings

logger = logging.getLogger(__name__)

# Importing a kind's handlers module registers it with kopf's default registry.
KINDS = (checkpoint_handlers, restore_handlers, schedule_handlers, schema_handlers)


@kopf.on.startup()
async def start(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    config: Settings = memo["settings"]
    settings.persistence.finalizer = FINALIZER
    # Events come from explicit phase transitions, not from every log line.
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = 300
    settings.networking.error_backoffs = KOPF_ERROR_BACKOFFS
    settings.execution.default_backoff = KOPF_DEFAULT_BACKOFF
    # Only used with peering (`operator --peering`): how soon a standby takes over from a dead peer.
    settings.peering.lifetime = config.peering_lifetime
    # A burst of N resources would otherwise run N handlers at once (their memory and connections with them).
    settings.queueing.worker_limit = config.max_concurrent_reconciles or None
    # A worker idle this long gives its slot up (with kopf's default, 5 s, ten new resources a second would
    # keep all 50 idle); the events that follow a handler's own patches arrive well within it.
    settings.queueing.idle_timeout = 1.0
    runtime = memo["runtime"] = await Runtime.open(config)
    if config.metrics_port is not None:
        port = runtime.metrics.serve(config.metrics_port, config.metrics_address)
        logger.info("metrics on http://%s:%d/metrics", config.metrics_address, port)
    logger.info(
        "neon-checkpoints operator started: Neon API %s, meta DB %s",
        config.neon_api_url,
        config.meta_database_display,
    )


def census_phase(kind: str, body: kopf.Body) -> str | None:
    """What the `resources` gauge counts a resource under: its phase; a schedule's Ready reason."""
    status = body.get("status") or {}
    if kind != names.SCHEDULE_KIND:
        phase: str | None = status.get("phase")
        return phase
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    return ready.get("reason") if ready else None


def _census(kind: str) -> Any:
    async def count(body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any) -> None:
        runtime: Runtime | None = memo.get("runtime")
        if runtime is not None:
            phase = census_phase(kind, body)
            runtime.metrics.census.seen(kind, body.metadata.uid or "", phase, deleted=type == "DELETED")

    count.__name__ = f"census_{kind.lower()}"
    return count


for _plural, _kind in (
    (names.CHECKPOINTS, names.CHECKPOINT_KIND),
    (names.CHECKPOINT_RESTORES, names.RESTORE_KIND),
    (names.CHECKPOINT_SCHEDULES, names.SCHEDULE_KIND),
):
    kopf.on.event(names.GROUP, names.VERSION, _plural, id=f"census-{_plural}")(_census(_kind))


@kopf.on.cleanup()
async def stop(memo: kopf.Memo, **_: Any) -> None:
    runtime: Runtime | None = memo.get("runtime")
    if runtime is not None:
        await runtime.close()
