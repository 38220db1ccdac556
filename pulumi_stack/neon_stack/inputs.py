"""A dynamic resource's inputs as its provider sees them: what changed, and what a result echoes back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi.dynamic import DiffResult


def changed_keys(olds: Mapping[str, Any], news: Mapping[str, Any], keys: tuple[str, ...]) -> list[str]:
    return [k for k in keys if olds.get(k) != news.get(k)]


def diff_inputs(
    olds: Mapping[str, Any], news: Mapping[str, Any], *, replace: tuple[str, ...], update: tuple[str, ...]
) -> DiffResult:
    """Replace when an input of `replace` changed, update in place when only inputs of `update` did, and
    nothing otherwise (outputs stored beside the inputs in `olds` never count). A replacement deletes first:
    the names are unique in Neon (and in Kubernetes), so the new object cannot exist beside the old one."""
    replaces = changed_keys(olds, news, replace)
    updates = changed_keys(olds, news, update)
    return DiffResult(changes=bool(replaces or updates), replaces=replaces, delete_before_replace=True)


def public_inputs(props: Mapping[str, Any]) -> dict[str, Any]:
    """The resource's inputs without the serialized provider (the SDK adds it back)."""
    return {k: v for k, v in props.items() if k != "__provider"}
