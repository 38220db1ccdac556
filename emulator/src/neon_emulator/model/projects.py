"""Project calls: create (with its root branch, endpoint, role and database), list, patch, delete (recoverable
for a window, as on Neon), recover."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .clock import format_ts, parse_ts
from .core import Model
from .endpoints import EndpointSpec, new_endpoint
from .entities import Branch, Database, Endpoint, Operation, Project, Role
from .errors import bad_request, not_found
from .ids import new_password

DEFAULT_REGION = "aws-us-east-2"
DEFAULT_PG_VERSION = 15  # what runs here
DEFAULT_HISTORY_RETENTION_SECONDS = 86400
DEFAULT_BRANCH = "main"
DEFAULT_DATABASE = "neondb"
DEFAULT_OWNER = "emulator"  # the first account's; projects made before accounts belong to it
DEFAULT_ORG = "org-emulator"


@dataclass(frozen=True)
class Created:
    """What a create call produced, for the HTTP layer to serialize."""

    project: Project
    branch: Branch | None
    endpoints: list[Endpoint]
    roles: list[Role]
    databases: list[Database]
    operations: list[Operation]


def create_project(
    model: Model,
    *,
    name: str | None,
    region_id: str | None,
    pg_version: int | None,
    store_passwords: bool | None,
    history_retention_seconds: int | None,
    settings: dict[str, Any],
    default_endpoint_settings: dict[str, Any],
    org_id: str | None,
    branch_name: str | None,
    database_name: str | None,
    role_name: str | None,
    owner: str | None = None,
) -> Created:
    """A project with Neon's defaults for what the request leaves out (or sends empty), owned by `owner`
    (an account) in `org_id` (the account's organisation: like an organisation key, whatever was asked)."""
    database_name = database_name or DEFAULT_DATABASE
    role_name = role_name or f"{database_name}_owner"
    while (project_id := model.ids.project()) in model.state.projects:
        pass
    now = model.clock.stamp()
    project = Project(
        id=project_id,
        name=name or project_id,
        region_id=region_id or DEFAULT_REGION,
        pg_version=pg_version or DEFAULT_PG_VERSION,
        store_passwords=store_passwords is not False,
        history_retention_seconds=(
            DEFAULT_HISTORY_RETENTION_SECONDS
            if history_retention_seconds is None
            else history_retention_seconds
        ),
        created_at=now,
        updated_at=now,
        settings=settings,
        default_endpoint_settings=default_endpoint_settings,
        org_id=org_id,
        owner=owner,
    )
    model.state.projects[project.id] = project
    branch = model.new_branch(project.id, branch_name or DEFAULT_BRANCH, default=True, project_root=True)
    endpoint = new_endpoint(model, project, branch.id, EndpointSpec())
    role = Role(branch.id, role_name, new_password(), now, now)
    database = Database(model.next_database_id(), branch.id, database_name, role_name, now, now)
    model.state.roles.append(role)
    model.state.databases.append(database)
    group = model.new_group()
    ops = [
        model.add_op(
            project.id,
            "create_timeline",
            {"kind": "init", "storage": branch.id, "entity": "branch", "id": branch.id},
            group,
            branch_id=branch.id,
        ),
        model.start_compute(endpoint, group),
    ]
    return Created(project, branch, [endpoint], [role], [database], ops)


def list_projects(
    model: Model,
    *,
    search: str | None,
    cursor: str | None,
    limit: int,
    owned_by: Callable[[str | None], bool] = lambda owner: True,
    org_id: str | None = None,
) -> tuple[list[Project], str | None]:
    """The projects whose owner `owned_by` accepts (and in `org_id` when given), newest first."""
    projects = sorted(
        (p for p in model.state.projects.values() if owned_by(p.owner) and p.deleted_at is None),
        key=lambda p: p.created_at,
        reverse=True,
    )
    if org_id:
        projects = [p for p in projects if (p.org_id or DEFAULT_ORG) == org_id]
    if search:
        needle = search.lower()
        projects = [p for p in projects if needle in p.name.lower() or needle in p.id]
    if cursor:
        projects = [p for p in projects if p.created_at < cursor]
    page = projects[:limit]
    return page, (page[-1].created_at if page else cursor)


def update_project(
    model: Model,
    project_id: str,
    *,
    name: str | None,
    settings: dict[str, Any] | None,
    default_endpoint_settings: dict[str, Any] | None,
    history_retention_seconds: int | None,
) -> Project:
    project = model.check_unlocked(project_id)
    if name is not None:
        project.name = name
    if settings is not None:
        project.settings = {**project.settings, **settings}
    if default_endpoint_settings is not None:
        project.default_endpoint_settings = {
            **project.default_endpoint_settings,
            **default_endpoint_settings,
        }
    if history_retention_seconds is not None:
        project.history_retention_seconds = history_retention_seconds
    model.touch(project)
    return project


def delete_project(model: Model, project_id: str) -> tuple[Project, list[str]]:
    """Neon's delete: the project answers 404 but stays recoverable for `model.project_recovery`, its data
    kept and its computes stopped; returns it and the endpoints to stop."""
    project = model.check_unlocked(project_id)
    now = model.clock.now()
    project.deleted_at = format_ts(now)
    project.recoverable_until = format_ts(now + model.project_recovery)
    endpoints = [e for e in model.state.endpoints.values() if e.project_id == project_id]
    for endpoint in endpoints:
        endpoint.current_state, endpoint.pending_state = "idle", None
    return project, [e.id for e in endpoints]


def recover_project(model: Model, project_id: str) -> tuple[Project, list[Operation]]:
    """A deleted project back within its window, its computes starting (Neon's wake at a connection)."""
    project = model.state.projects.get(project_id)
    if project is None:
        raise not_found("project", project_id)
    if project.deleted_at is None:
        raise bad_request(f"project {project_id} is not deleted")
    project.deleted_at = project.recoverable_until = None
    model.touch(project)
    group = model.new_group()
    ops = []
    for endpoint in model.endpoints_of(project_id):
        if not endpoint.disabled:
            endpoint.pending_state = "active"
            ops.append(model.start_compute(endpoint, group))
    return project, ops


def recoverable_projects(model: Model, owned_by: Callable[[str | None], bool]) -> list[Project]:
    deleted = (p for p in model.state.projects.values() if p.deleted_at is not None and owned_by(p.owner))
    return sorted(deleted, key=lambda p: p.deleted_at or "", reverse=True)


def purge_unrecoverable(model: Model) -> list[str]:
    """Deleted projects past their window, removed for good; returns the storage names to remove."""
    now = model.clock.now()
    storage: list[str] = []
    for project in list(model.state.projects.values()):
        if project.recoverable_until is not None and parse_ts(project.recoverable_until) <= now:
            storage += _remove_project(model, project.id)
    return storage


def _remove_project(model: Model, project_id: str) -> list[str]:
    """Remove the project's records; returns the storage names to remove (also kept in pending_removals)."""
    storage = [b.id for b in model.branches_of(project_id)]
    storage += [s.id for s in model.state.snapshots.values() if s.project_id == project_id]
    for deleted in [d for d in model.state.deleted_branches.values() if d.branch.project_id == project_id]:
        storage.append(deleted.branch.id)
        del model.state.deleted_branches[deleted.branch.id]
    for branch_id in [b.id for b in model.branches_of(project_id)]:
        model.drop_branch_records(branch_id)
    for snap_id in [s.id for s in model.state.snapshots.values() if s.project_id == project_id]:
        del model.state.snapshots[snap_id]
    for op_id in [o.id for o in model.state.operations.values() if o.project_id == project_id]:
        del model.state.operations[op_id]
    del model.state.projects[project_id]
    model.state.pending_removals.extend(storage)
    return storage
