"""What flow tests run on instead of a cluster: a fake Kube (objects, Secrets, status patches and Events
recorded), Neon answers through httpx.MockTransport (every request recorded with the key it carried), and the
real meta store on the suite's PostgreSQL. The flows themselves run unchanged, without kopf."""

from __future__ import annotations

import base64
import copy
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import kopf

from neon_api import AsyncNeonClient, OperationPace, RetryPolicy
from neon_checkpoints.meta import MetaStore
from neon_checkpoints.names import GROUP, VERSION
from neon_checkpoints.runtime.credentials import Credentials
from neon_checkpoints.runtime.kube import AlreadyExists, Kube, SecretUnavailable
from neon_checkpoints.runtime.runtime import Runtime
from neon_checkpoints.settings import Settings

BASE_URL = "https://neon.test/api/v2"
DEFAULT_KEY = "napi_operator_default_key"


@dataclass(frozen=True)
class PostedEvent:
    type: str
    reason: str
    message: str


class FakeKube(Kube):
    """The cluster as a dict. Status patches merge into the stored object (as the apiserver's merge patch
    does) and are also kept in order; Events are recorded instead of posted."""

    def __init__(self) -> None:  # no API client: nothing here leaves the process
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.secrets: dict[tuple[str, str], dict[str, str]] = {}
        self.secret_owners: dict[tuple[str, str], Mapping[str, Any]] = {}
        self.patches: list[tuple[str, str, dict[str, Any]]] = []
        self.events: list[PostedEvent] = []

    async def close(self) -> None:
        return None

    def put(self, plural: str, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        self.objects[(plural, meta["namespace"], meta["name"])] = obj
        return obj

    async def get(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        found = self.objects.get((plural, namespace, name))
        return copy.deepcopy(found) if found is not None else None

    async def list(
        self, plural: str, namespace: str, *, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        wanted = dict(part.split("=", 1) for part in (label_selector or "").split(",") if part)
        return [
            copy.deepcopy(obj)
            for (p, ns, _), obj in self.objects.items()
            if p == plural
            and ns == namespace
            and all(((obj["metadata"].get("labels") or {}).get(k) == v) for k, v in wanted.items())
        ]

    async def create(self, plural: str, namespace: str, body: Mapping[str, Any]) -> None:
        key = (plural, namespace, body["metadata"]["name"])
        if key in self.objects:
            raise AlreadyExists(f"create {plural}", 409)
        self.objects[key] = copy.deepcopy(dict(body))

    async def delete(self, plural: str, namespace: str, name: str) -> bool:
        return self.objects.pop((plural, namespace, name), None) is not None

    async def patch_status(self, plural: str, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        self.patches.append((plural, name, copy.deepcopy(dict(status))))
        obj = self.objects.get((plural, namespace, name))
        if obj is not None:
            obj.setdefault("status", {}).update(copy.deepcopy(dict(status)))

    def event(self, body: kopf.Body, *, type: str, reason: str, message: str) -> None:
        self.events.append(PostedEvent(type, reason, message))

    async def read_secret_value(self, namespace: str, name: str, key: str) -> str:
        data = self.secrets.get((namespace, name))
        if data is None:
            raise SecretUnavailable("SecretNotFound", f"Secret {namespace}/{name} not found")
        if key not in data:
            raise SecretUnavailable("SecretKeyMissing", f"Secret {namespace}/{name} has no key {key!r}")
        return data[key]

    async def apply_secret(
        self, namespace: str, name: str, data: Mapping[str, str], *, owner: Mapping[str, Any]
    ) -> None:
        self.secrets[(namespace, name)] = dict(data)
        self.secret_owners[(namespace, name)] = dict(owner)

    async def delete_secret(self, namespace: str, name: str) -> None:
        self.secrets.pop((namespace, name), None)
        self.secret_owners.pop((namespace, name), None)


@dataclass
class NeonCalls:
    """Every request the flows sent, with the API key it carried."""

    seen: list[tuple[str, str, str]] = field(default_factory=list)  # (method, path, key)

    def api_keys(self) -> set[str]:
        return {key for _, _, key in self.seen}


def neon_transport(
    handle: Callable[[httpx.Request], httpx.Response], calls: NeonCalls
) -> httpx.MockTransport:
    def recording(request: httpx.Request) -> httpx.Response:
        key = request.headers.get("authorization", "").removeprefix("Bearer ")
        calls.seen.append((request.method, request.url.path.removeprefix("/api/v2"), key))
        return handle(request)

    return httpx.MockTransport(recording)


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "neon_api_url": BASE_URL,
        "neon_api_key": DEFAULT_KEY,
        "meta_database_url": "postgresql://unused",
        "project_lock_wait": 2.0,
        "operation_timeout": 5.0,
        **overrides,
    }
    return Settings(**values)


async def open_runtime(
    meta_dsn: str,
    kube: FakeKube,
    handle: Callable[[httpx.Request], httpx.Response],
    calls: NeonCalls,
    **setting_overrides: Any,
) -> AsyncIterator[Runtime]:
    """A Runtime as the operator builds one, on fakes at the network edge; use with `async for`."""
    config = settings(**setting_overrides)
    store = await MetaStore.open(meta_dsn, max_size=4)
    transport = neon_transport(handle, calls)

    def connect(key: str) -> AsyncNeonClient:
        return AsyncNeonClient(BASE_URL, key, transport=transport, retry=RetryPolicy(max_elapsed=0))

    default = connect(DEFAULT_KEY)
    runtime = Runtime(
        settings=config,
        store=store,
        kube=kube,
        neon=default,
        credentials=Credentials(kube, store, default, connect),
        pace=OperationPace(0.02),
    )
    try:
        yield runtime
    finally:
        await default.aclose()
        await store.close()


def body(kind: str, name: str, spec: dict[str, Any], *, uid: str, namespace: str = "apps") -> kopf.Body:
    """A kopf Body as handlers receive it (kopf's own view class over the raw object)."""
    raw = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": uid,
            "generation": 1,
            "creationTimestamp": "2026-12-01T10:00:00Z",
        },
        "spec": spec,
    }
    return kopf.Body(raw)


def secret_data(value: str) -> str:
    return base64.b64encode(value.encode()).decode()
