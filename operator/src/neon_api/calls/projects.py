"""Projects: create, read, list, rename, delete."""

from __future__ import annotations

from typing import Any, TypedDict, cast

from neon_api.calls.mutations import mutation
from neon_api.calls.pages import collect
from neon_api.models import (
    Branch,
    CreatedProject,
    Database,
    Endpoint,
    Mutation,
    Project,
    Role,
    operations_from_json,
)
from neon_api.protocol import Exchange, Request, compact, path, send
from neon_api.wire import (
    BranchJSON,
    ConnectionURIJSON,
    DatabaseJSON,
    EndpointJSON,
    OperationJSON,
    ProjectJSON,
    RoleJSON,
)


class _CreatedProjectJSON(TypedDict):
    project: ProjectJSON
    branch: BranchJSON
    endpoints: list[EndpointJSON]
    databases: list[DatabaseJSON]
    roles: list[RoleJSON]
    connection_uris: list[ConnectionURIJSON]
    operations: list[OperationJSON]


class _ProjectJSONBody(TypedDict):
    project: ProjectJSON
    operations: list[OperationJSON]


PROJECTS_PAGE = 400  # the API's maximum `limit` for GET /projects


def create_project(
    *,
    name: str | None = None,
    region_id: str | None = None,
    pg_version: int | None = None,
    branch_name: str | None = None,
    database_name: str | None = None,
    role_name: str | None = None,
) -> Exchange[CreatedProject]:
    """POST /projects. Not idempotent: persist `project.id` before doing anything else."""
    project: dict[str, Any] = compact(name=name, region_id=region_id, pg_version=pg_version)
    branch = compact(name=branch_name, database_name=database_name, role_name=role_name)
    if branch:
        project["branch"] = branch
    response = yield from send(Request("POST", "/projects", json={"project": project}))
    body = cast(_CreatedProjectJSON, response.json())
    return CreatedProject(
        project=Project.from_json(body["project"]),
        branch=Branch.from_json(body["branch"]),
        endpoints=tuple(Endpoint.from_json(e) for e in body.get("endpoints", [])),
        databases=tuple(Database.from_json(d) for d in body.get("databases", [])),
        roles=tuple(Role.from_json(r) for r in body.get("roles", [])),
        connection_uris=tuple(c["connection_uri"] for c in body.get("connection_uris", [])),
        operations=operations_from_json(body.get("operations")),
    )


def get_project(project_id: str) -> Exchange[Project]:
    response = yield from send(Request("GET", path("projects", project_id)))
    return Project.from_json(cast(_ProjectJSONBody, response.json())["project"])


def list_projects(*, search: str | None = None) -> Exchange[list[Project]]:
    """GET /projects, every page (`search` matches part of a name or id)."""
    first = Request("GET", "/projects", compact(search=search))
    return (yield from collect(first, "projects", Project.from_json, limit=PROJECTS_PAGE))


def update_project(project_id: str, *, name: str) -> Exchange[Mutation[Project]]:
    request = Request("PATCH", path("projects", project_id), json={"project": {"name": name}})
    return (yield from mutation(request, "project", Project.from_json))


def delete_project(project_id: str) -> Exchange[None]:
    """DELETE /projects/{id}; a project that is already gone (404) counts as deleted."""
    yield from send(Request("DELETE", path("projects", project_id), allow=frozenset({404})))
