"""The Kubernetes API calls the operator makes itself (kopf does the watching): its own resources (get, list,
create, delete, status patches mid-handler), Events, the Secrets it reads (`credentialsSecretRef`) and the
ones it writes (a Preview's connection URI), and the app's workloads a Checkpoint records
(Deployments, StatefulSets, ConfigMaps: get, list, patch, server-side apply). One async client, one error
translation; flows reach the cluster only through this class, so their tests replace it whole.

Errors carry the call and the status only: a Secret's body must never reach a log, an Event or status.
"""

from __future__ import annotations

import base64
import builtins
import json
import math
from collections.abc import AsyncIterator, Awaitable, Mapping
from typing import Any, TypeVar

import aiohttp
import kopf
from kubernetes.aio import client, config
from kubernetes.aio.client.exceptions import ApiException

from neon_checkpoints.names import GROUP, VERSION

T = TypeVar("T")

# Connections to the apiserver, kept alive (see from_environment); the sync client this replaced ran in the
# default thread pool, six threads on two cores.
POOL_SIZE = 6


class KubeError(Exception):
    """A Kubernetes API call failed; `status` is None for transport failures."""

    def __init__(self, action: str, status: int | None) -> None:
        super().__init__(f"Kubernetes API call failed: {action} ({status or 'no answer'})")
        self.action = action
        self.status = status


class NotFound(KubeError):
    pass


class AlreadyExists(KubeError):
    """409 on create: an object of that name exists (for a run's Checkpoint: the run was already made)."""


class SecretUnavailable(Exception):
    """A `credentialsSecretRef` cannot be read; `reason` is the status condition's reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


async def _call(action: str, call: Awaitable[T]) -> T:
    """The one translation from the client's exceptions to ours (`from None`: nothing of the body)."""
    try:
        return await call
    except ApiException as exc:
        kind = {404: NotFound, 409: AlreadyExists}.get(exc.status or 0, KubeError)
        raise kind(action, exc.status) from None
    except (aiohttp.ClientError, TimeoutError):
        raise KubeError(action, None) from None


# The workload calls take the apiserver's JSON as it is: the client's models cost ~10 ms of CPU per
# Deployment to build and turn back into JSON (a restore's polls and applies, on a shared 2-core machine).
_RAW = "_without_preload_content"


async def _json_call(action: str, call: Awaitable[aiohttp.ClientResponse]) -> dict[str, Any]:
    """A call made `_without_preload_content`: its JSON body, or the error _call would raise."""

    async def read() -> tuple[int, bytes]:
        response = await call
        try:
            return response.status, await response.read()
        finally:
            response.release()

    status, raw = await _call(action, read())
    if not 200 <= status < 300:
        raise {404: NotFound, 409: AlreadyExists}.get(status, KubeError)(action, status)
    found: dict[str, Any] = json.loads(raw)
    return found


class Kube:
    def __init__(self, api_client: client.ApiClient) -> None:
        self._api_client = api_client
        # The generated signatures are loosely typed; these are JSON dicts, typed at our methods.
        self._core: Any = client.CoreV1Api(api_client)
        self._custom: Any = client.CustomObjectsApi(api_client)
        self._apps: Any = client.AppsV1Api(api_client)

    @classmethod
    async def from_environment(cls) -> Kube:
        """In-cluster service account, else $KUBECONFIG / ~/.kube/config (as kopf itself does)."""
        configuration = client.Configuration()
        # A few kept-alive connections serve every flow: with the client's default of 100, a burst opens
        # up to 100 TLS connections to the apiserver, and their handshakes cost more than the calls.
        configuration.connection_pool_maxsize = POOL_SIZE
        try:
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        except config.ConfigException:
            await config.load_kube_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        return cls(client.ApiClient(configuration))

    async def close(self) -> None:
        await self._api_client.close()  # type: ignore[no-untyped-call]

    # -- the operator's own resources ---------------------------------------------------------------------

    async def get(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        """A custom resource of this group, or None when it does not exist."""
        try:
            found: dict[str, Any] = await _call(
                f"get {plural} {namespace}/{name}",
                self._custom.get_namespaced_custom_object(GROUP, VERSION, namespace, plural, name),
            )
        except NotFound:
            return None
        return found

    async def list(
        self, plural: str, namespace: str, *, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        answer: dict[str, Any] = await _call(
            f"list {plural} in {namespace}",
            self._custom.list_namespaced_custom_object(
                GROUP, VERSION, namespace, plural, label_selector=label_selector or None
            ),
        )
        items: list[dict[str, Any]] = answer.get("items") or []
        return items

    async def list_everywhere(self, plural: str) -> builtins.list[dict[str, Any]]:
        """Every resource of this plural in every namespace (`neon-checkpoints status`)."""
        answer: dict[str, Any] = await _call(
            f"list {plural}", self._custom.list_cluster_custom_object(GROUP, VERSION, plural)
        )
        items: builtins.list[dict[str, Any]] = answer.get("items") or []
        return items

    async def create(self, plural: str, namespace: str, body: Mapping[str, Any]) -> None:
        await _call(
            f"create {plural} {namespace}/{body['metadata']['name']}",
            self._custom.create_namespaced_custom_object(GROUP, VERSION, namespace, plural, dict(body)),
        )

    async def delete(self, plural: str, namespace: str, name: str) -> bool:
        """Request deletion (finalizers then run); False when it was already gone."""
        try:
            await _call(
                f"delete {plural} {namespace}/{name}",
                self._custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, plural, name),
            )
        except NotFound:
            return False
        return True

    async def patch_status(self, plural: str, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        await _call(
            f"patch status of {plural} {namespace}/{name}",
            self._custom.patch_namespaced_custom_object_status(
                GROUP, VERSION, namespace, plural, name, {"status": dict(status)}
            ),
        )

    def event(self, body: kopf.Body, *, type: str, reason: str, message: str) -> None:
        """Post a Kubernetes Event about `body` (kopf batches and sends them; messages never hold secrets)."""
        kopf.event(body, type=type, reason=reason, message=message)

    # -- Namespaces -------------------------------------------------------------------------------------

    async def namespace_annotations(self, name: str) -> dict[str, str]:
        """A Namespace's annotations (its tenancy policy); a missing Namespace has none."""
        try:
            found = await _call(f"get Namespace {name}", self._core.read_namespace(name))
        except NotFound:
            return {}
        return dict(found.metadata.annotations or {})

    # -- Secrets ----------------------------------------------------------------------------------------

    async def read_secret_value(self, namespace: str, name: str, key: str) -> str:
        try:
            secret = await _call(
                f"read Secret {namespace}/{name}", self._core.read_namespaced_secret(name, namespace)
            )
        except NotFound:
            raise SecretUnavailable("SecretNotFound", f"Secret {namespace}/{name} not found") from None
        except KubeError as exc:
            raise SecretUnavailable(
                "SecretUnreadable", f"Secret {namespace}/{name} could not be read ({exc.status})"
            ) from None
        data = secret.data or {}
        if key not in data:
            raise SecretUnavailable("SecretKeyMissing", f"Secret {namespace}/{name} has no key {key!r}")
        return base64.b64decode(data[key]).decode().strip()

    async def secret_owners(self, namespace: str, name: str) -> tuple[str, ...] | None:
        """The uids that own a Secret (its ownerReferences), or None when there is no such Secret."""
        try:
            secret = await _call(
                f"read Secret {namespace}/{name}", self._core.read_namespaced_secret(name, namespace)
            )
        except NotFound:
            return None
        return tuple(ref.uid for ref in (secret.metadata.owner_references or []))

    async def write_secret(
        self,
        namespace: str,
        name: str,
        data: Mapping[str, str],
        *,
        owner: Mapping[str, Any],
        labels: Mapping[str, str],
        replace: bool,
    ) -> None:
        """Create an Opaque Secret owned by `owner` (an ownerReference, JSON shape), or, with `replace`,
        replace it (the caller has checked that it is `owner`'s). A create that meets an existing Secret
        raises AlreadyExists and changes nothing."""
        body = client.V1Secret(
            api_version="v1",
            kind="Secret",
            metadata=client.V1ObjectMeta(
                name=name,
                namespace=namespace,
                labels=dict(labels),
                owner_references=[client.V1OwnerReference(**_owner(owner))],
            ),
            type="Opaque",
            string_data=dict(data),
        )
        action = f"write Secret {namespace}/{name}"
        if replace:
            await _call(action, self._core.replace_namespaced_secret(name, namespace, body))
        else:
            await _call(action, self._core.create_namespaced_secret(namespace, body))

    async def delete_owned_secret(self, namespace: str, name: str, *, owner_uid: str) -> bool:
        """Delete a Secret if `owner_uid` owns it (never another's); False when absent or not owned."""
        action = f"delete Secret {namespace}/{name}"
        try:
            secret = await _call(action, self._core.read_namespaced_secret(name, namespace))
        except NotFound:
            return False
        if owner_uid not in {ref.uid for ref in (secret.metadata.owner_references or [])}:
            return False
        # The precondition makes sure it is the Secret just checked, not one made under its name since.
        preconditions = client.V1Preconditions(uid=secret.metadata.uid)
        try:
            await _call(
                action,
                self._core.delete_namespaced_secret(
                    name, namespace, body=client.V1DeleteOptions(preconditions=preconditions)
                ),
            )
        except (NotFound, AlreadyExists):  # gone meanwhile, or replaced (409 on the precondition)
            return False
        return True

    # -- the app's workloads (Deployments, StatefulSets, ConfigMaps) ----------------------------------------

    def _workload_api(self, kind: str) -> tuple[Any, str]:
        """The API object and the method-name suffix of a workload kind."""
        match kind:
            case "Deployment":
                return self._apps, "deployment"
            case "StatefulSet":
                return self._apps, "stateful_set"
            case "ConfigMap":
                return self._core, "config_map"
        raise ValueError(f"not a workload kind: {kind}")

    async def get_workload(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """A workload in its JSON form, or None when it does not exist."""
        api, suffix = self._workload_api(kind)
        read = getattr(api, f"read_namespaced_{suffix}{_RAW}")
        try:
            return await _json_call(f"get {kind} {namespace}/{name}", read(name, namespace))
        except NotFound:
            return None

    async def list_workloads(
        self, kind: str, namespace: str, label_selector: str
    ) -> builtins.list[dict[str, Any]]:
        api, suffix = self._workload_api(kind)
        listing = getattr(api, f"list_namespaced_{suffix}{_RAW}")
        found = await _json_call(
            f"list {kind} in {namespace}", listing(namespace, label_selector=label_selector)
        )
        return list(found.get("items") or [])

    async def watch_workload(
        self, kind: str, namespace: str, name: str, resource_version: str, seconds: float
    ) -> AsyncIterator[dict[str, Any] | None]:
        """Each new state of one workload after `resource_version` (None: it was deleted), for at most
        `seconds`; raises KubeError when the watch cannot be made or breaks (e.g. 410 Gone)."""
        action = f"watch {kind} {namespace}/{name}"
        api, suffix = self._workload_api(kind)
        listing = getattr(api, f"list_namespaced_{suffix}{_RAW}")
        response = await _call(
            action,
            listing(
                namespace,
                field_selector=f"metadata.name={name}",
                resource_version=resource_version,
                watch=True,
                timeout_seconds=max(1, math.ceil(seconds)),
                _request_timeout=float(seconds) + 5.0,
            ),
        )
        try:
            if response.status != 200:
                raise KubeError(action, response.status)
            buffered = b""
            # By hand, not readline(): one event is one line, and a line may pass aiohttp's 64 KiB limit.
            async for chunk in response.content.iter_any():
                buffered += chunk
                while b"\n" in buffered:
                    line, buffered = buffered.split(b"\n", 1)
                    event = json.loads(line)
                    match event.get("type"):
                        case "ERROR":
                            raise KubeError(action, (event.get("object") or {}).get("code"))
                        case "DELETED":
                            yield None
                        case "ADDED" | "MODIFIED":
                            yield event["object"]
        except (aiohttp.ClientError, TimeoutError):
            raise KubeError(action, None) from None
        finally:
            response.close()  # a watch's connection is not reused

    async def apply_workload(
        self, kind: str, namespace: str, name: str, body: Mapping[str, Any], *, field_manager: str
    ) -> dict[str, Any]:
        """Server-side apply, forced: this manager takes the fields in `body` from whoever held them."""
        api, suffix = self._workload_api(kind)
        patch = getattr(api, f"patch_namespaced_{suffix}{_RAW}")
        return await _json_call(
            f"apply {kind} {namespace}/{name}",
            patch(
                name,
                namespace,
                dict(body),
                field_manager=field_manager,
                force=True,
                _content_type="application/apply-patch+yaml",
            ),
        )

    async def patch_workload(
        self, kind: str, namespace: str, name: str, patch: Mapping[str, Any], *, field_manager: str
    ) -> dict[str, Any] | None:
        """A JSON merge patch; None when the workload does not exist."""
        api, suffix = self._workload_api(kind)
        call = getattr(api, f"patch_namespaced_{suffix}{_RAW}")
        try:
            return await _json_call(
                f"patch {kind} {namespace}/{name}",
                call(
                    name,
                    namespace,
                    dict(patch),
                    field_manager=field_manager,
                    _content_type="application/merge-patch+json",
                ),
            )
        except NotFound:
            return None

    async def delete_workload(self, kind: str, namespace: str, name: str) -> bool:
        api, suffix = self._workload_api(kind)
        call = getattr(api, f"delete_namespaced_{suffix}")
        try:
            await _call(f"delete {kind} {namespace}/{name}", call(name, namespace))
        except NotFound:
            return False
        return True


def _owner(owner: Mapping[str, Any]) -> dict[str, Any]:
    """An ownerReference from its JSON shape to the client model's keywords."""
    return {
        "api_version": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["name"],
        "uid": owner["uid"],
        "controller": owner.get("controller"),
        "block_owner_deletion": owner.get("blockOwnerDeletion"),
    }
