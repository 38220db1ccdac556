"""All of the emulator's records in one `State`, and its JSON form: what `state.json` holds (persistence.py).

The JSON is the records' fields by name; fields a file lacks take their defaults and fields the records no
longer have are ignored, so an emulator restarted on an older data directory still loads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

from .entities import Branch, Database, DeletedBranch, Endpoint, Operation, Project, Role, Snapshot

_T = TypeVar("_T")


@dataclass
class State:
    projects: dict[str, Project] = field(default_factory=dict)
    branches: dict[str, Branch] = field(default_factory=dict)
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    roles: list[Role] = field(default_factory=list)
    databases: list[Database] = field(default_factory=list)
    snapshots: dict[str, Snapshot] = field(default_factory=dict)
    operations: dict[str, Operation] = field(default_factory=dict)
    # Storage names whose removal was promised but may not have happened yet (deleted projects).
    pending_removals: list[str] = field(default_factory=list)
    next_database_id: int = 1000000
    deleted_branches: dict[str, DeletedBranch] = field(default_factory=dict)  # recoverable, by branch id

    def to_json(self) -> dict[str, Any]:
        """A view for `json.dumps`, to be encoded at once: it shares the records' own dicts rather than
        copying them as `asdict` does, which made saving the state the emulator's main CPU cost under load."""
        return {
            "projects": {k: vars(v) for k, v in self.projects.items()},
            "branches": {k: vars(v) for k, v in self.branches.items()},
            "endpoints": {k: vars(v) for k, v in self.endpoints.items()},
            "roles": [vars(r) for r in self.roles],
            "databases": [vars(d) for d in self.databases],
            "snapshots": {k: vars(v) for k, v in self.snapshots.items()},
            "operations": {k: vars(v) for k, v in self.operations.items()},
            "pending_removals": self.pending_removals,
            "next_database_id": self.next_database_id,
            "deleted_branches": {k: v.to_json() for k, v in self.deleted_branches.items()},
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> State:
        return cls(
            projects={k: _load(Project, v) for k, v in raw.get("projects", {}).items()},
            branches={k: _load(Branch, v) for k, v in raw.get("branches", {}).items()},
            endpoints={k: _load(Endpoint, v) for k, v in raw.get("endpoints", {}).items()},
            roles=[_load(Role, v) for v in raw.get("roles", [])],
            databases=[_load(Database, v) for v in raw.get("databases", [])],
            snapshots={k: _load(Snapshot, v) for k, v in raw.get("snapshots", {}).items()},
            operations={k: _load(Operation, v) for k, v in raw.get("operations", {}).items()},
            pending_removals=list(raw.get("pending_removals", [])),
            next_database_id=int(raw.get("next_database_id", 1000000)),
            deleted_branches={k: _load_deleted(v) for k, v in raw.get("deleted_branches", {}).items()},
        )


def _load(cls: type[_T], raw: dict[str, Any]) -> _T:
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in raw.items() if k in names})


def _load_deleted(raw: dict[str, Any]) -> DeletedBranch:
    return DeletedBranch(
        branch=_load(Branch, raw["branch"]),
        endpoints=[_load(Endpoint, e) for e in raw.get("endpoints", [])],
        roles=[_load(Role, r) for r in raw.get("roles", [])],
        databases=[_load(Database, d) for d in raw.get("databases", [])],
        deleted_at=raw["deleted_at"],
        recoverable_until=raw["recoverable_until"],
        deletion_method=raw.get("deletion_method", "user"),
    )
