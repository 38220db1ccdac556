"""Raw JSON shapes of Neon API v2 (the parse boundary): only the fields this client reads.

Unknown fields are ignored; optional ones are `NotRequired`. Shapes follow neon-api.md (SPEC25).
"""

from __future__ import annotations

from typing import NotRequired, TypedDict


class ErrorJSON(TypedDict, total=False):
    code: str
    message: str
    request_id: str


class ProjectJSON(TypedDict):
    id: str
    name: str
    region_id: str
    pg_version: int
    created_at: str
    updated_at: NotRequired[str]
    org_id: NotRequired[str]
    store_passwords: NotRequired[bool]
    proxy_host: NotRequired[str]


class BranchJSON(TypedDict):
    id: str
    project_id: str
    name: str
    current_state: str
    created_at: str
    default: NotRequired[bool]
    primary: NotRequired[bool]
    protected: NotRequired[bool]
    parent_id: NotRequired[str | None]
    parent_lsn: NotRequired[str | None]
    parent_timestamp: NotRequired[str | None]
    pending_state: NotRequired[str | None]
    updated_at: NotRequired[str]
    restore_status: NotRequired[str | None]
    restored_from: NotRequired[str | None]
    restored_as: NotRequired[str | None]


class EndpointJSON(TypedDict):
    id: str
    project_id: str
    branch_id: str
    host: str
    type: str
    current_state: str
    pending_state: NotRequired[str | None]
    region_id: NotRequired[str]
    created_at: NotRequired[str]


class DatabaseJSON(TypedDict):
    id: int
    branch_id: str
    name: str
    owner_name: str


class RoleJSON(TypedDict):
    branch_id: str
    name: str
    password: NotRequired[str | None]
    protected: NotRequired[bool]


class SnapshotJSON(TypedDict):
    id: str
    name: str
    created_at: str
    source_branch_id: NotRequired[str | None]
    lsn: NotRequired[str | None]
    timestamp: NotRequired[str | None]
    expires_at: NotRequired[str | None]
    manual: NotRequired[bool]
    full_size: NotRequired[int | None]
    diff_size: NotRequired[int | None]


class OperationJSON(TypedDict):
    id: str
    project_id: str
    action: str
    status: str
    created_at: str
    updated_at: str
    branch_id: NotRequired[str | None]
    endpoint_id: NotRequired[str | None]
    error: NotRequired[str | None]
    failures_count: NotRequired[int]
    retry_at: NotRequired[str | None]


class ConnectionURIJSON(TypedDict):
    connection_uri: str


# Pagination comes in two styles (neon-api.md §1): a timestamp `cursor` or an opaque `next`.
class PaginationJSON(TypedDict, total=False):
    cursor: str
    next: str | None
