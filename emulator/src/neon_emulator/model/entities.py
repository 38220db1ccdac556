"""The emulator's records: projects, branches, endpoints, roles, databases, snapshots and operations, as plain
mutable dataclasses kept in one `State` (state.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
    owner: str | None = None  # the account (api/accounts.py); None: made before accounts, the first one's
    # Set by DELETE: the project answers 404 everywhere but `?recoverable=true` and `/recover` until then.
    deleted_at: str | None = None
    recoverable_until: str | None = None


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
    # Neon-side snapshot schedule (BackupScheduleItem dicts): stored and answered, never run here.
    backup_schedule: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class DeletedBranch:
    """A soft-deleted branch (DELETE without hard_delete, or its `expires_at` passed): out of every lookup,
    its storage kept, recoverable until `recoverable_until` (7 days, as on Neon), then removed for good."""

    branch: Branch
    endpoints: list[Endpoint]
    roles: list[Role]
    databases: list[Database]
    deleted_at: str
    recoverable_until: str
    deletion_method: str  # "user" or "ttl"

    def to_json(self) -> dict[str, Any]:
        return {
            "branch": vars(self.branch),
            "endpoints": [vars(e) for e in self.endpoints],
            "roles": [vars(r) for r in self.roles],
            "databases": [vars(d) for d in self.databases],
            "deleted_at": self.deleted_at,
            "recoverable_until": self.recoverable_until,
            "deletion_method": self.deletion_method,
        }


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
    # Set once the data is copied, in the request that created the snapshot (so it is the branch's state
    # when the request was accepted); an operation finding it unset after a crash fails the snapshot.
    captured: bool = False
    lsn: str | None = None
    full_size: int | None = None  # bytes, measured after the capture; None until then (as on Neon)
    diff_size: int | None = None


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
    # Internal: what the executor does (a `kind` and its arguments, saved as is), and the request that created
    # it (a failure cancels the rest of its group).
    work: dict[str, Any] = field(default_factory=dict)
    group: str = ""
