"""Group commit: many small requests of one kind go to Redis as one call.

Requests made in the same turn of the event loop go together; while a call for a key is in flight, the requests
that arrive wait and go together in the next call. So a quiet server makes one call per request (after one loop
turn), and a busy one makes fewer, larger calls: the batches grow with the load instead of the round trips."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")
R = TypeVar("R")

Run = Callable[[K, list[T]], Awaitable[list[R | Exception]]]


class Batcher(Generic[K, T, R]):
    """`submit(key, item)` resolves with `item`'s own result from `run(key, items)`, which returns one result or
    exception per item, in order; an exception raised by `run` itself is every item's. At most one call per key is
    in flight, with at most `max_items` items."""

    def __init__(self, run: Run[K, T, R], *, max_items: int = 256) -> None:
        self._run = run
        self._max_items = max_items
        self._waiting: dict[K, list[tuple[T, asyncio.Future[R]]]] = {}
        self._draining: dict[K, asyncio.Task[None]] = {}

    async def submit(self, key: K, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append((item, future))
        if key not in self._draining:
            self._draining[key] = asyncio.create_task(self._drain(key), name=f"batch {key!r}")
        return await future

    async def _drain(self, key: K) -> None:
        batch: list[tuple[T, asyncio.Future[R]]] = []
        try:
            while waiting := self._waiting.get(key):
                batch, self._waiting[key] = waiting[: self._max_items], waiting[self._max_items :]
                try:
                    results = await self._run(key, [item for item, _ in batch])
                except Exception as exc:  # the call failed for every item: each caller hears why
                    results = [exc] * len(batch)
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():  # the caller went away (its socket closed)
                        continue
                    if isinstance(result, Exception):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
                batch = []
        finally:
            # Cancelled (shutdown): nobody is left waiting for an answer that will not come.
            for _, future in [*batch, *self._waiting.pop(key, [])]:
                future.cancel()
            del self._draining[key]
