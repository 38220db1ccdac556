"""What flows and daemons share for the operator's lifetime: the one thing kopf's `memo` holds."""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass, field

from neon_api import AsyncNeonClient, OperationPace
from neon_api.budget import BudgetLimits, KeyShares
from neon_checkpoints.meta.store import MetaStore
from neon_checkpoints.runtime.branch_ids import BranchIds
from neon_checkpoints.runtime.credentials import Credentials, neon_client
from neon_checkpoints.runtime.database_names import DatabaseNames
from neon_checkpoints.runtime.kube import Kube
from neon_checkpoints.runtime.metrics import Metrics
from neon_checkpoints.settings import Settings


@dataclass
class Waker:
    """Wakes a daemon when its resource's spec changes: the generation it last acted on, and the signal."""

    generation: int | None
    edited: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    store: MetaStore
    kube: Kube
    # The client with the operator's default key; flows get theirs from `credentials`.
    neon: AsyncNeonClient = field(repr=False)
    credentials: Credentials = field(repr=False)
    # How long recent waits for each kind of Neon operation took, for every client: when to poll the next.
    pace: OperationPace = field(repr=False)
    metrics: Metrics = field(repr=False)
    # By resource uid: a schedule's spec edit wakes its daemon at once.
    wakers: dict[str, Waker] = field(default_factory=dict, repr=False)
    # Branch ids by name per project, for checkpoints (branch_ids.py says when an entry is trusted).
    branch_ids: BranchIds = field(default_factory=lambda: BranchIds(300.0), repr=False)
    # Database names per branch, for schema captures without spec.databases (database_names.py).
    database_names: DatabaseNames = field(default_factory=lambda: DatabaseNames(60.0), repr=False)
    # Per API key: the request budget and the GETs in flight, shared by every client of that key.
    shares: KeyShares = field(default_factory=lambda: KeyShares(BudgetLimits()), repr=False)

    @classmethod
    async def open(cls, settings: Settings) -> Runtime:
        store = await MetaStore.open(settings.meta_database_url, max_size=settings.meta_pool_size)
        try:
            kube = await Kube.from_environment()
        except BaseException:
            await store.close()
            raise
        metrics = Metrics()
        shares = KeyShares(settings.api_budget)
        connect = functools.partial(neon_client, settings, shares, observer=metrics)
        neon = connect(settings.neon_api_key)
        return cls(
            settings=settings,
            store=store,
            kube=kube,
            neon=neon,
            credentials=Credentials(kube, store, neon, connect, settings.tenancy),
            pace=OperationPace(settings.operation_poll_interval, observer=metrics),
            metrics=metrics,
            branch_ids=BranchIds(settings.branch_cache_ttl),
            database_names=DatabaseNames(settings.database_list_ttl),
            shares=shares,
        )

    async def close(self) -> None:
        self.metrics.close()
        await self.neon.aclose()
        await self.kube.close()
        await self.store.close()
