"""What handlers share for the operator's lifetime, handed to them through kopf's `memo`."""

from __future__ import annotations

from dataclasses import dataclass, field

from neon_api import AsyncNeonClient, OperationPace, RetryPolicy
from neon_checkpoints.kube import Kube
from neon_checkpoints.meta import MetaStore
from neon_checkpoints.settings import Settings

# Retry the safe cases (423/429/503, GET transport errors) quickly inside one handler run; what outlasts
# this goes back to kopf as a TemporaryError with a delay.
CLIENT_RETRY = RetryPolicy(max_elapsed=20.0, base=0.05, cap=2.0)


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    store: MetaStore
    kube: Kube
    neon: AsyncNeonClient = field(repr=False)
    # How long recent waits for each kind of Neon operation took, for every client: when to poll the next.
    pace: OperationPace = field(repr=False)

    @classmethod
    def neon_client(cls, settings: Settings, api_key: str) -> AsyncNeonClient:
        return AsyncNeonClient(settings.neon_api_url, api_key, retry=CLIENT_RETRY)
