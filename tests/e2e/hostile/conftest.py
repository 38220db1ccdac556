"""The e2e harness of tests/e2e/checkpoint, re-exported for this folder."""

from tests.e2e.checkpoint.conftest import Harness, crds, harness, namespace  # noqa: F401
