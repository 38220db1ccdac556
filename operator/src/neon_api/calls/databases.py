"""Databases, roles and connection URIs of a branch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from neon_api.calls.mutations import deletion, mutation
from neon_api.models import Database, Mutation, Operation, Role
from neon_api.protocol import Exchange, Request, compact, path, send


def _branch_path(project_id: str, branch_id: str, *rest: str) -> str:
    return path("projects", project_id, "branches", branch_id, *rest)


def list_databases(project_id: str, branch_id: str) -> Exchange[list[Database]]:
    response = yield from send(Request("GET", _branch_path(project_id, branch_id, "databases")))
    return [Database.from_json(item) for item in cast(Mapping[str, Any], response.json())["databases"]]


def get_database(project_id: str, branch_id: str, name: str) -> Exchange[Database]:
    response = yield from send(Request("GET", _branch_path(project_id, branch_id, "databases", name)))
    return Database.from_json(cast(Mapping[str, Any], response.json())["database"])


def create_database(
    project_id: str, branch_id: str, name: str, *, owner_name: str
) -> Exchange[Mutation[Database]]:
    body = {"database": {"name": name, "owner_name": owner_name}}
    request = Request("POST", _branch_path(project_id, branch_id, "databases"), json=body)
    return (yield from mutation(request, "database", Database.from_json))


def delete_database(project_id: str, branch_id: str, name: str) -> Exchange[tuple[Operation, ...]]:
    where = _branch_path(project_id, branch_id, "databases", name)
    return (yield from deletion(Request("DELETE", where, allow=frozenset({404}))))


def list_roles(project_id: str, branch_id: str) -> Exchange[list[Role]]:
    response = yield from send(Request("GET", _branch_path(project_id, branch_id, "roles")))
    return [Role.from_json(item) for item in cast(Mapping[str, Any], response.json())["roles"]]


def get_role(project_id: str, branch_id: str, name: str) -> Exchange[Role]:
    response = yield from send(Request("GET", _branch_path(project_id, branch_id, "roles", name)))
    return Role.from_json(cast(Mapping[str, Any], response.json())["role"])


def create_role(project_id: str, branch_id: str, name: str) -> Exchange[Mutation[Role]]:
    """POST .../roles; the returned role carries its password (hidden from repr). Drops active connections."""
    request = Request("POST", _branch_path(project_id, branch_id, "roles"), json={"role": {"name": name}})
    return (yield from mutation(request, "role", Role.from_json))


def delete_role(project_id: str, branch_id: str, name: str) -> Exchange[tuple[Operation, ...]]:
    where = _branch_path(project_id, branch_id, "roles", name)
    return (yield from deletion(Request("DELETE", where, allow=frozenset({404}))))


def reveal_role_password(project_id: str, branch_id: str, name: str) -> Exchange[str]:
    """The role's password; PreconditionFailed (412) when the project does not store passwords."""
    response = yield from send(
        Request("GET", _branch_path(project_id, branch_id, "roles", name, "reveal_password"))
    )
    return str(cast(Mapping[str, Any], response.json())["password"])


def reset_role_password(project_id: str, branch_id: str, name: str) -> Exchange[Mutation[Role]]:
    """New password in the result; the old one stays valid until the returned operations finish."""
    request = Request("POST", _branch_path(project_id, branch_id, "roles", name, "reset_password"))
    return (yield from mutation(request, "role", Role.from_json))


def connection_uri(
    project_id: str,
    *,
    database_name: str,
    role_name: str,
    branch_id: str | None = None,
    endpoint_id: str | None = None,
    pooled: bool = False,
) -> Exchange[str]:
    """GET /projects/{id}/connection_uri (defaults: the default branch and its read_write endpoint).

    The URI embeds the password: never log it.
    """
    params = compact(
        database_name=database_name, role_name=role_name, branch_id=branch_id, endpoint_id=endpoint_id
    )
    params["pooled"] = "true" if pooled else "false"
    response = yield from send(Request("GET", path("projects", project_id, "connection_uri"), params))
    return str(cast(Mapping[str, Any], response.json())["uri"])
