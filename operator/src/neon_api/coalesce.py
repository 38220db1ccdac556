"""Identical GETs in flight are sent once: flows polling the same project's operations listing at the same
moment share one request and its answer (or its error)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class InFlight(Generic[T]):
    def __init__(self) -> None:
        self._pending: dict[Hashable, asyncio.Future[T]] = {}
        self.shared = 0  # requests answered by another caller's request

    async def run(self, key: Hashable, send: Callable[[], Awaitable[T]]) -> T:
        while (pending := self._pending.get(key)) is not None:
            self.shared += 1
            try:
                # A waiter's cancellation must not cancel the request the others wait for.
                return await asyncio.shield(pending)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if not pending.cancelled() or (task is not None and task.cancelling()):
                    raise
                # The sender was cancelled (e.g. its sibling poll failed), not this caller: send it anew.
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            result = await send()
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(exc)
                future.exception()  # retrieved: no "never retrieved" warning when nobody else waited
            raise
        else:
            future.set_result(result)
            return result
        finally:
            del self._pending[key]
