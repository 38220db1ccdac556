"""A database connection URL from the Neon API (`GET /connection_uri`), kept as a secret output.

It is derived data, so nothing is created or deleted in Neon. The role's password and the endpoint id are
inputs only so that a recreated role or endpoint recomputes the URL.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, UpdateResult
from pulumi.dynamic import ResourceProvider as _ResourceProvider

from neon_api import NeonClient, errors

from .access import CREDENTIAL_KEYS, ProviderError, neon_call, require_branch
from .inputs import diff_inputs, public_inputs
from .neon_resource import NeonResource, OnBranch

# Every input may change in place: the URL is simply fetched again.
UPDATABLE = ("project_id", "branch_name", "endpoint_id", "database_name", "role_name", "role_password")


def _action(props: dict[str, Any]) -> str:
    return f"getting the URL of database {props['database_name']!r}"


def _uri(client: NeonClient, props: dict[str, Any]) -> str:
    branch = require_branch(client, props["project_id"], props["branch_name"])
    return client.connection_uri(
        props["project_id"],
        database_name=props["database_name"],
        role_name=props["role_name"],
        branch_id=branch.id,
        endpoint_id=props["endpoint_id"],
    )


def _fetch(props: dict[str, Any]) -> dict[str, Any]:
    with neon_call(_action(props), props) as client:
        return {**public_inputs(props), "uri": _uri(client, props)}


class ConnectionUriProvider(_ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        resource_id = (
            f"{props['project_id']}/{props['branch_name']}/{props['database_name']}/{props['role_name']}"
        )
        return CreateResult(resource_id, _fetch(props))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        with neon_call(_action(props), props) as client:
            try:
                uri = _uri(client, props)
            except (errors.NotFound, ProviderError):
                # The branch, database, role or endpoint is gone: so is this URL; `up` makes it again.
                return ReadResult("", {})
        return ReadResult(id_, {**public_inputs(props), "uri": uri})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return diff_inputs(olds, news, replace=(), update=CREDENTIAL_KEYS + UPDATABLE)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(_fetch(news))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None  # nothing exists in Neon for a URL


class ConnectionUri(NeonResource, module="neon", name="ConnectionUri"):
    uri: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        where: OnBranch,
        *,
        endpoint_id: pulumi.Input[str],
        database_name: pulumi.Input[str],
        role_name: pulumi.Input[str],
        role_password: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        inputs = {
            **where.inputs(),
            "endpoint_id": endpoint_id,
            "database_name": database_name,
            "role_name": role_name,
            "role_password": role_password,
        }
        secret = ("uri", "role_password")
        super().__init__(
            ConnectionUriProvider(),
            resource_name,
            where.api,
            inputs,
            outputs=("uri",),
            secret=secret,
            opts=opts,
        )
