"""Branches: list (paginated), exact-name lookup, create, rename/protect, delete, make default, restore from
another branch."""

from __future__ import annotations

from typing import Any, Literal, TypedDict, cast

from neon_api.calls.mutations import deletion, mutation
from neon_api.calls.pages import collect
from neon_api.models import Branch, CreatedBranch, Endpoint, Mutation, Operation, operations_from_json
from neon_api.protocol import Exchange, Request, compact, path, send
from neon_api.wire import BranchJSON, EndpointJSON, OperationJSON

BRANCHES_PAGE = 1000


class _BranchBody(TypedDict):
    branch: BranchJSON
    endpoints: list[EndpointJSON]
    operations: list[OperationJSON]


def list_branches(project_id: str, *, search: str | None = None) -> Exchange[list[Branch]]:
    """GET /projects/{id}/branches, every page. `search` is a PARTIAL match on name or id."""
    first = Request("GET", path("projects", project_id, "branches"), compact(search=search))
    return (yield from collect(first, "branches", Branch.from_json, limit=BRANCHES_PAGE))


def get_branch(project_id: str, branch_id: str) -> Exchange[Branch]:
    response = yield from send(Request("GET", path("projects", project_id, "branches", branch_id)))
    return Branch.from_json(cast(_BranchBody, response.json())["branch"])


def find_branch(project_id: str, name: str) -> Exchange[Branch | None]:
    """The branch named exactly `name`, or None.

    `search=main` also returns `main (old)` (left behind by every finalized restore) and `maintenance`;
    only an exact name match counts.
    """
    branches = yield from list_branches(project_id, search=name)
    return next((branch for branch in branches if branch.name == name), None)


def create_branch(
    project_id: str,
    *,
    name: str | None = None,
    parent_id: str | None = None,
    endpoint: Literal["read_write", "read_only"] | None = None,
) -> Exchange[CreatedBranch]:
    """POST /projects/{id}/branches; without `endpoint` the branch has no compute."""
    body: dict[str, Any] = {"branch": compact(name=name, parent_id=parent_id)}
    if endpoint is not None:
        body["endpoints"] = [{"type": endpoint}]
    response = yield from send(Request("POST", path("projects", project_id, "branches"), json=body))
    created = cast(_BranchBody, response.json())
    return CreatedBranch(
        branch=Branch.from_json(created["branch"]),
        endpoints=tuple(Endpoint.from_json(e) for e in created.get("endpoints") or ()),
        operations=operations_from_json(created.get("operations")),
    )


def update_branch(
    project_id: str, branch_id: str, *, name: str | None = None, protected: bool | None = None
) -> Exchange[Mutation[Branch]]:
    request = Request(
        "PATCH",
        path("projects", project_id, "branches", branch_id),
        json={"branch": compact(name=name, protected=protected)},
    )
    return (yield from mutation(request, "branch", Branch.from_json))


def delete_branch(
    project_id: str, branch_id: str, *, hard_delete: bool = False
) -> Exchange[tuple[Operation, ...]]:
    """DELETE a branch; a branch that is already gone (204 or 404) yields no operations. Neon keeps a deleted
    branch recoverable for 7 days (and counted against the branch limit) unless `hard_delete`."""
    request = Request(
        "DELETE",
        path("projects", project_id, "branches", branch_id),
        params={"hard_delete": "true"} if hard_delete else {},
        allow=frozenset({404}),
    )
    return (yield from deletion(request))


def set_default_branch(project_id: str, branch_id: str) -> Exchange[Mutation[Branch]]:
    request = Request("POST", path("projects", project_id, "branches", branch_id, "set_as_default"))
    return (yield from mutation(request, "branch", Branch.from_json))


def restore_branch(
    project_id: str,
    branch_id: str,
    *,
    source_branch_id: str,
    preserve_under_name: str | None = None,
    source_lsn: str | None = None,
    source_timestamp: str | None = None,
) -> Exchange[Mutation[Branch]]:
    """POST /projects/{id}/branches/{id}/restore: the branch's data becomes `source_branch_id`'s (at its head,
    or at `source_lsn`/`source_timestamp`); its id and computes stay, so its connection string does too.
    `preserve_under_name` keeps the state it had as a new branch of that name (Neon requires it when a
    branch is restored onto itself or has children)."""
    body = compact(
        source_branch_id=source_branch_id,
        preserve_under_name=preserve_under_name,
        source_lsn=source_lsn,
        source_timestamp=source_timestamp,
    )
    request = Request("POST", path("projects", project_id, "branches", branch_id, "restore"), json=body)
    return (yield from mutation(request, "branch", Branch.from_json))
