"""One mutating flow per Neon project at a time, across operator replicas: PostgreSQL advisory locks.

A held lock pins one pooled connection (session-level advisory locks belong to the session); if the
operator dies the session ends and PostgreSQL releases the lock.
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


class ProjectLocks:
    def __init__(self, pool: AsyncConnectionPool[AsyncConnection[Any]]) -> None:
        self._pool = pool

    @contextlib.asynccontextmanager
    async def hold(
        self,
        project_id: str,
        *,
        wait: float = 0.0,
        on_queued: Callable[[], Awaitable[None]] | None = None,
    ) -> AsyncIterator[None]:
        """Hold the project's lock for the body. Poll up to `wait` seconds, else raise `ProjectBusy`.

        `on_queued` (an async callable) runs once when the first attempt finds the lock taken, so the
        caller can show phase Queued while it waits.
        """
        deadline = time.monotonic() + wait
        delay = 0.02
        queued = False
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
            if not queued and on_queued is not None:
                queued = True
                await on_queued()
            if time.monotonic() + delay > deadline:
                raise ProjectBusy(project_id)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)
