"""A Neon project, created with its root branch already named (the app's production branch)."""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, ReadResult, UpdateResult
from pulumi.dynamic import ResourceProvider as _ResourceProvider

from .access import CREDENTIAL_KEYS, if_exists, neon_call, undo_on_failure, wait
from .inputs import diff_inputs, public_inputs
from .neon_resource import NeonApi, NeonResource

IMMUTABLE = ("region_id", "pg_version")
# `root_branch_name` only names the root branch at creation; renaming it later is the Branch resource's job
# (an in-place rename), never a reason to replace the project and its data.
UPDATABLE = ("name",)


class ProjectProvider(_ResourceProvider):
    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        if not str(news.get("name") or "").strip():
            failures.append(CheckFailure("name", "a Neon project needs a name"))
        if not str(news.get("root_branch_name") or "").strip():
            failures.append(CheckFailure("root_branch_name", "the root branch needs a name"))
        return CheckResult(news, failures)

    def create(self, props: dict[str, Any]) -> CreateResult:
        with neon_call(f"creating Neon project {props['name']!r}", props) as client:
            created = client.create_project(
                name=props["name"],
                region_id=props.get("region_id") or None,
                pg_version=props.get("pg_version") or None,
                branch_name=props["root_branch_name"],
            )
            project_id = created.project.id
            with undo_on_failure(lambda: client.delete_project(project_id)):
                wait(client, project_id, created.operations)
        return CreateResult(project_id, {**public_inputs(props), "project_id": project_id})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        with neon_call(f"reading Neon project {id_}", props) as client:
            project = if_exists(client.get_project, id_)
        if project is None:
            return ReadResult("", {})
        return ReadResult(id_, {**public_inputs(props), "name": project.name, "project_id": project.id})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return diff_inputs(olds, news, replace=IMMUTABLE, update=UPDATABLE + CREDENTIAL_KEYS)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        if olds.get("name") != news["name"]:
            with neon_call(f"renaming Neon project {id_}", news) as client:
                renamed = client.update_project(id_, name=news["name"])
                wait(client, id_, renamed.operations)
        return UpdateResult({**public_inputs(news), "project_id": id_})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        with neon_call(f"deleting Neon project {id_}", props) as client:
            client.delete_project(id_)


class NeonProject(NeonResource, module="neon", name="Project"):
    project_id: pulumi.Output[str]
    name: pulumi.Output[str]
    root_branch_name: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        api: NeonApi,
        *,
        name: pulumi.Input[str],
        root_branch_name: pulumi.Input[str],
        region_id: str | None = None,
        pg_version: int | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        inputs = {
            "name": name,
            "root_branch_name": root_branch_name,
            "region_id": region_id,
            "pg_version": pg_version,
        }
        super().__init__(ProjectProvider(), resource_name, api, inputs, outputs=("project_id",), opts=opts)
