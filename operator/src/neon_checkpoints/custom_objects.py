"""Create, list and delete this operator's custom resources (the schedule, expiry and pruning handlers make
other resources, not just react to their own). The kubernetes client is synchronous: calls run in a thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from neon_checkpoints.kube import api_client_from_environment
from neon_checkpoints.resources import GROUP, VERSION


class AlreadyExists(Exception):
    """409 on create: an object of that name exists (for a run's Checkpoint: the run was already made)."""


class KubeCallFailed(Exception):
    def __init__(self, action: str, status: int | None) -> None:
        super().__init__(f"Kubernetes API call failed: {action} ({status})")
        self.status = status


class CustomObjects:
    def __init__(self, api_client: Any) -> None:
        # The client's generated signatures return `object`; these are JSON dicts: typed at our methods.
        self._api: Any = client.CustomObjectsApi(api_client)

    @classmethod
    def from_environment(cls) -> CustomObjects:
        return cls(api_client_from_environment())

    async def list(
        self, plural: str, namespace: str, *, label_selector: str | None = None
    ) -> list[Mapping[str, Any]]:
        try:
            answer = await asyncio.to_thread(
                self._api.list_namespaced_custom_object,
                GROUP,
                VERSION,
                namespace,
                plural,
                label_selector=label_selector or "",
            )
        except ApiException as exc:
            raise KubeCallFailed(f"list {plural} in {namespace}", exc.status) from None
        items: list[Mapping[str, Any]] = answer.get("items") or []
        return items

    async def get(self, plural: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        try:
            found: Mapping[str, Any] = await asyncio.to_thread(
                self._api.get_namespaced_custom_object, GROUP, VERSION, namespace, plural, name
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise KubeCallFailed(f"get {plural} {namespace}/{name}", exc.status) from None
        return found

    async def create(self, plural: str, namespace: str, body: Mapping[str, Any]) -> None:
        try:
            await asyncio.to_thread(
                self._api.create_namespaced_custom_object, GROUP, VERSION, namespace, plural, dict(body)
            )
        except ApiException as exc:
            if exc.status == 409:
                raise AlreadyExists(body["metadata"]["name"]) from None
            raise KubeCallFailed(
                f"create {plural} {namespace}/{body['metadata']['name']}", exc.status
            ) from None

    async def delete(self, plural: str, namespace: str, name: str) -> bool:
        """Request deletion (finalizers then run); False when it was already gone."""
        try:
            await asyncio.to_thread(
                self._api.delete_namespaced_custom_object, GROUP, VERSION, namespace, plural, name
            )
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise KubeCallFailed(f"delete {plural} {namespace}/{name}", exc.status) from None
        return True
