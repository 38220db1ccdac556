"""A Neon project, created with its root branch already named (the app's production branch)."""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    UpdateResult,
)
from pulumi.dynamic import ResourceProvider as _ResourceProvider

from neon_api import errors

from .access import CREDENTIAL_KEYS, ApiAccess, changed_keys, neon_call, public_inputs, secret_outputs, wait

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
        access = ApiAccess.from_props(props)
        with neon_call(f"creating Neon project {props['name']!r}", access) as client:
            created = client.create_project(
                name=props["name"],
                region_id=props.get("region_id") or None,
                pg_version=props.get("pg_version") or None,
                branch_name=props["root_branch_name"],
            )
            project_id = created.project.id
            try:
                wait(client, project_id, created.operations)
            except BaseException:
                # Transactional create: a project whose set-up failed is removed, not left behind unmanaged.
                client.delete_project(project_id)
                raise
        return CreateResult(project_id, {**public_inputs(props), "project_id": project_id})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        with neon_call(f"reading Neon project {id_}", ApiAccess.from_props(props)) as client:
            try:
                project = client.get_project(id_)
            except errors.NotFound:
                return ReadResult("", {})
        return ReadResult(id_, {**public_inputs(props), "name": project.name, "project_id": project.id})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = changed_keys(olds, news, IMMUTABLE)
        updates = changed_keys(olds, news, UPDATABLE + CREDENTIAL_KEYS)
        return DiffResult(changes=bool(replaces or updates), replaces=replaces, delete_before_replace=True)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        if olds.get("name") != news["name"]:
            with neon_call(f"renaming Neon project {id_}", ApiAccess.from_props(news)) as client:
                renamed = client.update_project(id_, name=news["name"])
                wait(client, id_, renamed.operations)
        return UpdateResult({**public_inputs(news), "project_id": id_})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        with neon_call(f"deleting Neon project {id_}", ApiAccess.from_props(props)) as client:
            client.delete_project(id_)


class NeonProject(Resource, module="neon", name="Project"):
    project_id: pulumi.Output[str]
    name: pulumi.Output[str]
    root_branch_name: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        api_url: pulumi.Input[str],
        api_key: pulumi.Input[str],
        name: pulumi.Input[str],
        root_branch_name: pulumi.Input[str],
        region_id: str | None = None,
        pg_version: int | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "api_url": api_url,
            "api_key": api_key,
            "name": name,
            "root_branch_name": root_branch_name,
            "region_id": region_id,
            "pg_version": pg_version,
            "project_id": None,
        }
        super().__init__(ProjectProvider(), resource_name, props, secret_outputs(opts))
