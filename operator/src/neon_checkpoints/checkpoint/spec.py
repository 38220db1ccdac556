"""A Checkpoint's spec as a frozen value, parsed once at the handler edge (pure, no I/O)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from neon_checkpoints.core.durations import DurationError, parse_duration
from neon_checkpoints.core.errors import InvalidSpec
from neon_checkpoints.core.secrets import SecretRef, secret_ref
from neon_checkpoints.core.times import parse_time
from neon_checkpoints.workloads.spec import WorkloadsSpec


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
    # The app's code state recorded with the snapshot (design.md §8).
    workloads: WorkloadsSpec = field(default_factory=WorkloadsSpec)
    # The databases whose schema is captured at Ready; empty: every non-system database of the branch.
    databases: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> CheckpointSpec:
        project_id = spec.get("projectId")
        if not isinstance(project_id, str) or not project_id:
            raise InvalidSpec("spec.projectId is required")
        branch = spec.get("branch") or None
        if branch is not None and not isinstance(branch, str):
            raise InvalidSpec(f"spec.branch must be a branch name, got {branch!r}")
        source = spec.get("source") or {}
        if not isinstance(source, Mapping):
            raise InvalidSpec("spec.source must be an object")
        _check_storable(source, "spec.source")
        _check_size(source, "spec.source")
        policy = spec.get("deletionPolicy", "Delete")
        if policy not in ("Delete", "Retain"):
            raise InvalidSpec(f"spec.deletionPolicy must be Delete or Retain, got {policy!r}")
        try:
            expires_at = parse_time(spec["expiresAt"]) if spec.get("expiresAt") else None
        except ValueError as exc:
            raise InvalidSpec(f"spec.expiresAt: {exc}") from None
        try:
            ttl = parse_duration(spec["ttl"]) if spec.get("ttl") else None
        except DurationError as exc:
            raise InvalidSpec(f"spec.ttl: {exc}") from None
        databases = spec.get("databases") or []
        if not isinstance(databases, list) or not all(isinstance(d, str) and d for d in databases):
            raise InvalidSpec("spec.databases must be a list of database names")
        return cls(
            project_id=project_id,
            branch=branch,
            source=dict(source),
            expires_at=expires_at,
            ttl=ttl,
            deletion_policy=policy,
            credentials=secret_ref(spec),
            workloads=WorkloadsSpec.from_dict(spec),
            databases=tuple(dict.fromkeys(databases)),
        )

    def expiry(self, created_at: dt.datetime) -> dt.datetime | None:
        """When the snapshot expires; a ttl counts from the resource's creation, so retries agree."""
        if self.expires_at is not None:
            return self.expires_at
        if self.ttl is not None:
            return created_at + self.ttl
        return None


# What the CRD allows in `source` (crds/checkpoints.yaml), and the whole of it as JSON: the meta row and
# the timeline carry it verbatim.
SOURCE_MAX_KEYS = 64
SOURCE_MAX_KEY = 128
SOURCE_MAX_BYTES = 16384


def _check_size(source: Mapping[str, Any], where: str) -> None:
    if len(source) > SOURCE_MAX_KEYS:
        raise InvalidSpec(f"{where} has {len(source)} keys; at most {SOURCE_MAX_KEYS}")
    long = next((str(k) for k in source if len(str(k)) > SOURCE_MAX_KEY), None)
    if long is not None:
        raise InvalidSpec(f"{where}: a key of {len(long)} characters; at most {SOURCE_MAX_KEY}")
    try:
        size = len(json.dumps(source, ensure_ascii=False, default=str).encode())
    except (TypeError, ValueError, RecursionError):
        raise InvalidSpec(f"{where} is not JSON") from None
    if size > SOURCE_MAX_BYTES:
        raise InvalidSpec(f"{where} is {size} bytes of JSON; at most {SOURCE_MAX_BYTES}")


def _check_storable(value: Any, where: str) -> None:
    """The meta database stores `source` as jsonb, which refuses NUL characters: found before any snapshot
    is taken, not after (the Checkpoint would retry forever with its snapshot made)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise InvalidSpec(f"{where} contains a NUL character, which cannot be stored")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _check_storable(str(key), f"{where} (a key)")
            _check_storable(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_storable(item, f"{where}[{index}]")
