"""The e2e harness's apiserver fixtures (our CRDs applied; a namespace per test), for the ui's tests."""

from tests.e2e.checkpoint.conftest import crds, namespace

__all__ = ["crds", "namespace"]
