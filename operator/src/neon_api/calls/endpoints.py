"""Endpoints (computes): list, read, create, delete, start/suspend/restart."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, cast

from neon_api.calls.mutations import deletion, mutation
from neon_api.models import Endpoint, Mutation, Operation
from neon_api.protocol import Exchange, Request, path, send


def list_endpoints(project_id: str, *, branch_id: str | None = None) -> Exchange[list[Endpoint]]:
    """All endpoints of the project, or of one branch (not paginated by Neon)."""
    if branch_id is None:
        where = path("projects", project_id, "endpoints")
    else:
        where = path("projects", project_id, "branches", branch_id, "endpoints")
    response = yield from send(Request("GET", where))
    body = cast(Mapping[str, Any], response.json())
    return [Endpoint.from_json(item) for item in body["endpoints"]]


def get_endpoint(project_id: str, endpoint_id: str) -> Exchange[Endpoint]:
    response = yield from send(Request("GET", path("projects", project_id, "endpoints", endpoint_id)))
    return Endpoint.from_json(cast(Mapping[str, Any], response.json())["endpoint"])


def create_endpoint(
    project_id: str, branch_id: str, *, type: Literal["read_write", "read_only"] = "read_write"
) -> Exchange[Mutation[Endpoint]]:
    """POST /projects/{id}/endpoints; a second read_write endpoint on a branch is a 409 Conflict."""
    body = {"endpoint": {"branch_id": branch_id, "type": type}}
    request = Request("POST", path("projects", project_id, "endpoints"), json=body)
    return (yield from mutation(request, "endpoint", Endpoint.from_json))


def delete_endpoint(project_id: str, endpoint_id: str) -> Exchange[tuple[Operation, ...]]:
    request = Request(
        "DELETE", path("projects", project_id, "endpoints", endpoint_id), allow=frozenset({404})
    )
    return (yield from deletion(request))


def start_endpoint(project_id: str, endpoint_id: str) -> Exchange[Mutation[Endpoint]]:
    return (yield from _action(project_id, endpoint_id, "start"))


def suspend_endpoint(project_id: str, endpoint_id: str) -> Exchange[Mutation[Endpoint]]:
    return (yield from _action(project_id, endpoint_id, "suspend"))


def restart_endpoint(project_id: str, endpoint_id: str) -> Exchange[Mutation[Endpoint]]:
    return (yield from _action(project_id, endpoint_id, "restart"))


def _action(project_id: str, endpoint_id: str, action: str) -> Exchange[Mutation[Endpoint]]:
    request = Request("POST", path("projects", project_id, "endpoints", endpoint_id, action))
    return (yield from mutation(request, "endpoint", Endpoint.from_json))
