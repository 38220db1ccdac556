"""How a dynamic provider reaches Neon: a client built per call from the resource's own inputs.

Providers are pickled into the stack state, so they hold no client and no key: the API URL and the key
(a secret input) travel with every resource and a fresh `NeonClient` is built for each call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from neon_api import NeonClient, errors, models

# The dynamic-provider gRPC server logs a full traceback for every exception a provider raises; the error
# message itself already reaches `pulumi up`, so keep that noise out of the user's output.
logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
# neon_api logs each failed request; without a handler Python would print those to the provider's stderr,
# duplicating the error `pulumi up` already shows.
logging.getLogger("neon_api").addHandler(logging.NullHandler())

CREDENTIAL_KEYS = ("api_url", "api_key")
OPERATION_TIMEOUT = 300.0

P = ParamSpec("P")
T = TypeVar("T")


class ProviderError(Exception):
    """A failure shown to the user by `pulumi up`: one line, naming the config key or field at fault."""


@dataclass(frozen=True)
class ApiAccess:
    url: str
    key: str = field(repr=False)

    @classmethod
    def from_props(cls, props: Mapping[str, Any]) -> ApiAccess:
        return cls(url=str(props["api_url"]), key=str(props["api_key"]))

    def client(self) -> NeonClient:
        return NeonClient(self.url, self.key)


@contextmanager
def neon_call(action: str, props: Mapping[str, Any]) -> Iterator[NeonClient]:
    """A client for one provider call, built from the resource's inputs `props`; Neon errors become a
    ProviderError that names what to fix."""
    access = ApiAccess.from_props(props)
    try:
        with access.client() as client:
            yield client
    except errors.NeonRequestError as exc:
        raise ProviderError(
            f"{action}: cannot reach the Neon API at {access.url} (config neon:apiUrl): {exc.reason}"
        ) from None
    except errors.Unauthorized:
        raise ProviderError(
            f"{action}: the Neon API at {access.url} rejected the API key (config neon:apiKey)"
        ) from None
    except errors.UnexpectedResponse:
        raise ProviderError(
            f"{action}: {access.url} did not answer like the Neon API v2 (config neon:apiUrl)"
        ) from None
    except errors.NeonStatusError as exc:
        raise ProviderError(f"{action}: Neon API answered {exc.status}: {exc.message}") from None
    except (errors.OperationFailed, errors.OperationTimeout) as exc:
        raise ProviderError(f"{action}: {exc}") from None


def wait(client: NeonClient, project_id: str, operations: tuple[models.Operation, ...]) -> None:
    if operations:
        client.wait_for_operations(project_id, operations, timeout=OPERATION_TIMEOUT)


@contextmanager
def undo_on_failure(undo: Callable[[], object]) -> Iterator[None]:
    """Keeps `create` transactional: what the block set up is removed again when it fails, rather than left
    behind in Neon unmanaged."""
    try:
        yield
    except BaseException:
        undo()
        raise


def if_exists(call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T | None:
    """`call(...)`, or None when Neon answers that the object is gone (404)."""
    try:
        return call(*args, **kwargs)
    except errors.NotFound:
        return None


def require_branch(client: NeonClient, project_id: str, name: str) -> models.Branch:
    """The branch named `name` NOW: its id changes with every finalized restore, so it is never stored."""
    branch = client.find_branch(project_id, name)
    if branch is None:
        raise ProviderError(f"branch {name!r} does not exist in Neon project {project_id}")
    return branch


def call_on_branch(
    client: NeonClient, props: Mapping[str, Any], call: Callable[[str, str, str], T]
) -> T | None:
    """`call(project_id, branch_id, name)` for the object `props` names on the branch it names by NAME; None
    when the branch or the object is gone."""
    branch = client.find_branch(props["project_id"], props["branch_name"])
    if branch is None:
        return None
    return if_exists(call, props["project_id"], branch.id, props["name"])
