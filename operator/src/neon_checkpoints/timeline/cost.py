"""What a checkpoint's snapshot costs, from the sizes Neon reports (pure).

Neon reports `full_size` (bytes the snapshot holds; absent until computed, 0 when not charged) and
`diff_size` (bytes since the previous snapshot) and bills snapshot storage per GB-month ($0.09 from
2026-05-01, neon-api.md §11): the estimate is full_size x that price."""

from __future__ import annotations

from dataclasses import dataclass

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
