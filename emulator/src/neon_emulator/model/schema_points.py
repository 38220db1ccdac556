"""Which stored state answers "the schema of branch B at lsn L / timestamp T" (pure).

Neon answers from its WAL history; the emulator keeps none, so the points it has are the branch as it is
now and the snapshots taken of it (their `lsn` and `timestamp`). A point that is neither is refused with
Neon's 400 and a message saying why.
"""

from __future__ import annotations

from dataclasses import dataclass

from .clock import parse_ts
from .core import Model
from .errors import bad_request, not_found


@dataclass(frozen=True)
class SchemaPoint:
    storage: str  # the cluster to read: the branch's, or a snapshot's
    immutable: bool  # a snapshot: its answer never changes
    databases: tuple[str, ...]  # the databases the model has at that point


def schema_point(
    model: Model, project_id: str, branch_id: str, *, lsn: str | None, timestamp: str | None
) -> SchemaPoint:
    branch = model.branch(project_id, branch_id)
    if lsn is not None and timestamp is not None:
        raise bad_request("lsn and timestamp are mutually exclusive")
    snapshots = [s for s in model.state.snapshots.values() if s.source_branch_id == branch.id and s.captured]
    if lsn is not None:
        found = next((s for s in snapshots if s.lsn == lsn), None)
        if found is None:
            raise bad_request(
                f"lsn: {lsn} is not the point of a snapshot of branch {branch.id}; the emulator keeps "
                "no WAL history (omit lsn for the branch's head)"
            )
        return SchemaPoint(found.id, True, tuple(d["name"] for d in found.databases))
    if timestamp is not None:
        try:
            moment = parse_ts(timestamp)
        except ValueError:
            raise bad_request("timestamp: invalid RFC 3339 timestamp") from None
        found = next((s for s in snapshots if parse_ts(s.timestamp) == moment), None)
        if found is not None:
            return SchemaPoint(found.id, True, tuple(d["name"] for d in found.databases))
        model.check_timestamp_is_now("timestamp", timestamp)  # the last minute counts as the head
    return SchemaPoint(branch.id, False, tuple(d.name for d in model.databases_of(branch.id)))


def check_database(point: SchemaPoint, database: str) -> None:
    if database not in point.databases:
        raise not_found("database", database)
