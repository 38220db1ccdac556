"""Typed values parsed from Neon's JSON: frozen dataclasses, unknown fields ignored.

Timestamps become timezone-aware `datetime`s. Anything that carries a password hides it from `repr`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar, cast

from neon_api.wire import (
    BranchJSON,
    DatabaseJSON,
    EndpointJSON,
    OperationJSON,
    ProjectJSON,
    RoleJSON,
    SnapshotJSON,
)

T = TypeVar("T")

IN_PROGRESS_STATUSES = frozenset({"scheduling", "running", "cancelling"})
SUCCESS_STATUSES = frozenset({"finished", "skipped"})
# `failed` is deliberately absent: Neon may retry a failed operation, so the waiter keeps polling it.
HARD_FAILURE_STATUSES = frozenset({"error", "cancelled"})


def parse_time(value: str) -> datetime:
    """RFC 3339 (Neon sends `...Z`, sometimes with fractional seconds) to an aware datetime."""
    return datetime.fromisoformat(value)


def _opt_time(value: str | None) -> datetime | None:
    return parse_time(value) if value else None


def _raw(data: object) -> Mapping[str, Any]:
    return cast(Mapping[str, Any], data)


@dataclass(frozen=True)
class Project:
    id: str
    name: str
    region_id: str
    pg_version: int
    created_at: datetime
    updated_at: datetime | None = None
    org_id: str | None = None
    store_passwords: bool | None = None
    proxy_host: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: ProjectJSON) -> Project:
        return cls(
            id=data["id"],
            name=data["name"],
            region_id=data["region_id"],
            pg_version=int(data["pg_version"]),
            created_at=parse_time(data["created_at"]),
            updated_at=_opt_time(data.get("updated_at")),
            org_id=data.get("org_id"),
            store_passwords=data.get("store_passwords"),
            proxy_host=data.get("proxy_host"),
            raw=_raw(data),
        )


@dataclass(frozen=True)
class Branch:
    id: str
    project_id: str
    name: str
    parent_id: str | None
    default: bool
    protected: bool
    current_state: str
    created_at: datetime
    restore_status: str | None = None
    restored_from: str | None = None
    restored_as: str | None = None
    pending_state: str | None = None
    parent_lsn: str | None = None
    parent_timestamp: datetime | None = None
    updated_at: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: BranchJSON) -> Branch:
        return cls(
            id=data["id"],
            project_id=data["project_id"],
            name=data["name"],
            parent_id=data.get("parent_id"),
            # `primary` is the deprecated spelling of `default`.
            default=bool(data.get("default", data.get("primary", False))),
            protected=bool(data.get("protected", False)),
            current_state=data["current_state"],
            created_at=parse_time(data["created_at"]),
            restore_status=data.get("restore_status"),
            restored_from=data.get("restored_from"),
            restored_as=data.get("restored_as"),
            pending_state=data.get("pending_state"),
            parent_lsn=data.get("parent_lsn"),
            parent_timestamp=_opt_time(data.get("parent_timestamp")),
            updated_at=_opt_time(data.get("updated_at")),
            raw=_raw(data),
        )


@dataclass(frozen=True)
class Endpoint:
    id: str
    project_id: str
    branch_id: str
    host: str
    type: str
    current_state: str
    pending_state: str | None = None
    region_id: str | None = None
    created_at: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: EndpointJSON) -> Endpoint:
        return cls(
            id=data["id"],
            project_id=data["project_id"],
            branch_id=data["branch_id"],
            host=data["host"],
            type=data["type"],
            current_state=data["current_state"],
            pending_state=data.get("pending_state"),
            region_id=data.get("region_id"),
            created_at=_opt_time(data.get("created_at")),
            raw=_raw(data),
        )


@dataclass(frozen=True)
class Database:
    id: int
    branch_id: str
    name: str
    owner_name: str

    @classmethod
    def from_json(cls, data: DatabaseJSON) -> Database:
        return cls(
            id=int(data["id"]), branch_id=data["branch_id"], name=data["name"], owner_name=data["owner_name"]
        )


@dataclass(frozen=True)
class Role:
    branch_id: str
    name: str
    password: str | None = field(default=None, repr=False)
    protected: bool = False

    @classmethod
    def from_json(cls, data: RoleJSON) -> Role:
        return cls(
            branch_id=data["branch_id"],
            name=data["name"],
            password=data.get("password"),
            protected=bool(data.get("protected", False)),
        )


@dataclass(frozen=True)
class Snapshot:
    id: str
    name: str
    source_branch_id: str | None
    created_at: datetime
    lsn: str | None = None
    timestamp: datetime | None = None
    expires_at: datetime | None = None
    manual: bool = True
    full_size: int | None = None
    diff_size: int | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: SnapshotJSON) -> Snapshot:
        return cls(
            id=data["id"],
            name=data["name"],
            source_branch_id=data.get("source_branch_id"),
            created_at=parse_time(data["created_at"]),
            lsn=data.get("lsn"),
            timestamp=_opt_time(data.get("timestamp")),
            expires_at=_opt_time(data.get("expires_at")),
            manual=bool(data.get("manual", True)),
            full_size=data.get("full_size"),
            diff_size=data.get("diff_size"),
            raw=_raw(data),
        )


@dataclass(frozen=True)
class Operation:
    id: str
    project_id: str
    branch_id: str | None
    endpoint_id: str | None
    action: str
    status: str
    error: str | None
    failures_count: int
    created_at: datetime
    updated_at: datetime
    retry_at: datetime | None = None

    @classmethod
    def from_json(cls, data: OperationJSON) -> Operation:
        return cls(
            id=data["id"],
            project_id=data["project_id"],
            branch_id=data.get("branch_id"),
            endpoint_id=data.get("endpoint_id"),
            action=data["action"],
            status=data["status"],
            error=data.get("error") or None,
            failures_count=int(data.get("failures_count", 0)),
            created_at=parse_time(data["created_at"]),
            updated_at=parse_time(data["updated_at"]),
            retry_at=_opt_time(data.get("retry_at")),
        )

    @property
    def in_progress(self) -> bool:
        """`scheduling`, `running` or `cancelling`."""
        return self.status in IN_PROGRESS_STATUSES

    @property
    def succeeded(self) -> bool:
        """`finished` or `skipped`."""
        return self.status in SUCCESS_STATUSES

    @property
    def failed_hard(self) -> bool:
        """`error` or `cancelled`: will not recover. (`failed` may still be retried by Neon.)"""
        return self.status in HARD_FAILURE_STATUSES


def operations_from_json(items: Sequence[OperationJSON] | None) -> tuple[Operation, ...]:
    return tuple(Operation.from_json(item) for item in items or ())


@dataclass(frozen=True)
class Mutation(Generic[T]):
    """The changed object plus the operations Neon started for it (wait for them before relying on it)."""

    value: T
    operations: tuple[Operation, ...]


@dataclass(frozen=True)
class CreatedProject:
    project: Project
    branch: Branch
    endpoints: tuple[Endpoint, ...]
    databases: tuple[Database, ...]
    roles: tuple[Role, ...]
    # Connection URIs embed the role password.
    connection_uris: tuple[str, ...] = field(repr=False)
    operations: tuple[Operation, ...]


@dataclass(frozen=True)
class CreatedBranch:
    branch: Branch
    endpoints: tuple[Endpoint, ...]
    operations: tuple[Operation, ...]


@dataclass(frozen=True)
class RestoredSnapshot:
    branch: Branch
    endpoints: tuple[Endpoint, ...]
    operations: tuple[Operation, ...]
