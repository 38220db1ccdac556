"""Neon API v2 client: sync and async over httpx, typed models, one error tree, operation waiting.

from neon_api import NeonClient, AsyncNeonClient, errors, models
"""

from neon_api import errors, models
from neon_api.async_client import AsyncNeonClient
from neon_api.calls.snapshots import UNSET
from neon_api.observe import NullObserver, Observer, route_template
from neon_api.pacing import OperationPace
from neon_api.retry import NO_RETRY, RetryPolicy
from neon_api.sync_client import NeonClient

__all__ = [
    "NO_RETRY",
    "UNSET",
    "AsyncNeonClient",
    "NeonClient",
    "NullObserver",
    "Observer",
    "OperationPace",
    "RetryPolicy",
    "errors",
    "models",
    "route_template",
]
