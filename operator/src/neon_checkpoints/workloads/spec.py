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
_SECRET_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
# The meta database keeps the source in one text column (`database_url_env`): an env var name as is, a
# Secret key as `secretKeyRef:<name>:<key>` (neither a name nor a key may hold a colon, an env var no colon).
_STORED_SECRET = "secretKeyRef:"


@dataclass(frozen=True)
class DatabaseUrl:
    """Where a workload reads its database URL: one env var (`env`), or a Secret key (`secret`)."""

    env: str | None = None
    secret: tuple[str, str] | None = None  # (Secret name, key)

    def stored(self) -> str:
        if self.secret is not None:
            return f"{_STORED_SECRET}{self.secret[0]}:{self.secret[1]}"
        return str(self.env)

    @classmethod
    def from_stored(cls, text: str | None) -> DatabaseUrl | None:
        if not text:
            return None
        if text.startswith(_STORED_SECRET):
            name, _, key = text[len(_STORED_SECRET) :].partition(":")
            return cls(secret=(name, key))
        return cls(env=text)

    def __str__(self) -> str:
        if self.secret is not None:
            return f"Secret {self.secret[0]} key {self.secret[1]}"
        return f"env var {self.env}"


@dataclass(frozen=True)
class WorkloadRef:
    kind: Kind
    name: str
    # Where it reads its database URL (for a Preview's copy); None: no copy is made in a Preview.
    database_url: DatabaseUrl | None = None

    @property
    def database_url_stored(self) -> str | None:
        return self.database_url.stored() if self.database_url else None

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
    url = _database_url(item.get("databaseUrl") or None, f"{where}.databaseUrl")
    if url is not None and kind == "ConfigMap":
        raise InvalidSpec(f"{where}.databaseUrl is only valid for a Deployment or StatefulSet")
    return WorkloadRef(cast(Kind, kind), name, url)


def _database_url(url: Any, where: str) -> DatabaseUrl | None:
    if url is None:
        return None
    if not isinstance(url, Mapping) or ("env" in url) == ("secretKeyRef" in url):
        raise InvalidSpec(f"{where}: set exactly one of env or secretKeyRef")
    if "env" in url:
        env = url["env"]
        if not isinstance(env, str) or not _ENV.match(env):
            raise InvalidSpec(f"{where}.env must be an environment variable name")
        return DatabaseUrl(env=env)
    ref = url["secretKeyRef"]
    name = ref.get("name") if isinstance(ref, Mapping) else None
    key = ref.get("key") if isinstance(ref, Mapping) else None
    if not isinstance(name, str) or not _SECRET_NAME.match(name) or len(name) > 253:
        raise InvalidSpec(f"{where}.secretKeyRef.name must be a Secret name, got {name!r}")
    if not isinstance(key, str) or not _SECRET_KEY.match(key) or len(key) > 253:
        raise InvalidSpec(f"{where}.secretKeyRef.key must be a Secret key, got {key!r}")
    return DatabaseUrl(secret=(name, key))
