"""A Postgres role on a branch named by project + branch NAME; its password is a secret output."""

from __future__ import annotations

import re
from typing import Any

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, ReadResult, UpdateResult
from pulumi.dynamic import ResourceProvider as _ResourceProvider

from .access import call_on_branch, neon_call, require_branch, undo_on_failure, wait
from .inputs import diff_inputs, public_inputs
from .neon_resource import ON_BRANCH_UPDATABLE, NeonResource, OnBranch

IMMUTABLE = ("project_id", "name")
# Plain identifiers only: they end up unquoted in connection URLs and operator settings.
SQL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def branch_object_id(project_id: str, branch_name: str, name: str) -> str:
    return f"{project_id}/{branch_name}/{name}"


class RoleProvider(_ResourceProvider):
    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        if not SQL_NAME.match(str(news.get("name") or "")):
            failures.append(
                CheckFailure("name", "role names are 1-63 letters, digits or _ (not starting with a digit)")
            )
        return CheckResult(news, failures)

    def create(self, props: dict[str, Any]) -> CreateResult:
        project_id, name = props["project_id"], props["name"]
        with neon_call(f"creating role {name!r}", props) as client:
            branch = require_branch(client, project_id, props["branch_name"])
            created = client.create_role(project_id, branch.id, name)
            with undo_on_failure(lambda: client.delete_role(project_id, branch.id, name)):
                wait(client, project_id, created.operations)
                password = created.value.password or client.reveal_role_password(project_id, branch.id, name)
        outs = {**public_inputs(props), "password": password}
        return CreateResult(branch_object_id(project_id, props["branch_name"], name), outs)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        with neon_call(f"reading role {props['name']!r}", props) as client:
            role = call_on_branch(client, props, client.get_role)
        if role is None:
            return ReadResult("", {})
        return ReadResult(id_, public_inputs(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return diff_inputs(olds, news, replace=IMMUTABLE, update=ON_BRANCH_UPDATABLE)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult({**public_inputs(news), "password": olds.get("password")})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        with neon_call(f"deleting role {props['name']!r}", props) as client:
            operations = call_on_branch(client, props, client.delete_role)
            wait(client, props["project_id"], operations or ())  # None: gone, with its branch


class NeonRole(NeonResource, module="neon", name="Role"):
    name: pulumi.Output[str]
    password: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        where: OnBranch,
        *,
        name: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        inputs = {**where.inputs(), "name": name}
        super().__init__(
            RoleProvider(),
            resource_name,
            where.api,
            inputs,
            outputs=("password",),
            secret=("password",),
            opts=opts,
        )
