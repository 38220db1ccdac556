"""The emulator's state: plain records, kept in one `State` that is persisted as JSON after every change."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

_T = TypeVar("_T")

# Operation statuses (neon-api.md §7).
IN_PROGRESS = frozenset({"scheduling", "running", "cancelling"})
TERMINAL = frozenset({"finished", "skipped", "error", "cancelled", "failed"})


@dataclass
class Project:
    id: str
    name: str
    region_id: str
    pg_version: int
    store_passwords: bool
    history_retention_seconds: int
    created_at: str
    updated_at: str
    settings: dict[str, Any] = field(default_factory=dict)
    default_endpoint_settings: dict[str, Any] = field(default_factory=dict)
    org_id: str | None = None


@dataclass
class Branch:
    id: str
    project_id: str
    name: str
    created_at: str
    updated_at: str
    state_changed_at: str
    current_state: str = "init"
    pending_state: str | None = "ready"
    parent_id: str | None = None
    parent_timestamp: str | None = None
    default: bool = False
    protected: bool = False
    # The project's root: refused for deletion. Moves to the new branch on a finalized restore.
    project_root: bool = False
    expires_at: str | None = None
    init_source: str = "parent-data"
    restore_status: str | None = None
    restored_from: str | None = None
    restored_as: str | None = None
    creation_source: str = "console"


@dataclass
class Endpoint:
    id: str
    project_id: str
    branch_id: str
    type: str
    port: int
    created_at: str
    updated_at: str
    current_state: str = "init"
    pending_state: str | None = "active"
    settings: dict[str, Any] = field(default_factory=dict)
    autoscaling_limit_min_cu: float = 0.25
    autoscaling_limit_max_cu: float = 0.25
    suspend_timeout_seconds: int = 0
    disabled: bool = False
    name: str | None = None
    provisioner: str = "k8s-neonvm"
    started_at: str | None = None
    suspended_at: str | None = None


@dataclass
class Role:
    branch_id: str
    name: str
    password: str
    created_at: str
    updated_at: str
    protected: bool = False
    login: bool = True


@dataclass
class Database:
    id: int
    branch_id: str
    name: str
    owner_name: str
    created_at: str
    updated_at: str


@dataclass
class Snapshot:
    id: str
    project_id: str
    name: str
    source_branch_id: str
    created_at: str
    timestamp: str
    expires_at: str | None = None
    manual: bool = True
    # Roles and databases at snapshot time: they live in the data directory, so a restore brings them back.
    roles: list[dict[str, Any]] = field(default_factory=list)
    databases: list[dict[str, Any]] = field(default_factory=list)
    ready: bool = False


@dataclass
class Operation:
    id: str
    project_id: str
    action: str
    status: str
    created_at: str
    updated_at: str
    branch_id: str | None = None
    endpoint_id: str | None = None
    error: str | None = None
    failures_count: int = 0
    total_duration_ms: int = 0
    # Internal: what the executor does (executor.py), and the request that created it (a failure cancels the
    # rest of its group).
    work: dict[str, Any] = field(default_factory=dict)
    group: str = ""


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
        )


def _load(cls: type[_T], raw: dict[str, Any]) -> _T:
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in raw.items() if k in names})
