"""What a workload runs, as the content the meta database stores once per digest (pure, no I/O).

A Deployment's or StatefulSet's record is its replicas and the parts of its pod template that make the
code: labels and annotations of the template, and per container its image, command, args, env, envFrom
and volume mounts, with the pod's volumes. A ConfigMap's record is its data. Only these fields are ever
applied back (restore/flow.py), so what other controllers own (resources, probes, status) is left alone.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from neon_checkpoints.workloads.spec import SCALABLE, Kind, WorkloadRef

# A ConfigMap's data (and a pod template) larger than this is refused with a reason, before any snapshot.
MAX_CONTENT_BYTES = 256 * 1024
REVISION_LENGTH = 12
_CONTAINER_FIELDS = ("name", "image", "command", "args", "env", "envFrom", "volumeMounts", "workingDir")


class WorkloadTooLarge(ValueError):
    pass


@dataclass(frozen=True)
class Captured:
    kind: Kind
    name: str
    content: Mapping[str, Any]
    digest: str

    @property
    def revision(self) -> str:
        return self.digest[:REVISION_LENGTH]

    @property
    def replicas(self) -> int | None:
        value = self.content.get("replicas")
        return value if isinstance(value, int) else None

    def summary(self) -> dict[str, str]:
        return {"kind": self.kind, "name": self.name, "revision": self.revision}


def canonical(content: Mapping[str, Any]) -> bytes:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest_of(kind: str, content: Mapping[str, Any]) -> str:
    return hashlib.sha256(kind.encode() + b"\0" + canonical(content)).hexdigest()


def capture(kind: Kind, name: str, obj: Mapping[str, Any]) -> Captured:
    """The record of one workload object (its JSON form, as the apiserver returns it)."""
    content = content_of(kind, obj)
    size = len(canonical(content))
    if size > MAX_CONTENT_BYTES:
        what = "data" if kind == "ConfigMap" else "pod template"
        raise WorkloadTooLarge(
            f"{kind} {name}: its {what} is {size} bytes, over the limit of {MAX_CONTENT_BYTES} bytes "
            "a checkpoint records"
        )
    return Captured(kind, name, content, digest_of(kind, content))


def content_of(kind: Kind, obj: Mapping[str, Any]) -> dict[str, Any]:
    if kind == "ConfigMap":
        out: dict[str, Any] = {"data": dict(obj.get("data") or {})}
        if obj.get("binaryData"):
            out["binaryData"] = dict(obj["binaryData"])
        return out
    spec = obj.get("spec") or {}
    template = spec.get("template") or {}
    meta = template.get("metadata") or {}
    pod = template.get("spec") or {}
    template_meta = {k: dict(meta[k]) for k in ("labels", "annotations") if meta.get(k)}
    pod_out: dict[str, Any] = {"containers": _containers(pod.get("containers") or [])}
    if pod.get("initContainers"):
        pod_out["initContainers"] = _containers(pod["initContainers"])
    if pod.get("volumes"):
        pod_out["volumes"] = [dict(v) for v in pod["volumes"]]
    out = {
        "replicas": spec.get("replicas", 1),
        "template": {"metadata": template_meta, "spec": pod_out},
    }
    # Immutable, so applying them back changes nothing; they let the apply re-create a deleted workload.
    for key in ("selector", "serviceName"):
        if spec.get(key):
            out[key] = spec[key]
    return out


def _containers(containers: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [{k: c[k] for k in _CONTAINER_FIELDS if c.get(k) not in (None, [], {})} for c in containers]


def images(captured: Captured) -> list[str]:
    """The images a captured Deployment/StatefulSet runs (for messages and the demo)."""
    if captured.kind not in SCALABLE:
        return []
    pod = captured.content.get("template", {}).get("spec", {})
    return [str(c.get("image", "")) for c in pod.get("containers", [])]


@dataclass(frozen=True)
class Selection:
    """The workloads to capture: the listed ones in order, then the selected ones not listed (by kind and
    name). `missing`: listed ones that do not exist."""

    found: tuple[tuple[WorkloadRef, Mapping[str, Any]], ...]
    missing: tuple[WorkloadRef, ...]


def select(
    refs: Sequence[WorkloadRef],
    listed: Mapping[tuple[str, str], Mapping[str, Any] | None],
    selected: Sequence[tuple[Kind, Mapping[str, Any]]] = (),
) -> Selection:
    found: list[tuple[WorkloadRef, Mapping[str, Any]]] = []
    missing: list[WorkloadRef] = []
    for ref in refs:
        obj = listed.get(ref.key)
        if obj is None:
            missing.append(ref)
        else:
            found.append((ref, obj))
    seen = {ref.key for ref in refs}
    for kind, obj in sorted(selected, key=lambda pair: (pair[0], pair[1]["metadata"]["name"])):
        key = (kind, obj["metadata"]["name"])
        if key not in seen:
            seen.add(key)
            found.append((WorkloadRef(kind, key[1]), obj))
    return Selection(tuple(found), tuple(missing))


def missing_message(missing: Sequence[WorkloadRef], namespace: str) -> str:
    names = ", ".join(f"{r.kind} {namespace}/{r.name}" for r in missing)
    return f"spec.workloads names what does not exist: {names}; no snapshot was taken"
