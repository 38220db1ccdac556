"""Capturing a Ready checkpoint's schema (decisions in plan.py): for each database, Neon's schema at the
snapshot's point as pg_dump text and structured form, stored content-addressed in the meta database, then a
`SchemaCaptured` condition. Requests are few: the point comes from status (no snapshot listing), database
names from spec.databases or a per-branch cache, and a schema unchanged since the branch's previous capture
costs one `compare_schema` (none at the same LSN) instead of two reads. A failure never touches the
checkpoint's phase: the condition says False with the reason, and the daemon tries again after a capped
backoff, a bounded number of times."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import kopf

from neon_api import AsyncNeonClient, errors
from neon_checkpoints.checkpoint.spec import CheckpointSpec
from neon_checkpoints.core.conditions import set_condition
from neon_checkpoints.core.errors import InvalidSpec
from neon_checkpoints.core.times import rfc3339, utcnow
from neon_checkpoints.meta.schemas import PreviousCapture, StoredSchema
from neon_checkpoints.names import CHECKPOINTS
from neon_checkpoints.runtime.database_names import DatabaseNames
from neon_checkpoints.runtime.errors import EXPECTED, classify
from neon_checkpoints.runtime.runtime import Runtime
from neon_checkpoints.schema.plan import (
    CONDITION,
    GiveUp,
    Point,
    after_failure,
    capture_point,
    databases_to_capture,
    diff_says_unchanged,
    point_from_status,
)
from neon_checkpoints.schema.structure import normalized_sql, parse_structure, schema_digest, structure_json

Logger = logging.Logger | logging.LoggerAdapter[Any]


# What a capture can compare with: the newest other capture of the database on the branch (meta.schemas).
Previous = Callable[[str], Awaitable[PreviousCapture | None]]


async def _no_previous(_: str) -> PreviousCapture | None:
    return None


async def _unchanged_since(
    client: AsyncNeonClient, project_id: str, point: Point, database: str, previous: PreviousCapture | None
) -> bool:
    """Whether the schema at `point` is the one captured at `previous`: the same LSN needs no request,
    another takes one `compare_schema` instead of two schema reads. A point Neon cannot compare (outside
    its history window, a snapshot the emulator no longer has) is read in full."""
    if previous is None or point.lsn is None:
        return False
    if previous.lsn == point.lsn:
        return True
    try:
        diff = await client.compare_schema(
            project_id,
            point.branch_id,
            database,
            base_branch_id=point.branch_id,
            lsn=point.lsn,
            base_lsn=previous.lsn,
        )
    except (errors.BadRequest, errors.NotFound, errors.Unprocessable):
        return False
    return diff_says_unchanged(diff)


async def read_schemas(
    client: AsyncNeonClient,
    project_id: str,
    point: Point,
    databases: Sequence[str],
    previous: Previous = _no_previous,
) -> dict[str, StoredSchema]:
    """Each database's schema at `point`: the previous capture's when Neon says nothing changed since,
    else both of Neon's forms (pg_dump text, and the structured form Neon reads from the catalog)."""
    out: dict[str, StoredSchema] = {}
    for database in databases:
        before = await previous(database)
        if before is not None and await _unchanged_since(client, project_id, point, database, before):
            out[database] = before.schema
            continue
        where = {"lsn": point.lsn, "timestamp": point.timestamp}
        sql = await client.get_schema_sql(project_id, point.branch_id, database, **where)
        structure = parse_structure(
            await client.get_schema_json(project_id, point.branch_id, database, **where)
        )
        out[database] = StoredSchema(
            schema_digest(sql, structure), normalized_sql(sql), structure_json(structure)
        )
    return out


async def _point(client: AsyncNeonClient, project_id: str, status: Mapping[str, Any]) -> Point | str:
    """Where to read: status's lsn (no request), else the snapshot as Neon lists it; a string says why
    there is no point."""
    point = point_from_status(status)
    if point is not None:
        return point
    snapshot = await client.find_snapshot(project_id, status.get("snapshotName") or "")
    raw = snapshot.raw if snapshot is not None else {}
    point = capture_point(raw.get("source_branch_id"), raw.get("lsn"), raw.get("timestamp"))
    if point is None:
        what = "is gone" if snapshot is None else "has no lsn or timestamp"
        return f"snapshot {status.get('snapshotId')} {what}: its schema cannot be read"
    return point


async def branch_databases(
    client: AsyncNeonClient,
    project_id: str,
    branch_id: str,
    requested: Sequence[str],
    cache: DatabaseNames | None = None,
) -> tuple[str, ...]:
    """The databases a capture reads: `spec.databases`, else the branch's as Neon lists them (remembered
    in `cache`)."""
    if requested:
        return databases_to_capture(requested, ())
    listed = cache.get(project_id, branch_id) if cache is not None else None
    if listed is None:
        listed = tuple(d.name for d in await client.list_databases(project_id, branch_id))
        if cache is not None:
            cache.put(project_id, branch_id, listed)
    return databases_to_capture((), listed)


async def _write(
    runtime: Runtime,
    body: kopf.Body,
    status: Mapping[str, Any],
    ok: bool,
    reason: str,
    message: str,
    **fields: Any,
) -> None:
    conditions = set_condition(
        status.get("conditions") or [],
        type=CONDITION,
        status="True" if ok else "False",
        reason=reason,
        message=message,
        observed_generation=body.metadata.get("generation"),
        now=utcnow(),
    )
    meta = body.metadata
    await runtime.kube.patch_status(
        CHECKPOINTS, meta.namespace or "", meta.name or "", {**fields, "conditions": conditions}
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
            point = await _point(client, spec.project_id, status)
            if isinstance(point, str):
                await _write(runtime, body, status, False, "NoSnapshotPoint", point, schemaAttempts=attempt)
                return None
            checkpoint_id, branch_id = int(status["checkpointId"]), point.branch_id

            async def previous(database: str) -> PreviousCapture | None:
                return await runtime.store.previous_schema_capture(
                    checkpoint_id, spec.project_id, branch_id, database
                )

            databases = await branch_databases(
                client, spec.project_id, branch_id, spec.databases, runtime.database_names
            )
            try:
                captured = await read_schemas(client, spec.project_id, point, databases, previous)
            except errors.NotFound:
                # A database dropped since the names were listed, maybe: list them again next time.
                runtime.database_names.forget(spec.project_id, branch_id)
                raise
        new = await runtime.store.record_schema_capture(checkpoint_id, captured)
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
