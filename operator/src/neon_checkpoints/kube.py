"""The few Kubernetes API calls the flows make themselves (kopf does the watching): read a Secret and
patch a resource's status at once, mid-handler. The kubernetes client is synchronous, so calls run in a
worker thread."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Mapping
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from neon_checkpoints.resources import GROUP, VERSION


class SecretUnavailable(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def api_client_from_environment() -> client.ApiClient:
    """In-cluster service account, else $KUBECONFIG / ~/.kube/config (as kopf itself does)."""
    configuration = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except config.ConfigException:
        config.load_kube_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    return client.ApiClient(configuration)


class Kube:
    def __init__(self, api_client: Any) -> None:
        self._core = client.CoreV1Api(api_client)
        self._custom = client.CustomObjectsApi(api_client)

    @classmethod
    def from_environment(cls) -> Kube:
        return cls(api_client_from_environment())

    async def patch_status(self, plural: str, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        await asyncio.to_thread(
            self._custom.patch_namespaced_custom_object_status,
            GROUP,
            VERSION,
            namespace,
            plural,
            name,
            {"status": dict(status)},
        )

    async def get_object(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        """A custom resource of this group, or None when it does not exist."""
        try:
            found: Any = await asyncio.to_thread(
                self._custom.get_namespaced_custom_object, GROUP, VERSION, namespace, plural, name
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return dict(found)

    async def apply_secret(
        self, namespace: str, name: str, data: Mapping[str, str], *, owner: Mapping[str, Any]
    ) -> None:
        """Create or replace an Opaque Secret owned by `owner` (an ownerReference, JSON shape).
        Errors carry the status only: the values must never reach a log."""
        body: Any = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace, "ownerReferences": [dict(owner)]},
            "type": "Opaque",
            "stringData": dict(data),
        }
        try:
            try:
                await asyncio.to_thread(self._core.create_namespaced_secret, namespace, body)
            except ApiException as exc:
                if exc.status != 409:
                    raise
                await asyncio.to_thread(self._core.replace_namespaced_secret, name, namespace, body)
        except ApiException as exc:
            raise ApiException(status=exc.status, reason=exc.reason) from None

    async def delete_secret(self, namespace: str, name: str) -> None:
        """Delete a Secret; one already gone is fine."""
        try:
            await asyncio.to_thread(self._core.delete_namespaced_secret, name, namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise ApiException(status=exc.status, reason=exc.reason) from None

    async def read_secret_value(self, namespace: str, name: str, key: str) -> str:
        try:
            secret = await asyncio.to_thread(self._core.read_namespaced_secret, name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                raise SecretUnavailable("SecretNotFound", f"Secret {namespace}/{name} not found") from None
            raise SecretUnavailable(
                "SecretUnreadable", f"Secret {namespace}/{name} could not be read ({exc.status})"
            ) from None
        data = secret.data or {}
        if key not in data:
            raise SecretUnavailable("SecretKeyMissing", f"Secret {namespace}/{name} has no key {key!r}")
        return base64.b64decode(data[key]).decode().strip()
