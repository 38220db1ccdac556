"""Which workloads a Checkpoint records (`spec.workloads`, `spec.workloadSelector`), parsed once (pure)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from neon_checkpoints.core.errors import InvalidSpec

Kind = Literal["Deployment", "StatefulSet", "ConfigMap"]
KINDS: tuple[Kind, ...] = ("Deployment", "StatefulSet", "ConfigMap")
# Kinds whose pod template and replicas are recorded (the others record data).
SCALABLE: tuple[Kind, ...] = ("Deployment", "StatefulSet")
MAX_WORKLOADS = 16
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class WorkloadRef:
    kind: Kind
    name: str
    # The env var carrying the database URL (for a Preview's copy); None: no copy is made in a Preview.
    database_url_env: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.name)

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}"


@dataclass(frozen=True)
class WorkloadsSpec:
    refs: tuple[WorkloadRef, ...] = ()
    selector: Mapping[str, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.refs and not self.selector

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> WorkloadsSpec:
        raw = spec.get("workloads") or []
        if not isinstance(raw, list):
            raise InvalidSpec("spec.workloads must be a list")
        if len(raw) > MAX_WORKLOADS:
            raise InvalidSpec(f"spec.workloads lists {len(raw)} workloads; at most {MAX_WORKLOADS}")
        refs: list[WorkloadRef] = []
        for index, item in enumerate(raw):
            refs.append(_ref(item, f"spec.workloads[{index}]"))
        keys = [r.key for r in refs]
        if len(set(keys)) != len(keys):
            raise InvalidSpec("spec.workloads: each kind and name may be listed once")
        selector = spec.get("workloadSelector") or {}
        labels = selector.get("matchLabels") if isinstance(selector, Mapping) else None
        if selector and (not isinstance(labels, Mapping) or not labels):
            raise InvalidSpec("spec.workloadSelector.matchLabels must name at least one label")
        return cls(tuple(refs), {str(k): str(v) for k, v in (labels or {}).items()})

    def selector_string(self) -> str:
        return ",".join(f"{k}={v}" for k, v in sorted(self.selector.items()))


def _ref(item: Any, where: str) -> WorkloadRef:
    if not isinstance(item, Mapping):
        raise InvalidSpec(f"{where} must be an object with kind and name")
    kind, name = item.get("kind"), item.get("name")
    if kind not in KINDS:
        raise InvalidSpec(f"{where}.kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if not isinstance(name, str) or not _NAME.match(name) or len(name) > 200:
        raise InvalidSpec(f"{where}.name must be a Kubernetes object name, got {name!r}")
    url = item.get("databaseUrl") or None
    env = url.get("env") if isinstance(url, Mapping) else None
    if url is not None and (not isinstance(env, str) or not _ENV.match(env)):
        raise InvalidSpec(f"{where}.databaseUrl.env must be an environment variable name")
    if env is not None and kind == "ConfigMap":
        raise InvalidSpec(f"{where}.databaseUrl is only valid for a Deployment or StatefulSet")
    return WorkloadRef(cast(Kind, kind), name, env)
