"""A compute endpoint on a branch named by project + branch NAME.

Endpoint ids survive a finalized restore (Neon moves the computes to the restored branch, so connection
strings stay the same), which makes the endpoint id a stable resource id. The read-write endpoint Neon
creates with a project is adopted rather than duplicated (a branch has at most one).
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, ReadResult, UpdateResult
from pulumi.dynamic import ResourceProvider as _ResourceProvider

from .access import if_exists, neon_call, require_branch, undo_on_failure, wait
from .inputs import diff_inputs, public_inputs
from .neon_resource import ON_BRANCH_UPDATABLE, NeonResource, OnBranch

IMMUTABLE = ("project_id", "type")
TYPES = ("read_write", "read_only")


class EndpointProvider(_ResourceProvider):
    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        if news.get("type") not in TYPES:
            failures.append(CheckFailure("type", f"endpoint type must be one of {', '.join(TYPES)}"))
        return CheckResult(news, failures)

    def create(self, props: dict[str, Any]) -> CreateResult:
        project_id, kind = props["project_id"], props["type"]
        with neon_call(f"creating an endpoint on {props['branch_name']!r}", props) as client:
            branch = require_branch(client, project_id, props["branch_name"])
            existing = [e for e in client.list_endpoints(project_id, branch_id=branch.id) if e.type == kind]
            if kind == "read_write" and existing:
                endpoint, adopted = existing[0], True
            else:
                created = client.create_endpoint(project_id, branch.id, type=kind)
                endpoint, adopted = created.value, False
                with undo_on_failure(lambda: client.delete_endpoint(project_id, endpoint.id)):
                    wait(client, project_id, created.operations)
        outs = {**public_inputs(props), "endpoint_id": endpoint.id, "host": endpoint.host, "adopted": adopted}
        return CreateResult(endpoint.id, outs)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        with neon_call(f"reading endpoint {id_}", props) as client:
            endpoint = if_exists(client.get_endpoint, props["project_id"], id_)
        if endpoint is None:
            return ReadResult("", {})
        return ReadResult(id_, {**public_inputs(props), "endpoint_id": endpoint.id, "host": endpoint.host})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return diff_inputs(olds, news, replace=IMMUTABLE, update=ON_BRANCH_UPDATABLE)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        keep = {k: olds.get(k) for k in ("host", "adopted")}
        return UpdateResult({**public_inputs(news), **keep, "endpoint_id": id_})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        with neon_call(f"deleting endpoint {id_}", props) as client:
            # An endpoint that is already gone (with its whole project, say) counts as deleted.
            wait(client, props["project_id"], client.delete_endpoint(props["project_id"], id_))


class NeonEndpoint(NeonResource, module="neon", name="Endpoint"):
    endpoint_id: pulumi.Output[str]
    host: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        where: OnBranch,
        *,
        type: str = "read_write",
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        inputs = {**where.inputs(), "type": type}
        outputs = ("endpoint_id", "host", "adopted")
        super().__init__(EndpointProvider(), resource_name, where.api, inputs, outputs=outputs, opts=opts)
