"""`run(coroutine)`: asyncio.run for the commands, without a cost Python 3.11 adds to large results.

On its way out, 3.11's asyncio.run asks `signal.getsignal(SIGINT)`, which tries its handler as a signal enum
value and formats the refusal with the handler's repr: a partial holding the main task, whose repr holds the
task's result. For `diff` of a 200-table schema that repr is some 30 ms of dataclass reprs, thrown away. The
result is passed out beside the task instead, so the task's own is None."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    box: list[T] = []

    async def main() -> None:
        box.append(await coroutine)

    asyncio.run(main())
    return box[0]
