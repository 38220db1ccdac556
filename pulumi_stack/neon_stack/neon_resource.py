"""What every Neon resource is registered with: the API URL and key as inputs (the key a secret), and for
the objects on a branch, the project and the branch NAME.

The URL and key travel as inputs because the providers are pickled into the state without them (see
access.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.dynamic import Resource, ResourceProvider

from .access import CREDENTIAL_KEYS

# What an object on a branch updates in place: the credentials, and its branch NAME, which follows a rename
# of the same branch (the Branch resource renames it in place). Replacing the object would drop its data.
ON_BRANCH_UPDATABLE = (*CREDENTIAL_KEYS, "branch_name")


@dataclass(frozen=True)
class NeonApi:
    url: pulumi.Input[str]
    key: pulumi.Input[str] = field(repr=False)


@dataclass(frozen=True)
class OnBranch:
    """Where an object on a branch lives: a project and a branch NAME, never a branch id (a finalized restore
    changes it)."""

    api: NeonApi
    project_id: pulumi.Input[str]
    branch_name: pulumi.Input[str]

    def inputs(self) -> dict[str, Any]:
        return {"project_id": self.project_id, "branch_name": self.branch_name}


class NeonResource(Resource):
    """A dynamic resource whose provider calls Neon. `outputs` are the properties only the provider sets;
    `secret` names outputs besides the API key that the state keeps encrypted."""

    def __init__(
        self,
        provider: ResourceProvider,
        resource_name: str,
        api: NeonApi,
        inputs: dict[str, Any],
        *,
        outputs: tuple[str, ...] = (),
        secret: tuple[str, ...] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {"api_url": api.url, "api_key": api.key, **inputs, **dict.fromkeys(outputs)}
        extra = pulumi.ResourceOptions(additional_secret_outputs=["api_key", *secret])
        super().__init__(provider, resource_name, props, pulumi.ResourceOptions.merge(opts, extra))
