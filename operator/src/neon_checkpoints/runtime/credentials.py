"""The one credential resolver: which Neon API key a flow or daemon uses.

The first key found in the chain wins: the resource's own `credentialsSecretRef` (a CheckpointRestore's) ->
its Checkpoint's (from the Checkpoint resource or, once that is gone, from the checkpoint's meta row) ->
the operator's default key. A Secret that cannot be read is `SecretUnavailable` (retried: it may simply not
be applied yet), never a silent fall back to a more powerful key.

Before any key is used, the namespace's tenancy policy (core/tenancy.py) must allow the project and, for the
operator's key, the namespace: otherwise `ProjectNotAllowed`, and nothing is asked of Neon.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from neon_api import AsyncNeonClient, NullObserver, Observer, RetryPolicy
from neon_api.budget import KeyShares
from neon_checkpoints.core.secrets import SecretRef, secret_ref
from neon_checkpoints.core.tenancy import NamespacePolicy, ProjectNotAllowed, TenancyMode, refusal
from neon_checkpoints.meta.records import CheckpointRow
from neon_checkpoints.meta.store import MetaStore
from neon_checkpoints.names import CHECKPOINTS
from neon_checkpoints.runtime.kube import Kube
from neon_checkpoints.settings import Settings

# Retry the safe cases (423/429/503, GET transport errors) quickly inside one handler run; what outlasts
# this goes back to kopf as a TemporaryError with a delay.
CLIENT_RETRY = RetryPolicy(max_elapsed=20.0, base=0.05, cap=2.0)


def neon_client(
    settings: Settings, shares: KeyShares, api_key: str, observer: Observer | None = None
) -> AsyncNeonClient:
    """A client for `api_key` that shares the key's request budget with every other client of it, and
    reports its traffic to `observer` (the operator's metrics)."""
    return AsyncNeonClient(
        settings.neon_api_url,
        api_key,
        retry=CLIENT_RETRY,
        share=shares.for_key(api_key),
        observer=observer or NullObserver(),
    )


def first_ref(*chain: SecretRef | None) -> SecretRef | None:
    return next((ref for ref in chain if ref is not None), None)


def checkpoint_key(resource: Mapping[str, Any] | None, row: CheckpointRow | None) -> SecretRef | None:
    """The key a Checkpoint was taken with: its resource's while it exists, else its meta row's."""
    if resource is not None:
        return secret_ref(resource.get("spec") or {})
    return row.credentials if row is not None else None


class Credentials:
    def __init__(
        self,
        kube: Kube,
        store: MetaStore,
        default: AsyncNeonClient,
        connect: Callable[[str], AsyncNeonClient],
        tenancy: TenancyMode = "enforced",
    ) -> None:
        """`default`: the client with the operator's key; `connect(key)`: a new client for another key."""
        self._tenancy = tenancy
        self._kube = kube
        self._store = store
        self._default = default
        self._connect = connect

    async def checkpoint_ref(
        self, namespace: str, name: str, checkpoint_id: int | None = None
    ) -> SecretRef | None:
        """The key a Checkpoint was taken with: its resource's, else (resource gone) its meta row's."""
        resource = await self._kube.get(CHECKPOINTS, namespace, name)
        row = None
        if resource is None and checkpoint_id is not None:
            row = await self._store.get_checkpoint_by_id(checkpoint_id)
        return checkpoint_key(resource, row)

    async def check(self, namespace: str, project_id: str, *chain: SecretRef | None) -> None:
        """Raise `ProjectNotAllowed` unless `namespace` may use `project_id` with the key `chain` picks."""
        annotations = await self._kube.namespace_annotations(namespace)
        policy = NamespacePolicy.from_annotations(namespace, annotations)
        why = refusal(policy, project_id, default_key=first_ref(*chain) is None, mode=self._tenancy)
        if why is not None:
            raise ProjectNotAllowed(why)

    @contextlib.asynccontextmanager
    async def client(
        self, namespace: str, project_id: str, *chain: SecretRef | None
    ) -> AsyncIterator[AsyncNeonClient]:
        """A Neon client for the first key of `chain` (Secrets in `namespace`), else the operator's, once
        the namespace's policy allows `project_id` with it."""
        await self.check(namespace, project_id, *chain)
        ref = first_ref(*chain)
        if ref is None:
            yield self._default
            return
        api_key = await self._kube.read_secret_value(namespace, ref.name, ref.key)
        async with self._connect(api_key) as client:
            yield client
