"""Snapshots: create (query parameters only), list, exact-name lookup, update, delete, restore, finalize."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TypedDict, cast

from neon_api.calls.mutations import deletion, mutation, operations
from neon_api.models import (
    Branch,
    Endpoint,
    Mutation,
    Operation,
    RestoredSnapshot,
    Snapshot,
    operations_from_json,
)
from neon_api.protocol import Exchange, Request, compact, path, send
from neon_api.wire import BranchJSON, EndpointJSON, OperationJSON


class Unset(enum.Enum):
    """Marks an argument that was not given, where None has a meaning of its own (clear the field)."""

    UNSET = enum.auto()


UNSET = Unset.UNSET

Moment = datetime | str


class _RestoredJSON(TypedDict):
    branch: BranchJSON
    endpoints: list[EndpointJSON]
    operations: list[OperationJSON]


def rfc3339(moment: Moment) -> str:
    """An aware datetime as RFC 3339 in UTC (`...Z`); strings are passed through as given."""
    if isinstance(moment, str):
        return moment
    if moment.tzinfo is None:
        raise ValueError("naive datetime: give Neon timestamps a timezone")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def create_snapshot(
    project_id: str,
    branch_id: str,
    *,
    name: str | None = None,
    lsn: str | None = None,
    timestamp: Moment | None = None,
    expires_at: Moment | None = None,
) -> Exchange[Mutation[Snapshot]]:
    """POST .../branches/{id}/snapshot. Neon reads QUERY parameters only (a JSON body is silently ignored).

    Root branches only; names are unique per project (a duplicate is a Conflict); `lsn` and `timestamp` are
    mutually exclusive; without either the snapshot is taken at the branch head.
    """
    params = compact(
        name=name,
        lsn=lsn,
        timestamp=rfc3339(timestamp) if timestamp is not None else None,
        expires_at=rfc3339(expires_at) if expires_at is not None else None,
    )
    request = Request("POST", path("projects", project_id, "branches", branch_id, "snapshot"), params)
    return (yield from mutation(request, "snapshot", Snapshot.from_json))


def list_snapshots(project_id: str) -> Exchange[list[Snapshot]]:
    """GET /projects/{id}/snapshots (not paginated by Neon)."""
    response = yield from send(Request("GET", path("projects", project_id, "snapshots")))
    return [Snapshot.from_json(item) for item in cast(Mapping[str, Any], response.json())["snapshots"]]


def find_snapshot(project_id: str, name: str) -> Exchange[Snapshot | None]:
    """The snapshot named exactly `name`, or None (Neon has no GET for one snapshot)."""
    snapshots = yield from list_snapshots(project_id)
    return next((snapshot for snapshot in snapshots if snapshot.name == name), None)


def update_snapshot(
    project_id: str,
    snapshot_id: str,
    *,
    name: str | None = None,
    expires_at: Moment | Unset | None = UNSET,
) -> Exchange[Snapshot]:
    """PATCH a snapshot's name and/or expiry; `expires_at=None` clears the expiry."""
    fields: dict[str, Any] = compact(name=name)
    if not isinstance(expires_at, Unset):
        fields["expires_at"] = rfc3339(expires_at) if expires_at is not None else None
    request = Request(
        "PATCH", path("projects", project_id, "snapshots", snapshot_id), json={"snapshot": fields}
    )
    response = yield from send(request)
    return Snapshot.from_json(cast(Mapping[str, Any], response.json())["snapshot"])


def delete_snapshot(project_id: str, snapshot_id: str) -> Exchange[tuple[Operation, ...]]:
    """DELETE a snapshot (202 with operations); one already gone (404) yields no operations."""
    request = Request(
        "DELETE", path("projects", project_id, "snapshots", snapshot_id), allow=frozenset({404})
    )
    return (yield from deletion(request))


def restore_snapshot(
    project_id: str,
    snapshot_id: str,
    *,
    target_branch_id: str | None = None,
    finalize: bool = False,
    name: str | None = None,
) -> Exchange[RestoredSnapshot]:
    """POST /projects/{id}/snapshots/{id}/restore.

    Always pass `target_branch_id`: Neon's default is the snapshot's source branch, which after a finalized
    restore is the `<name> (old)` branch. With `finalize=True` the target's computes move to the new branch
    (same connection string) and the new branch takes the target's name; its id is `result.branch.id`.
    """
    body: dict[str, Any] = compact(name=name, target_branch_id=target_branch_id)
    body["finalize_restore"] = finalize
    request = Request("POST", path("projects", project_id, "snapshots", snapshot_id, "restore"), json=body)
    response = yield from send(request)
    restored = cast(_RestoredJSON, response.json())
    return RestoredSnapshot(
        branch=Branch.from_json(restored["branch"]),
        endpoints=tuple(Endpoint.from_json(e) for e in restored.get("endpoints") or ()),
        operations=operations_from_json(restored.get("operations")),
    )


def finalize_restore(
    project_id: str, branch_id: str, *, name: str | None = None
) -> Exchange[tuple[Operation, ...]]:
    """POST .../branches/{restored id}/finalize_restore; `name` renames the REPLACED branch."""
    where = path("projects", project_id, "branches", branch_id, "finalize_restore")
    return (yield from operations(Request("POST", where, json=compact(name=name))))
