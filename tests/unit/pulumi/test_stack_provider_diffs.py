"""What each dynamic provider's `diff` asks the engine to do: replace for immutable inputs, update in place
for what Neon can change (and for rotated credentials), nothing otherwise. Pure: no Neon call is made."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi.dynamic import ResourceProvider
from pulumi_stack.neon_stack.branch import BranchProvider
from pulumi_stack.neon_stack.connection import ConnectionUriProvider
from pulumi_stack.neon_stack.database import DatabaseProvider
from pulumi_stack.neon_stack.endpoint import EndpointProvider
from pulumi_stack.neon_stack.project import ProjectProvider
from pulumi_stack.neon_stack.role import RoleProvider

CREDS = {"api_url": "http://127.0.0.1:4444/api/v2", "api_key": "k1"}
PROJECT = {**CREDS, "name": "app", "root_branch_name": "production", "region_id": None, "pg_version": None}
BRANCH = {**CREDS, "project_id": "p-1", "name": "production", "parent_name": None}
ON_BRANCH = {**CREDS, "project_id": "p-1", "branch_name": "production"}
ENDPOINT = {**ON_BRANCH, "type": "read_write"}
ROLE = {**ON_BRANCH, "name": "app_owner"}
DATABASE = {**ON_BRANCH, "name": "app", "owner_name": "app_owner"}
URL = {
    **ON_BRANCH,
    "endpoint_id": "ep-1",
    "database_name": "app",
    "role_name": "app_owner",
    "role_password": "pw",
}

ADOPTED_BRANCH = {**BRANCH, "adopted": True}

CASES = [
    # provider, old state, changed field, new value, expected replaces (None: no change at all)
    (ProjectProvider, PROJECT, "name", "app2", []),
    (ProjectProvider, PROJECT, "pg_version", 16, ["pg_version"]),
    # Only names the root branch at creation: never a reason to replace the project (and its data).
    (ProjectProvider, PROJECT, "root_branch_name", "main", None),
    (BranchProvider, BRANCH, "name", "staging", ["name"]),
    (BranchProvider, ADOPTED_BRANCH, "name", "prod", []),  # production is renamed in place
    (BranchProvider, BRANCH, "project_id", "p-2", ["project_id"]),
    (EndpointProvider, ENDPOINT, "type", "read_only", ["type"]),
    (RoleProvider, ROLE, "name", "other", ["name"]),
    (DatabaseProvider, DATABASE, "name", "other", ["name"]),
    (DatabaseProvider, DATABASE, "owner_name", "other", ["owner_name"]),
    (DatabaseProvider, DATABASE, "project_id", "p-2", ["project_id"]),
    # Children follow their branch's rename: updated, never replaced (that would drop the data).
    (EndpointProvider, ENDPOINT, "branch_name", "prod", []),
    (RoleProvider, ROLE, "branch_name", "prod", []),
    (DatabaseProvider, DATABASE, "branch_name", "prod", []),
    (ConnectionUriProvider, URL, "role_password", "pw2", []),
    (ConnectionUriProvider, URL, "endpoint_id", "ep-2", []),
]


@pytest.mark.parametrize(("provider", "state", "field", "value", "replaces"), CASES)
def test_a_changed_input(
    provider: type[ResourceProvider],
    state: dict[str, Any],
    field: str,
    value: Any,
    replaces: list[str] | None,
) -> None:
    news = {k: v for k, v in {**state, field: value}.items() if k != "adopted"}
    result = provider().diff("id", {**state, "computed": "x"}, news)
    if replaces is None:
        assert result.changes is False
    else:
        assert result.changes is True
        assert result.replaces == replaces


@pytest.mark.parametrize(
    "provider_inputs",
    [
        (ProjectProvider, PROJECT),
        (BranchProvider, BRANCH),
        (EndpointProvider, ENDPOINT),
        (RoleProvider, ROLE),
        (DatabaseProvider, DATABASE),
        (ConnectionUriProvider, URL),
    ],
    ids=lambda p: p[0].__name__,
)
class TestUnchangedAndRotatedCredentials:
    def test_same_inputs_are_no_change(
        self, provider_inputs: tuple[type[ResourceProvider], dict[str, Any]]
    ) -> None:
        provider, inputs = provider_inputs
        # Outputs (computed values) sit beside the inputs in `olds`; they must not count as changes.
        result = provider().diff("id", {**inputs, "project_id_out": "p-1", "password": "x"}, dict(inputs))
        assert result.changes is False

    def test_a_rotated_api_key_updates_in_place(
        self, provider_inputs: tuple[type[ResourceProvider], dict[str, Any]]
    ) -> None:
        provider, inputs = provider_inputs
        result = provider().diff("id", dict(inputs), {**inputs, "api_key": "k2"})
        assert result.changes is True
        assert result.replaces == []
