"""One job per kind of operation work: what an operation asks of storage and servers, as plain frozen values.

The model describes an operation's work as a saved dict (`Operation.work`: a `kind` and its arguments; the
format of state.json). `resolve` turns it, on the event loop thread and against the model as it is now, into
the job a worker thread runs (executor.py), or None when there is nothing to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from neon_emulator.model.core import Model
from neon_emulator.model.entities import Endpoint
from neon_emulator.storage import StorageError


@dataclass(frozen=True)
class RoleSpec:
    name: str
    password: str
    login: bool


@dataclass(frozen=True)
class DatabaseSpec:
    name: str
    owner: str


@dataclass(frozen=True)
class Catalog:
    """A branch's roles and databases as the model has them, for its server to be brought in line with."""

    roles: tuple[RoleSpec, ...]
    databases: tuple[DatabaseSpec, ...]


@dataclass(frozen=True)
class InitCluster:
    """`init`: a new empty cluster (a project's root branch); a leftover of an interrupted try is replaced."""

    storage: str


@dataclass(frozen=True)
class CloneCluster:
    """`clone`: copy cluster `src` (a branch or snapshot) to `dst` (a new branch or snapshot)."""

    src: str
    dst: str


@dataclass(frozen=True)
class MeasureSnapshot:
    """`capture`: the snapshot's data was copied by its request; measure it (`full_size`, `diff_size`
    against `base`, the previous snapshot). `captured` False: a crash came between the request's record
    and its copy, so the snapshot fails rather than hold a later state."""

    storage: str
    base: str | None
    captured: bool


@dataclass(frozen=True)
class RemoveCluster:
    """`remove`: stop whatever serves the cluster and delete it."""

    storage: str


@dataclass(frozen=True)
class StartServer:
    """`start`: run the endpoint's postgres on its branch's cluster and port, with the branch's catalog."""

    endpoint_id: str
    storage: str
    port: int
    catalog: Catalog


@dataclass(frozen=True)
class StopServer:
    """`stop`: stop the endpoint's postgres."""

    endpoint_id: str


@dataclass(frozen=True)
class SyncCatalog:
    """`sync`: create the roles and databases the running server lacks, (re)set passwords and owners."""

    endpoint_id: str
    catalog: Catalog


@dataclass(frozen=True)
class DropRole:
    endpoint_id: str
    name: str


@dataclass(frozen=True)
class DropDatabase:
    endpoint_id: str
    name: str


@dataclass(frozen=True)
class RenameDatabase:
    endpoint_id: str
    old: str
    new: str


Job = (
    InitCluster
    | CloneCluster
    | MeasureSnapshot
    | RemoveCluster
    | StartServer
    | StopServer
    | SyncCatalog
    | DropRole
    | DropDatabase
    | RenameDatabase
)


def resolve(work: dict[str, Any], model: Model) -> Job | None:
    """The job for an operation's work; None for `noop`, and for work on an endpoint or branch server that
    is not there (deleted before it could start; a catalog change is applied at the branch's next start)."""
    match work.get("kind", "noop"):
        case "noop":
            return None
        case "init":
            return InitCluster(work["storage"])
        case "clone":
            return CloneCluster(src=work["src"], dst=work["dst"])
        case "capture":
            snap = model.state.snapshots.get(work["id"])
            return MeasureSnapshot(work["dst"], work.get("base"), snap is not None and snap.captured)
        case "remove":
            return RemoveCluster(work["storage"])
        case "stop":
            return StopServer(work["endpoint_id"])
        case "start":
            endpoint = model.state.endpoints.get(work["endpoint_id"])
            return None if endpoint is None else start_server(model, endpoint)
        case kind:
            return _catalog_job(kind, work, model)


def _catalog_job(kind: str, work: dict[str, Any], model: Model) -> Job | None:
    branch_id = work["branch_id"]
    endpoints = [e for e in model.state.endpoints.values() if e.branch_id == branch_id]
    if not endpoints:
        return None
    endpoint_id = endpoints[0].id
    match kind:
        case "sync":
            return SyncCatalog(endpoint_id, catalog_of(model, branch_id))
        case "drop_role":
            return DropRole(endpoint_id, work["name"])
        case "drop_database":
            return DropDatabase(endpoint_id, work["name"])
        case "rename_database":
            return RenameDatabase(endpoint_id, old=work["name"], new=work["new_name"])
    raise StorageError(f"unknown work kind {kind!r}")


def start_server(model: Model, endpoint: Endpoint) -> StartServer:
    return StartServer(endpoint.id, endpoint.branch_id, endpoint.port, catalog_of(model, endpoint.branch_id))


def catalog_of(model: Model, branch_id: str) -> Catalog:
    return Catalog(
        roles=tuple(RoleSpec(r.name, r.password, r.login) for r in model.roles_of(branch_id)),
        databases=tuple(DatabaseSpec(d.name, d.owner_name) for d in model.databases_of(branch_id)),
    )
