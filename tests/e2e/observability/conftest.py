"""Observability e2e: the restore harness (the real apiserver, the emulator, a fresh meta DB, the operator run
by kopf) plus a scrape of the operator's /metrics."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

# The shared fixtures, re-exported so pytest finds them for tests in this folder.
from tests.e2e.checkpoint.conftest import crds, harness, namespace  # noqa: F401
from tests.e2e.restore.conftest import restores  # noqa: F401

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str) -> Samples:
    text = httpx.get(url, timeout=10).raise_for_status().text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of `name`'s series whose labels include `labels`."""
    return sum(
        value
        for (series, have), value in samples.items()
        if series == name and labels.items() <= dict(have).items()
    )
