"""Capturing a Ready checkpoint's schema (decisions in plan.py): for each database, Neon's schema at the
snapshot's point as pg_dump text and structured form, stored content-addressed in the meta database, then a
`SchemaCaptured` condition. A failure never touches the checkpoint's phase: the condition says False with the
reason, and the daemon tries again after a capped backoff, a bounded number of times."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import kopf

from neon_api import AsyncNeonClient
from neon_checkpoints.checkpoint.spec import CheckpointSpec
from neon_checkpoints.core.conditions import set_condition
from neon_checkpoints.core.errors import InvalidSpec
from neon_checkpoints.core.times import rfc3339, utcnow
from neon_checkpoints.meta.schemas import StoredSchema
from neon_checkpoints.names import CHECKPOINTS
from neon_checkpoints.runtime.errors import EXPECTED, classify
from neon_checkpoints.runtime.runtime import Runtime
from neon_checkpoints.schema.plan import (
    CONDITION,
    GiveUp,
    Point,
    after_failure,
    capture_point,
    databases_to_capture,
)
from neon_checkpoints.schema.structure import normalized_sql, parse_structure, schema_digest, structure_json

Logger = logging.Logger | logging.LoggerAdapter[Any]


async def read_schemas(
    client: AsyncNeonClient, project_id: str, point: Point, requested: tuple[str, ...]
) -> dict[str, StoredSchema]:
    listed = [] if requested else [d.name for d in await client.list_databases(project_id, point.branch_id)]
    out: dict[str, StoredSchema] = {}
    for database in databases_to_capture(requested, listed):
        where = {"lsn": point.lsn, "timestamp": point.timestamp}
        sql = await client.get_schema_sql(project_id, point.branch_id, database, **where)
        structure = parse_structure(
            await client.get_schema_json(project_id, point.branch_id, database, **where)
        )
        out[database] = StoredSchema(
            schema_digest(sql, structure), normalized_sql(sql), structure_json(structure)
        )
    return out


async def _write(
    runtime: Runtime,
    body: kopf.Body,
    status: Mapping[str, Any],
    ok: bool,
    reason: str,
    message: str,
    **fields: Any,
) -> None:
    # Only this condition goes out: the server merges it by type (runtime/kube.py), so a flow's Ready
    # written meanwhile is not put back to what this daemon read before its capture.
    [condition] = set_condition(
        [c for c in status.get("conditions") or [] if c.get("type") == CONDITION],
        type=CONDITION,
        status="True" if ok else "False",
        reason=reason,
        message=message,
        observed_generation=body.metadata.get("generation"),
        now=utcnow(),
    )
    meta = body.metadata
    await runtime.kube.patch_status(
        CHECKPOINTS, meta.namespace or "", meta.name or "", {**fields, "conditions": [condition]}
    )
    if not ok:  # a success is in the condition; the phase Events stay one per transition
        runtime.kube.event(body, type="Warning", reason=reason, message=message)


async def capture_once(runtime: Runtime, body: kopf.Body, logger: Logger, attempt: int) -> float | None:
    """Try capture number `attempt`; the seconds until the next try, or None when there is none to make."""
    status = body.get("status") or {}
    try:
        spec = CheckpointSpec.from_dict(body.spec)
    except InvalidSpec:
        return None  # the create flow has failed it already
    subject = f"the schema of Neon project {spec.project_id}"
    try:
        async with runtime.credentials.client(
            body.metadata.namespace or "", spec.project_id, spec.credentials
        ) as client:
            snapshot = await client.find_snapshot(spec.project_id, status.get("snapshotName") or "")
            raw = snapshot.raw if snapshot is not None else {}
            point = capture_point(raw.get("source_branch_id"), raw.get("lsn"), raw.get("timestamp"))
            if point is None:
                what = "is gone" if snapshot is None else "has no lsn or timestamp"
                message = f"snapshot {status.get('snapshotId')} {what}: its schema cannot be read"
                await _write(runtime, body, status, False, "NoSnapshotPoint", message, schemaAttempts=attempt)
                return None
            captured = await read_schemas(client, spec.project_id, point, spec.databases)
        new = await runtime.store.record_schema_capture(int(status["checkpointId"]), captured)
    except EXPECTED as exc:
        verdict = classify(exc, subject=subject)
        decision = after_failure(retryable=verdict.retry, attempt=attempt, least_delay=verdict.delay)
        if isinstance(decision, GiveUp):
            message = f"{verdict.message} (not retried: {decision.reason})"
            logger.warning("schema capture failed: %s", message)
            await _write(runtime, body, status, False, verdict.reason, message, schemaAttempts=attempt)
            return None
        message = f"{verdict.message} (attempt {attempt}; retrying in {decision.delay:.0f}s)"
        logger.warning("schema capture failed: %s", message)
        await _write(runtime, body, status, False, verdict.reason, message, schemaAttempts=attempt)
        return decision.delay
    names = sorted(captured)
    message = (
        f"schema of {len(names)} database(s) captured ({new} not seen before): {', '.join(names) or '-'}"
    )
    logger.info("%s", message)
    await _write(
        runtime,
        body,
        status,
        True,
        "Captured",
        message,
        schemaAttempts=attempt,
        schemaDatabases=names,
        schemaCapturedAt=rfc3339(utcnow()),
    )
    return None
