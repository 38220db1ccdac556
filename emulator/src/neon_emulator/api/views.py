"""Neon API v2 JSON shapes (neon-api.md §2-§7) for the model's records. Pure functions, no state."""

from __future__ import annotations

from typing import Any

from neon_emulator.model.branches import BranchPage
from neon_emulator.model.entities import (
    Branch,
    Database,
    DeletedBranch,
    Endpoint,
    Operation,
    Project,
    Role,
    Snapshot,
)
from neon_emulator.model.projects import DEFAULT_ORG, DEFAULT_OWNER, Created

LOOPBACK = "127.0.0.1"
PROXY_HOST = "127.0.0.1"


def endpoint_host(endpoint: Endpoint) -> str:
    # Neon's host is a DNS name on port 5432; here every endpoint is a loopback port, so the host carries it
    # and the Neon idiom `postgresql://role:pw@{host}/{db}` still yields a working URI.
    return f"{LOOPBACK}:{endpoint.port}"


# As Neon's URIs: TLS required, and SCRAM bound to the TLS channel (engine/tls.py makes the certificates).
URI_PARAMETERS = "sslmode=require&channel_binding=require"


def connection_uri(endpoint: Endpoint, role: Role, database: str) -> str:
    return f"postgresql://{role.name}:{role.password}@{endpoint_host(endpoint)}/{database}?{URI_PARAMETERS}"


def project_view(project: Project) -> dict[str, Any]:
    return {
        "id": project.id,
        "platform_id": "aws",
        "region_id": project.region_id,
        "name": project.name,
        "provisioner": "k8s-neonvm",
        "default_endpoint_settings": {
            "autoscaling_limit_min_cu": 0.25,
            "autoscaling_limit_max_cu": 0.25,
            "suspend_timeout_seconds": 0,
            **project.default_endpoint_settings,
        },
        "settings": project.settings,
        "pg_version": project.pg_version,
        "proxy_host": PROXY_HOST,
        "branch_logical_size_limit": 3072,
        "branch_logical_size_limit_bytes": 3072 * 1024 * 1024,
        "store_passwords": project.store_passwords,
        "creation_source": "console",
        "history_retention_seconds": project.history_retention_seconds,
        "created_at": project.created_at,
        "updated_at": project.updated_at,
        "consumption_period_start": project.created_at,
        "consumption_period_end": "0001-01-01T00:00:00Z",
        "owner_id": project.owner or DEFAULT_OWNER,
        "org_id": project.org_id or DEFAULT_ORG,
        "data_storage_bytes_hour": 0,
        "data_transfer_bytes": 0,
        "written_data_bytes": 0,
        "compute_time_seconds": 0,
        "active_time_seconds": 0,
        "cpu_used_sec": 0,
    }


def branch_view(branch: Branch, deleted: DeletedBranch | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": branch.id,
        "project_id": branch.project_id,
        "name": branch.name,
        "current_state": branch.current_state,
        "state_changed_at": branch.state_changed_at,
        "creation_source": branch.creation_source,
        "default": branch.default,
        "primary": branch.default,
        "protected": branch.protected,
        "init_source": branch.init_source,
        "logical_size": 0,
        "cpu_used_sec": 0,
        "compute_time_seconds": 0,
        "active_time_seconds": 0,
        "written_data_bytes": 0,
        "data_transfer_bytes": 0,
        "created_at": branch.created_at,
        "updated_at": branch.updated_at,
    }
    optional = {
        "parent_id": branch.parent_id,
        "parent_timestamp": branch.parent_timestamp,
        "pending_state": branch.pending_state,
        "expires_at": branch.expires_at,
        "restore_status": branch.restore_status,
        "restored_from": branch.restored_from,
        "restored_as": branch.restored_as,
    }
    out.update({k: v for k, v in optional.items() if v is not None})
    if deleted is not None:  # Neon's BranchRecoveryInfo, on lists with include_deleted=true
        out["recovery"] = {
            "deleted_at": deleted.deleted_at,
            "recoverable_until": deleted.recoverable_until,
            "deletion_method": deleted.deletion_method,
        }
    return out


def endpoint_view(endpoint: Endpoint, region_id: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "host": endpoint_host(endpoint),
        "id": endpoint.id,
        "project_id": endpoint.project_id,
        "branch_id": endpoint.branch_id,
        "autoscaling_limit_min_cu": endpoint.autoscaling_limit_min_cu,
        "autoscaling_limit_max_cu": endpoint.autoscaling_limit_max_cu,
        "region_id": region_id,
        "type": endpoint.type,
        "current_state": endpoint.current_state,
        "settings": endpoint.settings or {"pg_settings": {}},
        "pooler_enabled": False,
        "pooler_mode": "transaction",
        "disabled": endpoint.disabled,
        "passwordless_access": False,
        "creation_source": "console",
        "created_at": endpoint.created_at,
        "updated_at": endpoint.updated_at,
        "proxy_host": PROXY_HOST,
        "suspend_timeout_seconds": endpoint.suspend_timeout_seconds,
        "provisioner": endpoint.provisioner,
        "port": endpoint.port,  # emulator extension: the loopback port of this endpoint's postgres
    }
    optional = {
        "name": endpoint.name,
        "pending_state": endpoint.pending_state,
        "started_at": endpoint.started_at,
        "suspended_at": endpoint.suspended_at,
    }
    out.update({k: v for k, v in optional.items() if v is not None})
    return out


def role_view(role: Role, *, with_password: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "branch_id": role.branch_id,
        "name": role.name,
        "protected": role.protected,
        "authentication_method": "password",
        "created_at": role.created_at,
        "updated_at": role.updated_at,
    }
    if with_password:
        out["password"] = role.password
    return out


def database_view(database: Database) -> dict[str, Any]:
    return {
        "id": database.id,
        "branch_id": database.branch_id,
        "name": database.name,
        "owner_name": database.owner_name,
        "created_at": database.created_at,
        "updated_at": database.updated_at,
    }


def snapshot_view(snapshot: Snapshot) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": snapshot.id,
        "name": snapshot.name,
        "source_branch_id": snapshot.source_branch_id,
        "created_at": snapshot.created_at,
        "timestamp": snapshot.timestamp,
        "manual": snapshot.manual,
    }
    optional = {
        "expires_at": snapshot.expires_at,
        "lsn": snapshot.lsn,
        "full_size": snapshot.full_size,  # absent until measured, as on Neon
        "diff_size": snapshot.diff_size,
    }
    out.update({k: v for k, v in optional.items() if v is not None})
    return out


def operation_view(op: Operation) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": op.id,
        "project_id": op.project_id,
        "action": op.action,
        "status": op.status,
        "failures_count": op.failures_count,
        "created_at": op.created_at,
        "updated_at": op.updated_at,
        "total_duration_ms": op.total_duration_ms,
    }
    optional = {"branch_id": op.branch_id, "endpoint_id": op.endpoint_id, "error": op.error}
    out.update({k: v for k, v in optional.items() if v is not None})
    return out


def operations_view(ops: list[Operation]) -> list[dict[str, Any]]:
    return [operation_view(o) for o in ops]


def created_view(created: Created) -> dict[str, Any]:
    """What a create call answers besides its resource: endpoints, operations, roles (with passwords),
    databases, the branch, and a connection URI per database and its owner."""
    region_id = created.project.region_id
    out: dict[str, Any] = {
        "endpoints": [endpoint_view(e, region_id) for e in created.endpoints],
        "operations": operations_view(created.operations),
        "roles": [role_view(r, with_password=True) for r in created.roles],
        "databases": [database_view(d) for d in created.databases],
    }
    if created.branch is not None:
        out["branch"] = branch_view(created.branch)
    if created.endpoints:
        endpoint = created.endpoints[0]
        out["connection_uris"] = [
            connection_uri_view(endpoint, role, db.name)
            for db in created.databases
            for role in created.roles
            if role.name == db.owner_name
        ]
    return out


def connection_uri_view(endpoint: Endpoint, role: Role, database: str) -> dict[str, Any]:
    return {
        "connection_uri": connection_uri(endpoint, role, database),
        "connection_parameters": {
            "database": database,
            "password": role.password,
            "role": role.name,
            "host": endpoint_host(endpoint),
            "pooler_host": endpoint_host(endpoint),
        },
    }


def _pagination(cursor: str | None) -> dict[str, Any]:
    # Neon's Pagination requires a non-empty cursor: with none (an empty first page), no pagination at all.
    return {"pagination": {"cursor": cursor}} if cursor else {}


def project_list_item_view(project: Project) -> dict[str, Any]:
    """An item of `GET /projects` (Neon's ProjectListItem: the project plus `active_time`, `org_name`, and
    for a deleted one, with `?recoverable=true`, `deleted_at` and `recoverable_until`)."""
    out = {**project_view(project), "active_time": 0, "org_name": f"{project.org_id or DEFAULT_ORG}"}
    if project.deleted_at is not None:
        out |= {"deleted_at": project.deleted_at, "recoverable_until": project.recoverable_until}
    return out


def project_list_view(projects: list[Project], cursor: str | None) -> dict[str, Any]:
    return {
        "projects": [project_list_item_view(p) for p in projects],
        "applications": {},
        "integrations": {},
        **_pagination(cursor),
    }


def branch_list_view(page: BranchPage) -> dict[str, Any]:
    pagination: dict[str, Any] = {"sort_by": page.sort_by, "sort_order": page.sort_order}
    if page.next_cursor:
        pagination["next"] = page.next_cursor
    listed = [branch_view(b, page.deleted.get(b.id)) for b in page.branches]
    return {"branches": listed, "annotations": {}, "pagination": pagination}


def operation_list_view(ops: list[Operation], cursor: str | None) -> dict[str, Any]:
    return {"operations": operations_view(ops), **_pagination(cursor)}
