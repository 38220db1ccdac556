"""A branch of a Neon project, tracked by project + NAME.

A finalized snapshot restore gives the branch a new id (the old one becomes "<name> (old)"), so the
resource's id is "<project>/<name>" and every call looks the branch up by exact name; no branch id is ever
stored. The project's root branch already exists when the project is created: it is adopted, and left to
the project's deletion (Neon refuses to delete a root branch).
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, ReadResult, UpdateResult
from pulumi.dynamic import ResourceProvider as _ResourceProvider

from .access import CREDENTIAL_KEYS, ProviderError, neon_call, require_branch, undo_on_failure, wait
from .inputs import diff_inputs, public_inputs
from .neon_resource import NeonApi, NeonResource

IMMUTABLE = ("project_id", "parent_name")
OLD_SUFFIX = " (old)"


def branch_resource_id(project_id: str, name: str) -> str:
    return f"{project_id}/{name}"


class BranchProvider(_ResourceProvider):
    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        name = str(news.get("name") or "")
        if not name.strip() or name != name.strip() or len(name) > 256:
            failures.append(CheckFailure("name", "branch names are 1-256 characters without outer spaces"))
        elif name.endswith(OLD_SUFFIX):
            failures.append(CheckFailure("name", f"{OLD_SUFFIX!r} names are Neon's restore backups"))
        return CheckResult(news, failures)

    def create(self, props: dict[str, Any]) -> CreateResult:
        project_id, name = props["project_id"], props["name"]
        with neon_call(f"creating branch {name!r}", props) as client:
            existing = client.find_branch(project_id, name)
            if existing is not None:
                if not existing.default:
                    raise ProviderError(
                        f"branch {name!r} already exists in Neon project {project_id} and is not managed here"
                    )
                adopted = True
            else:
                parent_id = None
                if props.get("parent_name"):
                    parent_id = require_branch(client, project_id, props["parent_name"]).id
                created = client.create_branch(project_id, name=name, parent_id=parent_id)
                with undo_on_failure(lambda: client.delete_branch(project_id, created.branch.id)):
                    wait(client, project_id, created.operations)
                adopted = False
        outs = {**public_inputs(props), "adopted": adopted}
        return CreateResult(branch_resource_id(project_id, name), outs)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        with neon_call(f"reading branch {props['name']!r}", props) as client:
            if client.find_branch(props["project_id"], props["name"]) is None:
                return ReadResult("", {})
        return ReadResult(id_, public_inputs(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # A branch we created is replaced when renamed; the adopted root branch (production) is renamed in
        # place: replacing it would mean replacing the project and its data.
        renamed_in_place = bool(olds.get("adopted"))
        immutable = IMMUTABLE if renamed_in_place else (*IMMUTABLE, "name")
        return diff_inputs(olds, news, replace=immutable, update=(*CREDENTIAL_KEYS, "name"))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        project_id = news["project_id"]
        if olds.get("name") != news["name"]:
            with neon_call(f"renaming branch {olds.get('name')!r}", news) as client:
                branch = require_branch(client, project_id, olds["name"])
                renamed = client.update_branch(project_id, branch.id, name=news["name"])
                wait(client, project_id, renamed.operations)
        return UpdateResult({**public_inputs(news), "adopted": bool(olds.get("adopted"))})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        if props.get("adopted"):
            return  # the root branch goes with its project
        project_id, name = props["project_id"], props["name"]
        with neon_call(f"deleting branch {name!r}", props) as client:
            branch = client.find_branch(project_id, name)
            if branch is not None:
                wait(client, project_id, client.delete_branch(project_id, branch.id))


class NeonBranch(NeonResource, module="neon", name="Branch"):
    project_id: pulumi.Output[str]
    name: pulumi.Output[str]
    adopted: pulumi.Output[bool]

    def __init__(
        self,
        resource_name: str,
        api: NeonApi,
        *,
        project_id: pulumi.Input[str],
        name: pulumi.Input[str],
        parent_name: pulumi.Input[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        inputs = {"project_id": project_id, "name": name, "parent_name": parent_name}
        super().__init__(BranchProvider(), resource_name, api, inputs, outputs=("adopted",), opts=opts)
