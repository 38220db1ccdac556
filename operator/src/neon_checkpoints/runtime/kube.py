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
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
import kopf
from kubernetes.aio import client, config
from kubernetes.aio.client.exceptions import ApiException

from neon_checkpoints.core.conditions import merge_conditions
from neon_checkpoints.names import GROUP, VERSION

T = TypeVar("T")

# Connections to the apiserver, kept alive (see from_environment); the sync client this replaced ran in the
# default thread pool, six threads on two cores.
POOL_SIZE = 6

# Status writes that lose the resourceVersion race this many times in a row give up as a 409 (retried by
# the caller's classification); two writers per resource make more than one a rarity.
CONFLICT_RETRIES = 5
# Resources whose last status write is remembered (resourceVersion and conditions), least recent out first.
STATUS_SEEN = 2048


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


def _status_view(resource: Mapping[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """A resource's resourceVersion and status conditions."""
    conditions = (resource.get("status") or {}).get("conditions") or []
    return resource["metadata"]["resourceVersion"], list(conditions)


class Kube:
    """Every call is the REST request itself, JSON in and out, through the client's `ApiClient` (its
    configuration, auth and connection pool). Not its generated `CoreV1Api`/`AppsV1Api`: importing those
    loads some 2,000 pydantic models, about 30 MB of the operator's resident memory, to parse answers
    that are only read as JSON here."""

    def __init__(self, api_client: client.ApiClient) -> None:
        self._api_client = api_client
        # What this process's own status write left on each resource: the next write merges into that
        # with its resourceVersion, one request instead of a read and a write (a 409 reads afresh).
        self._status_seen: OrderedDict[tuple[str, str, str], tuple[str, list[dict[str, Any]]]] = OrderedDict()

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

    async def _request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> Any:
        """One request to the apiserver; its JSON answer. Non-2xx raises the client's ApiException (which
        `_call` translates). Query values of None are left out."""
        api = self._api_client
        headers = {"Accept": "application/json", "Content-Type": content_type}
        params = [(k, v) for k, v in (query or {}).items() if v is not None]
        serialized = await api.param_serialize(
            method, path, query_params=params, header_params=headers, body=body, auth_settings=["BearerToken"]
        )
        response = await api.call_api(*serialized)
        await response.read()  # type: ignore[no-untyped-call]
        return api.response_deserialize(response, {"2XX": "object"}).data

    async def _stream(self, path: str, *, query: Mapping[str, Any], seconds: float) -> aiohttp.ClientResponse:
        """A GET read as it comes (a watch): the open aiohttp response, which the caller closes."""
        api = self._api_client
        params = [(k, v) for k, v in query.items() if v is not None]
        serialized = await api.param_serialize(
            "GET",
            path,
            query_params=params,
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
        )
        answer = await api.call_api(*serialized, _request_timeout=seconds)
        response: aiohttp.ClientResponse = answer.response
        return response

    # -- the operator's own resources ---------------------------------------------------------------------

    async def get(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        """A custom resource of this group, or None when it does not exist."""
        try:
            found: dict[str, Any] = await _call(
                f"get {plural} {namespace}/{name}", self._request("GET", _custom(namespace, plural, name))
            )
        except NotFound:
            return None
        return found

    async def list(
        self, plural: str, namespace: str, *, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        answer: dict[str, Any] = await _call(
            f"list {plural} in {namespace}",
            self._request("GET", _custom(namespace, plural), query={"labelSelector": label_selector or None}),
        )
        items: list[dict[str, Any]] = answer.get("items") or []
        return items

    async def list_everywhere(self, plural: str) -> builtins.list[dict[str, Any]]:
        """Every resource of this plural in every namespace (`neon-checkpoints status`)."""
        answer: dict[str, Any] = await _call(
            f"list {plural}", self._request("GET", f"/apis/{GROUP}/{VERSION}/{plural}")
        )
        items: builtins.list[dict[str, Any]] = answer.get("items") or []
        return items

    async def create(self, plural: str, namespace: str, body: Mapping[str, Any]) -> None:
        await _call(
            f"create {plural} {namespace}/{body['metadata']['name']}",
            self._request("POST", _custom(namespace, plural), body=dict(body)),
        )

    async def delete(self, plural: str, namespace: str, name: str) -> bool:
        """Request deletion (finalizers then run); False when it was already gone."""
        try:
            await _call(
                f"delete {plural} {namespace}/{name}",
                self._request("DELETE", _custom(namespace, plural, name)),
            )
        except NotFound:
            return False
        return True

    async def patch_status(
        self, plural: str, namespace: str, name: str, status: Mapping[str, Any]
    ) -> builtins.list[dict[str, Any]]:
        """Merge `status` in; its `conditions` are merged by type into the server's (core/conditions.py),
        guarded by the resourceVersion they were read at: the version this process's last write of the
        resource left, else a read (a 409 reads again). The conditions as written are returned."""
        action = f"patch status of {plural} {namespace}/{name}"
        key = (plural, namespace, name)
        if "conditions" not in status:
            self._remember(key, await self._send_status(action, key, {"status": dict(status)}))
            return []
        seen = self._status_seen.get(key)
        for _ in range(CONFLICT_RETRIES):
            if seen is None:
                current = await self.get(plural, namespace, name)
                if current is None:
                    raise NotFound(action, 404)
                seen = _status_view(current)
            resource_version, server_conditions = seen
            conditions = merge_conditions(server_conditions, status["conditions"])
            patch = {
                "metadata": {"resourceVersion": resource_version},
                "status": {**status, "conditions": conditions},
            }
            try:
                written = await self._send_status(action, key, patch)
            except AlreadyExists:  # 409: another writer came after the version merged into
                seen = None
                continue
            self._remember(key, written)
            return conditions
        raise KubeError(action, 409)

    async def _send_status(self, action: str, key: tuple[str, str, str], patch: dict[str, Any]) -> Any:
        try:
            return await _call(action, self._patch_status(*key, patch))
        except (NotFound, AlreadyExists):
            self._status_seen.pop(key, None)
            raise

    def _remember(self, key: tuple[str, str, str], written: Any) -> None:
        if not isinstance(written, dict) or not (written.get("metadata") or {}).get("resourceVersion"):
            self._status_seen.pop(key, None)
            return
        self._status_seen[key] = _status_view(written)
        self._status_seen.move_to_end(key)
        while len(self._status_seen) > STATUS_SEEN:
            self._status_seen.popitem(last=False)

    def _patch_status(self, plural: str, namespace: str, name: str, patch: dict[str, Any]) -> Awaitable[Any]:
        return self._request(
            "PATCH", _custom(namespace, plural, name) + "/status", body=patch, content_type=MERGE_PATCH
        )

    def event(self, body: kopf.Body, *, type: str, reason: str, message: str) -> None:
        """Post a Kubernetes Event about `body` (kopf batches and sends them; messages never hold secrets)."""
        kopf.event(body, type=type, reason=reason, message=message)

    # -- Namespaces -------------------------------------------------------------------------------------

    async def namespace_annotations(self, name: str) -> dict[str, str]:
        """A Namespace's annotations (its tenancy policy); a missing Namespace has none."""
        try:
            found = await _call(f"get Namespace {name}", self._request("GET", f"/api/v1/namespaces/{name}"))
        except NotFound:
            return {}
        return dict((found.get("metadata") or {}).get("annotations") or {})

    # -- Secrets ----------------------------------------------------------------------------------------

    async def _read_secret(self, namespace: str, name: str) -> dict[str, Any]:
        found: dict[str, Any] = await _call(
            f"read Secret {namespace}/{name}", self._request("GET", _core(namespace, "secrets", name))
        )
        return found

    async def read_secret_value(self, namespace: str, name: str, key: str) -> str:
        try:
            secret = await self._read_secret(namespace, name)
        except NotFound:
            raise SecretUnavailable("SecretNotFound", f"Secret {namespace}/{name} not found") from None
        except KubeError as exc:
            raise SecretUnavailable(
                "SecretUnreadable", f"Secret {namespace}/{name} could not be read ({exc.status})"
            ) from None
        data = secret.get("data") or {}
        if key not in data:
            raise SecretUnavailable("SecretKeyMissing", f"Secret {namespace}/{name} has no key {key!r}")
        return base64.b64decode(data[key]).decode().strip()

    async def secret_owners(self, namespace: str, name: str) -> tuple[str, ...] | None:
        """The uids that own a Secret (its ownerReferences), or None when there is no such Secret."""
        try:
            secret = await self._read_secret(namespace, name)
        except NotFound:
            return None
        return _owner_uids(secret)

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
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": dict(labels),
                "ownerReferences": [_owner(owner)],
            },
            "type": "Opaque",
            "stringData": dict(data),
        }
        action = f"write Secret {namespace}/{name}"
        if replace:
            await _call(action, self._request("PUT", _core(namespace, "secrets", name), body=body))
        else:
            await _call(action, self._request("POST", _core(namespace, "secrets"), body=body))

    async def delete_owned_secret(self, namespace: str, name: str, *, owner_uid: str) -> bool:
        """Delete a Secret if `owner_uid` owns it (never another's); False when absent or not owned."""
        action = f"delete Secret {namespace}/{name}"
        try:
            secret = await self._read_secret(namespace, name)
        except NotFound:
            return False
        if owner_uid not in _owner_uids(secret):
            return False
        # The precondition makes sure it is the Secret just checked, not one made under its name since.
        preconditions = {"uid": (secret.get("metadata") or {}).get("uid")}
        try:
            await _call(
                action,
                self._request(
                    "DELETE",
                    _core(namespace, "secrets", name),
                    body={"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": preconditions},
                ),
            )
        except (NotFound, AlreadyExists):  # gone meanwhile, or replaced (409 on the precondition)
            return False
        return True

    # -- the app's workloads (Deployments, StatefulSets, ConfigMaps) ----------------------------------------

    async def get_workload(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """A workload in its JSON form, or None when it does not exist."""
        try:
            found: dict[str, Any] = await _call(
                f"get {kind} {namespace}/{name}", self._request("GET", _workload(kind, namespace, name))
            )
        except NotFound:
            return None
        return found

    async def list_workloads(
        self, kind: str, namespace: str, label_selector: str
    ) -> builtins.list[dict[str, Any]]:
        found: dict[str, Any] = await _call(
            f"list {kind} in {namespace}",
            self._request("GET", _workload(kind, namespace), query={"labelSelector": label_selector}),
        )
        items: builtins.list[dict[str, Any]] = found.get("items") or []
        return items

    async def watch_workload(
        self, kind: str, namespace: str, name: str, resource_version: str, seconds: float
    ) -> AsyncIterator[dict[str, Any] | None]:
        """Each new state of one workload after `resource_version` (None: it was deleted), for at most
        `seconds`; raises KubeError when the watch cannot be made or breaks (e.g. 410 Gone)."""
        action = f"watch {kind} {namespace}/{name}"
        query = {
            "fieldSelector": f"metadata.name={name}",
            "resourceVersion": resource_version,
            "watch": "true",
            "timeoutSeconds": max(1, math.ceil(seconds)),
        }
        response = await _call(
            action, self._stream(_workload(kind, namespace), query=query, seconds=float(seconds) + 5.0)
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
        applied: dict[str, Any] = await _call(
            f"apply {kind} {namespace}/{name}",
            self._request(
                "PATCH",
                _workload(kind, namespace, name),
                query={"fieldManager": field_manager, "force": "true"},
                body=dict(body),
                content_type="application/apply-patch+yaml",
            ),
        )
        return applied

    async def patch_workload(
        self, kind: str, namespace: str, name: str, patch: Mapping[str, Any], *, field_manager: str
    ) -> dict[str, Any] | None:
        """A JSON merge patch; None when the workload does not exist."""
        try:
            patched: dict[str, Any] = await _call(
                f"patch {kind} {namespace}/{name}",
                self._request(
                    "PATCH",
                    _workload(kind, namespace, name),
                    query={"fieldManager": field_manager},
                    body=dict(patch),
                    content_type=MERGE_PATCH,
                ),
            )
        except NotFound:
            return None
        return patched

    async def delete_workload(self, kind: str, namespace: str, name: str) -> bool:
        try:
            await _call(
                f"delete {kind} {namespace}/{name}", self._request("DELETE", _workload(kind, namespace, name))
            )
        except NotFound:
            return False
        return True


MERGE_PATCH = "application/merge-patch+json"
# The workload kinds a Checkpoint records: their API path prefix and plural.
_WORKLOADS = {
    "Deployment": ("/apis/apps/v1", "deployments"),
    "StatefulSet": ("/apis/apps/v1", "statefulsets"),
    "ConfigMap": ("/api/v1", "configmaps"),
}


def _path(prefix: str, namespace: str, plural: str, name: str | None) -> str:
    where = f"{prefix}/namespaces/{quote(namespace, safe='')}/{plural}"
    return f"{where}/{quote(name, safe='')}" if name is not None else where


def _custom(namespace: str, plural: str, name: str | None = None) -> str:
    return _path(f"/apis/{GROUP}/{VERSION}", namespace, plural, name)


def _core(namespace: str, plural: str, name: str | None = None) -> str:
    return _path("/api/v1", namespace, plural, name)


def _workload(kind: str, namespace: str, name: str | None = None) -> str:
    if kind not in _WORKLOADS:
        raise ValueError(f"not a workload kind: {kind}")
    prefix, plural = _WORKLOADS[kind]
    return _path(prefix, namespace, plural, name)


def _owner_uids(obj: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(ref.get("uid", "") for ref in (obj.get("metadata") or {}).get("ownerReferences") or [])


def _owner(owner: Mapping[str, Any]) -> dict[str, Any]:
    """An ownerReference as the API takes it (only the fields it has; JSON shape)."""
    keys = ("apiVersion", "kind", "name", "uid", "controller", "blockOwnerDeletion")
    return {k: owner[k] for k in keys if owner.get(k) is not None}
