"""What a checkpoint's snapshot costs, from the sizes Neon reports (pure).

Neon reports `full_size` (bytes the snapshot holds; absent until computed, 0 when not charged) and
`diff_size` (bytes since the previous snapshot) and bills snapshot storage per GB-month ($0.09 from
2026-05-01, neon-api.md §11): the estimate is full_size x that price."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

PRICE_PER_GB_MONTH = 0.09
_GB = 1e9


@dataclass(frozen=True)
class Sizes:
    full: int | None
    diff: int | None


def _bytes(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def describe(sizes: Sizes | None, price_per_gb_month: float = PRICE_PER_GB_MONTH) -> str:
    """`12.3 MB (+1.2 MB), $0.0011/month`; `-` when Neon has not computed the size yet."""
    if sizes is None or sizes.full is None:
        return "-"
    diff = f" (+{_bytes(sizes.diff)})" if sizes.diff is not None else ""
    return f"{_bytes(sizes.full)}{diff}, ${sizes.full / _GB * price_per_gb_month:.4f}/month"


def size_status(sizes: Sizes | None) -> dict[str, Any] | None:
    """A Checkpoint's `status.size`: bytes as Neon reports them and `describe`'s line (the -o wide
    column); None while Neon has not computed `full_size`."""
    if sizes is None or sizes.full is None:
        return None
    size: dict[str, Any] = {"full": sizes.full, "display": describe(sizes)}
    if sizes.diff is not None:
        size["diff"] = sizes.diff
    return size


def sizes_to_record(
    checkpoints: Iterable[Mapping[str, Any]], sizes: Mapping[str, Sizes]
) -> list[tuple[str, dict[str, Any]]]:
    """(name, status.size) for each Checkpoint whose snapshot `sizes` (by snapshot id, from a listing made
    anyway) knows a size its status does not say yet."""
    changed = []
    for checkpoint in checkpoints:
        status = checkpoint.get("status") or {}
        size = size_status(sizes.get(status.get("snapshotId") or ""))
        if size is not None and status.get("size") != size:
            changed.append((str(checkpoint["metadata"]["name"]), size))
    return changed
