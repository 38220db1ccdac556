"""A database on a branch named by project + branch NAME, owned by a role on the same branch."""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, ReadResult, UpdateResult
from pulumi.dynamic import ResourceProvider as _ResourceProvider

from .access import call_on_branch, neon_call, require_branch, undo_on_failure, wait
from .inputs import diff_inputs, public_inputs
from .neon_resource import ON_BRANCH_UPDATABLE, NeonResource, OnBranch
from .role import SQL_NAME, branch_object_id

# neon_api has no call to change a database's owner, so every field but the credentials replaces it.
IMMUTABLE = ("project_id", "name", "owner_name")


class DatabaseProvider(_ResourceProvider):
    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        for key in ("name", "owner_name"):
            if not SQL_NAME.match(str(news.get(key) or "")):
                failures.append(CheckFailure(key, "1-63 letters, digits or _ (not starting with a digit)"))
        return CheckResult(news, failures)

    def create(self, props: dict[str, Any]) -> CreateResult:
        project_id, name = props["project_id"], props["name"]
        with neon_call(f"creating database {name!r}", props) as client:
            branch = require_branch(client, project_id, props["branch_name"])
            created = client.create_database(project_id, branch.id, name, owner_name=props["owner_name"])
            with undo_on_failure(lambda: client.delete_database(project_id, branch.id, name)):
                wait(client, project_id, created.operations)
        return CreateResult(branch_object_id(project_id, props["branch_name"], name), public_inputs(props))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        with neon_call(f"reading database {props['name']!r}", props) as client:
            database = call_on_branch(client, props, client.get_database)
        if database is None:
            return ReadResult("", {})
        # A changed owner shows up as drift and is repaired by the next `pulumi up`.
        return ReadResult(id_, {**public_inputs(props), "owner_name": database.owner_name})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return diff_inputs(olds, news, replace=IMMUTABLE, update=ON_BRANCH_UPDATABLE)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(public_inputs(news))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        with neon_call(f"deleting database {props['name']!r}", props) as client:
            operations = call_on_branch(client, props, client.delete_database)
            wait(client, props["project_id"], operations or ())  # None: gone, with its branch


class NeonDatabase(NeonResource, module="neon", name="Database"):
    name: pulumi.Output[str]
    owner_name: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        where: OnBranch,
        *,
        name: pulumi.Input[str],
        owner_name: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        inputs = {**where.inputs(), "name": name, "owner_name": owner_name}
        super().__init__(DatabaseProvider(), resource_name, where.api, inputs, opts=opts)
