"""The cluster as a dict: a `Kube` whose objects, Secrets, status patches and Events stay in the process."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import kopf

from neon_checkpoints.core.conditions import merge_conditions
from neon_checkpoints.names import GROUP, VERSION
from neon_checkpoints.runtime.kube import AlreadyExists, Kube, SecretUnavailable
from tests.unit.flowkit.workloads import WorkloadsMixin


@dataclass(frozen=True)
class PostedEvent:
    type: str
    reason: str
    message: str


def raw_object(
    kind: str,
    name: str,
    spec: dict[str, Any],
    *,
    uid: str,
    namespace: str = "apps",
    status: dict[str, Any] | None = None,
    generation: int = 1,
    created: str = "2026-12-01T10:00:00Z",
) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": uid,
            "generation": generation,
            "creationTimestamp": created,
        },
        "spec": spec,
    }
    if status is not None:
        raw["status"] = status
    return raw


def body(kind: str, name: str, spec: dict[str, Any], *, uid: str, namespace: str = "apps") -> kopf.Body:
    """A kopf Body as handlers receive it (kopf's own view class over the raw object)."""
    return kopf.Body(cast(Any, raw_object(kind, name, spec, uid=uid, namespace=namespace)))


class FakeKube(WorkloadsMixin, Kube):
    """The cluster as a dict. Status patches merge into the stored object (as the apiserver's merge patch
    does) and are also kept in order; Events are recorded instead of posted."""

    def __init__(self) -> None:  # no API client: nothing here leaves the process
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.secrets: dict[tuple[str, str], dict[str, str]] = {}
        # The ownerReference and labels of each Secret the operator wrote (absent: made by someone else).
        self.secret_owner_refs: dict[tuple[str, str], Mapping[str, Any]] = {}
        self.secret_labels: dict[tuple[str, str], Mapping[str, str]] = {}
        self.patches: list[tuple[str, str, dict[str, Any]]] = []
        self.events: list[PostedEvent] = []
        # The app's workloads by (kind, namespace, name); every write to them in order, as
        # (verb, kind, name, body); `fail_workload_writes` makes the next N writes answer 503.
        self.workloads: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.workload_writes: list[tuple[str, str, str, dict[str, Any]]] = []
        self.fail_workload_writes = 0
        # Whether the controller-manager acts (observedGeneration follows generation at once).
        self.controller_running = True
        # Namespace name -> its annotations (the tenancy policy); absent: a Namespace without any.
        self.namespaces: dict[str, dict[str, str]] = {}

    async def close(self) -> None:
        return None

    def put(self, plural: str, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        self.objects[(plural, meta["namespace"], meta["name"])] = obj
        return obj

    def apply(
        self,
        plural: str,
        kind: str,
        name: str,
        spec: dict[str, Any],
        *,
        uid: str,
        namespace: str = "apps",
        created: str = "2026-12-01T10:00:00Z",
    ) -> kopf.Body:
        """Store a new resource (as `kubectl apply` would) and return the Body its create handler gets."""
        self.put(plural, raw_object(kind, name, spec, uid=uid, namespace=namespace, created=created))
        return self.body_of(plural, name, namespace)

    def body_of(self, plural: str, name: str, namespace: str = "apps") -> kopf.Body:
        """The Body the next handler run gets: the stored object, with every status patch so far."""
        return kopf.Body(cast(Any, copy.deepcopy(self.objects[(plural, namespace, name)])))

    def status_of(self, plural: str, name: str, namespace: str = "apps") -> dict[str, Any]:
        return dict(self.objects[(plural, namespace, name)].get("status") or {})

    def condition(self, plural: str, name: str, type: str, namespace: str = "apps") -> dict[str, Any]:
        conditions = self.status_of(plural, name, namespace).get("conditions") or []
        return next(c for c in conditions if c.get("type") == type)

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

    async def patch_status(
        self, plural: str, namespace: str, name: str, status: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        """As the real one: `conditions` merged by type into what the object holds."""
        self.patches.append((plural, name, copy.deepcopy(dict(status))))
        obj = self.objects.get((plural, namespace, name))
        update = copy.deepcopy(dict(status))
        if "conditions" not in update:
            if obj is not None:
                obj.setdefault("status", {}).update(update)
            return []
        held = ((obj or {}).get("status") or {}).get("conditions") or []
        update["conditions"] = merge_conditions(held, update["conditions"])
        if obj is not None:
            obj.setdefault("status", {}).update(update)
        return list(update["conditions"])

    def event(self, body: kopf.Body, *, type: str, reason: str, message: str) -> None:
        self.events.append(PostedEvent(type, reason, message))

    async def namespace_annotations(self, name: str) -> dict[str, str]:
        return dict(self.namespaces.get(name) or {})

    async def read_secret_value(self, namespace: str, name: str, key: str) -> str:
        data = self.secrets.get((namespace, name))
        if data is None:
            raise SecretUnavailable("SecretNotFound", f"Secret {namespace}/{name} not found")
        if key not in data:
            raise SecretUnavailable("SecretKeyMissing", f"Secret {namespace}/{name} has no key {key!r}")
        return data[key]

    async def secret_owners(self, namespace: str, name: str) -> tuple[str, ...] | None:
        if (namespace, name) not in self.secrets:
            return None
        owner = self.secret_owner_refs.get((namespace, name))
        return (owner["uid"],) if owner else ()

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
        if not replace and (namespace, name) in self.secrets:
            raise AlreadyExists(f"create Secret {namespace}/{name}", 409)
        self.secrets[(namespace, name)] = dict(data)
        self.secret_owner_refs[(namespace, name)] = dict(owner)
        self.secret_labels[(namespace, name)] = dict(labels)

    async def delete_owned_secret(self, namespace: str, name: str, *, owner_uid: str) -> bool:
        owner = self.secret_owner_refs.get((namespace, name))
        if owner is None or owner["uid"] != owner_uid:
            return False
        del self.secrets[(namespace, name)]
        del self.secret_owner_refs[(namespace, name)]
        self.secret_labels.pop((namespace, name), None)
        return True
