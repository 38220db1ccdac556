"""Settle a project's interrupted work (settle/plan.py) before a flow mutates it: the I/O shell.

Called by every mutating flow right after it takes the project lock. One meta query when nothing is
unsettled (the steady state: no Neon request at all); after a crash, one listing of the project's snapshots
and/or branches, and the wait for what the interrupted restores left running.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from neon_api import AsyncNeonClient, errors
from neon_api.models import Operation
from neon_checkpoints.core.times import utcnow
from neon_checkpoints.meta.records import UnsettledRestore
from neon_checkpoints.meta.store import MetaStore
from neon_checkpoints.settle.plan import (
    RestoreTookEffect,
    SnapshotTaken,
    neon_time,
    settle_checkpoint,
    settle_restore,
)

Wait = Callable[[AsyncNeonClient, str, Sequence[Operation | str]], Awaitable[tuple[Operation, ...]]]


async def settle(
    store: MetaStore,
    client: AsyncNeonClient,
    project_id: str,
    *,
    own_uid: str,
    wait: Wait,
    logger: logging.Logger | logging.LoggerAdapter[Any],
) -> None:
    """Record what every other flow's recorded intent on the project came to in Neon, at Neon's times."""
    restores, checkpoints = await store.unsettled(project_id, own_uid)
    if checkpoints:
        snapshots = await client.list_snapshots(project_id)
        for row in checkpoints:
            found = settle_checkpoint(row, snapshots)
            if isinstance(found, SnapshotTaken):
                snap = found.snapshot
                await store.settle_snapshot(row.uid, snap.id, snap.source_branch_id, snap.created_at)
                logger.info("settled an interrupted checkpoint: snapshot %s exists", snap.id)
            else:
                await store.drop_checkpoint_intent(row.uid)
                logger.info("settled an interrupted checkpoint: no snapshot was taken")
    if restores:
        branches = await client.list_branches(project_id)
        for restore in restores:
            outcome = settle_restore(restore, branches)
            if isinstance(outcome, RestoreTookEffect):
                await _took_effect(store, client, project_id, restore, outcome, wait, logger)
            else:
                await store.drop_restore_intent(restore.uid)
                logger.info("settled CheckpointRestore %s: Neon never restored it", restore.name)


async def _took_effect(
    store: MetaStore,
    client: AsyncNeonClient,
    project_id: str,
    restore: UnsettledRestore,
    outcome: RestoreTookEffect,
    wait: Wait,
    logger: logging.Logger | logging.LoggerAdapter[Any],
) -> None:
    """Wait for what the restore left running (its recorded operations, else the project's in progress:
    Neon runs one mutation at a time), then record its effect at the time Neon finished it."""
    waiting: Sequence[Operation | str] = restore.operation_ids
    listed: list[Operation] = []
    if not waiting:
        listed = await client.list_operations(project_id)
        waiting = [op for op in listed if op.in_progress]
    try:
        finished = await wait(client, project_id, waiting) if waiting else ()
    except errors.OperationFailed:
        # Its own flow, resumed, reports the failure; until then it stays unsettled.
        logger.warning("CheckpointRestore %s: its Neon operations failed; left to its flow", restore.name)
        return
    made = outcome.made.id
    ops = [*finished, *(op for op in listed if op.branch_id == made and not op.in_progress)]
    at = neon_time(ops, outcome.made, utcnow())
    await store.mark_database_restored(
        restore.uid, outcome.restored_branch_id, outcome.replaced_branch_id, at
    )
    logger.info(
        "settled CheckpointRestore %s: Neon made branch %s the production at %s",
        restore.name,
        outcome.restored_branch_id,
        at.isoformat(),
    )
