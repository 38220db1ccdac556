"""A Checkpoint's spec as a frozen value, parsed once at the handler edge (pure, no I/O)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

_TTL_PART = re.compile(r"([0-9]+)([smhd])")
_TTL_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class InvalidSpec(ValueError):
    """The spec cannot be acted on (the CRD schema normally rejects these before we see them)."""


@dataclass(frozen=True)
class SecretRef:
    name: str
    key: str = "apiKey"


@dataclass(frozen=True)
class CheckpointSpec:
    project_id: str
    # None: the project's default branch.
    branch: str | None = None
    source: Mapping[str, Any] = field(default_factory=dict)
    expires_at: dt.datetime | None = None
    ttl: dt.timedelta | None = None
    deletion_policy: Literal["Delete", "Retain"] = "Delete"
    credentials: SecretRef | None = None

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> CheckpointSpec:
        project_id = spec.get("projectId")
        if not isinstance(project_id, str) or not project_id:
            raise InvalidSpec("spec.projectId is required")
        policy = spec.get("deletionPolicy", "Delete")
        if policy not in ("Delete", "Retain"):
            raise InvalidSpec(f"spec.deletionPolicy must be Delete or Retain, got {policy!r}")
        ref = spec.get("credentialsSecretRef")
        credentials = SecretRef(ref["name"], ref.get("key", "apiKey")) if ref else None
        expires_at = spec.get("expiresAt")
        return cls(
            project_id=project_id,
            branch=spec.get("branch") or None,
            source=dict(spec.get("source") or {}),
            expires_at=parse_time(expires_at) if expires_at else None,
            ttl=parse_ttl(spec["ttl"]) if spec.get("ttl") else None,
            deletion_policy=policy,
            credentials=credentials,
        )

    def expiry(self, created_at: dt.datetime) -> dt.datetime | None:
        """When the snapshot expires; a ttl counts from the resource's creation, so retries agree."""
        if self.expires_at is not None:
            return self.expires_at
        if self.ttl is not None:
            return created_at + self.ttl
        return None


def parse_time(value: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidSpec(f"not an RFC 3339 time: {value!r}") from exc
    if moment.tzinfo is None:
        raise InvalidSpec(f"time without a timezone: {value!r}")
    return moment


def parse_ttl(value: str) -> dt.timedelta:
    """`90m`, `24h`, `1d12h` -> timedelta."""
    parts = _TTL_PART.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        raise InvalidSpec(f"spec.ttl must look like 90m, 24h or 7d, got {value!r}")
    return dt.timedelta(seconds=sum(int(n) * _TTL_UNITS[u] for n, u in parts))


def snapshot_name_for(uid: str) -> str:
    """The Neon snapshot name of a Checkpoint: derived from its uid alone, so a retried or resumed create
    finds the snapshot an earlier attempt made instead of making a second one."""
    return f"ckpt-{uid}"
