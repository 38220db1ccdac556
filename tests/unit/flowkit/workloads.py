"""The app's workloads in the fake cluster: Deployments, StatefulSets and ConfigMaps as the apiserver returns
them, and the calls the operator makes on them (FakeKube mixes this in)."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Mapping
from typing import Any

from neon_checkpoints.runtime.kube import KubeError


def workload(kind: str, name: str, *, namespace: str = "apps", **spec: Any) -> dict[str, Any]:
    """A Deployment/StatefulSet with one container (spec: image=..., replicas=..., env=...), or a
    ConfigMap (spec: data=...), as the apiserver returns it."""
    meta = {"name": name, "namespace": namespace, "uid": f"uid-{kind}-{name}", "generation": 1}
    if kind == "ConfigMap":
        return {"apiVersion": "v1", "kind": kind, "metadata": meta, "data": dict(spec.get("data", {}))}
    container: dict[str, Any] = {"name": "app", "image": spec.get("image", "app:v1"), "resources": {}}
    if spec.get("env"):
        container["env"] = spec["env"]
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": meta,
        "spec": {
            "replicas": spec.get("replicas", 2),
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}},
        },
        "status": {"observedGeneration": 1, "replicas": spec.get("replicas", 2)},
    }


def _merge(into: dict[str, Any], patch: Mapping[str, Any]) -> None:
    for key, value in patch.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)


class WorkloadsMixin:
    """The workload calls of FakeKube (split out for size): an apply replaces the recorded fields, a
    change bumps the generation, and the controller (when running) observes it at once."""

    workloads: dict[tuple[str, str, str], dict[str, Any]]
    workload_writes: list[tuple[str, str, str, dict[str, Any]]]
    fail_workload_writes: int
    controller_running: bool

    def put_workload(self, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        self.workloads[(obj["kind"], meta["namespace"], meta["name"])] = copy.deepcopy(obj)

    def workload_of(self, kind: str, name: str, namespace: str = "apps") -> dict[str, Any]:
        return self.workloads[(kind, namespace, name)]

    def _write(self, verb: str, kind: str, name: str, body: Mapping[str, Any]) -> None:
        if self.fail_workload_writes > 0:
            self.fail_workload_writes -= 1
            raise KubeError(f"{verb} {kind} {name}", 503)
        self.workload_writes.append((verb, kind, name, copy.deepcopy(dict(body))))

    def _changed(self, obj: dict[str, Any], before: dict[str, Any]) -> None:
        if obj.get("spec") != before.get("spec"):
            obj["metadata"]["generation"] = obj["metadata"].get("generation", 1) + 1
        if self.controller_running and "spec" in obj:
            status = obj.setdefault("status", {})
            status["observedGeneration"] = obj["metadata"]["generation"]
            status["replicas"] = obj["spec"].get("replicas", 1)

    async def get_workload(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        found = self.workloads.get((kind, namespace, name))
        return copy.deepcopy(found) if found is not None else None

    async def watch_workload(
        self, kind: str, namespace: str, name: str, resource_version: str, seconds: float
    ) -> AsyncIterator[dict[str, Any] | None]:
        """No watch here: the stream ends at once and the flow polls (as when a real watch breaks)."""
        return
        yield

    async def list_workloads(self, kind: str, namespace: str, label_selector: str) -> list[dict[str, Any]]:
        wanted = dict(part.split("=", 1) for part in label_selector.split(",") if part)
        return [
            copy.deepcopy(obj)
            for (k, ns, _), obj in self.workloads.items()
            if k == kind
            and ns == namespace
            and all((obj["metadata"].get("labels") or {}).get(a) == b for a, b in wanted.items())
        ]

    async def apply_workload(
        self, kind: str, namespace: str, name: str, body: Mapping[str, Any], *, field_manager: str
    ) -> dict[str, Any]:
        self._write("apply", kind, name, body)
        key = (kind, namespace, name)
        obj = self.workloads.get(key)
        if obj is None:  # an apply creates what does not exist
            obj = copy.deepcopy(dict(body))
            obj["metadata"]["generation"] = 1
            before = copy.deepcopy(obj)
        else:
            before = copy.deepcopy(obj)
            if body["metadata"].get("labels"):
                obj["metadata"].setdefault("labels", {}).update(body["metadata"]["labels"])
            if kind == "ConfigMap":
                obj["data"] = dict(body.get("data") or {})
            else:
                spec = obj.setdefault("spec", {})
                spec["replicas"] = body["spec"]["replicas"]
                spec["template"] = copy.deepcopy(body["spec"]["template"])
        self.workloads[key] = obj
        self._changed(obj, before)
        return copy.deepcopy(obj)

    async def patch_workload(
        self, kind: str, namespace: str, name: str, patch: Mapping[str, Any], *, field_manager: str
    ) -> dict[str, Any] | None:
        obj = self.workloads.get((kind, namespace, name))
        if obj is None:
            return None
        self._write("patch", kind, name, patch)
        before = copy.deepcopy(obj)
        _merge(obj, patch)
        self._changed(obj, before)
        return copy.deepcopy(obj)

    async def delete_workload(self, kind: str, namespace: str, name: str) -> bool:
        self._write("delete", kind, name, {})
        return self.workloads.pop((kind, namespace, name), None) is not None
