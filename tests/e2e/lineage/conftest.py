"""Lineage e2e: the Checkpoint harness (tests/e2e/checkpoint/conftest.py), re-exported for this folder."""

from tests.e2e.checkpoint.conftest import Harness, crds, harness, namespace  # noqa: F401
