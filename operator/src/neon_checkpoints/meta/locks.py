"""One mutating flow per Neon project at a time, across operator replicas: PostgreSQL advisory locks.

A held lock pins one pooled connection (session-level advisory locks belong to the session); if the
operator dies the session ends and PostgreSQL releases the lock. Two in-process gates come first, so a burst
of flows cannot starve the pool: flows on the same project wait on an asyncio lock instead of polling the
database, and at most half the pool is ever pinned by held locks, leaving the rest for the flows' writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

# First half of the two-int advisory key: marks the lock as a "Neon project" lock of this operator.
PROJECT_LOCK_CLASS = 0x6E636B70 & 0x7FFFFFFF


class ProjectBusy(Exception):
    """Another flow holds the project's lock and did not release it within the wait."""

    def __init__(self, project_id: str) -> None:
        super().__init__(f"another flow is running on Neon project {project_id}")
        self.project_id = project_id


async def _acquire(gate: asyncio.Lock | asyncio.Semaphore, deadline: float, project_id: str) -> None:
    if not gate.locked():
        await gate.acquire()
        return
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise ProjectBusy(project_id)
    try:
        await asyncio.wait_for(gate.acquire(), remaining)
    except TimeoutError:
        raise ProjectBusy(project_id) from None


class ProjectLocks:
    def __init__(
        self, pool: AsyncConnectionPool[AsyncConnection[Any]], *, max_held: int | None = None
    ) -> None:
        self._pool = pool
        self._held = asyncio.Semaphore(max_held or max(1, pool.max_size // 2))
        self._local: dict[str, asyncio.Lock] = {}

    @contextlib.asynccontextmanager
    async def hold(
        self,
        project_id: str,
        *,
        wait: float = 0.0,
        on_queued: Callable[[], Awaitable[None]] | None = None,
    ) -> AsyncIterator[None]:
        """Hold the project's lock for the body. Wait up to `wait` seconds, else raise `ProjectBusy`.

        `on_queued` (an async callable) runs once when the lock is not free at once, so the caller can show
        phase Queued while it waits.
        """
        deadline = time.monotonic() + wait
        queued = False

        async def waiting() -> None:
            nonlocal queued
            if not queued and on_queued is not None:
                queued = True
                await on_queued()

        local = self._local.setdefault(project_id, asyncio.Lock())
        if local.locked():
            await waiting()
        await _acquire(local, deadline, project_id)
        try:
            if self._held.locked():
                await waiting()
            await _acquire(self._held, deadline, project_id)
            try:
                async with self._advisory(project_id, deadline, waiting):
                    yield
            finally:
                self._held.release()
        finally:
            local.release()

    @contextlib.asynccontextmanager
    async def _advisory(
        self, project_id: str, deadline: float, waiting: Callable[[], Awaitable[None]]
    ) -> AsyncIterator[None]:
        """The cross-replica part: poll the advisory lock, then keep its connection for the body."""
        delay = 0.02
        while True:
            async with self._pool.connection() as conn:
                cur = await conn.execute(
                    "SELECT pg_try_advisory_lock(%s, hashtext(%s))", (PROJECT_LOCK_CLASS, project_id)
                )
                row = await cur.fetchone()
                if row is not None and row[0]:
                    try:
                        yield
                    finally:
                        await conn.execute(
                            "SELECT pg_advisory_unlock(%s, hashtext(%s))", (PROJECT_LOCK_CLASS, project_id)
                        )
                    return
            await waiting()
            if time.monotonic() + delay > deadline:
                raise ProjectBusy(project_id)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)
