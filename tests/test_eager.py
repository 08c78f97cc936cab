"""eager.start: a coroutine runs at once in the caller's turn; one that has to wait is finished by whoever awaits
the rest, exactly where it stopped (the fan-out sends every frame this way; see liveqa/connection.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

import pytest

from liveqa import eager


async def test_a_coroutine_that_never_waits_is_done_at_once() -> None:
    done: list[str] = []
    room = asyncio.get_running_loop().create_future()
    room.set_result(None)  # as uvicorn's `await writable.wait()` when the buffer has room: no suspension

    async def send(text: str) -> None:
        await room
        done.append(text)

    assert eager.start(send("a")) is None
    assert done == ["a"]


async def test_its_error_is_raised_to_the_caller() -> None:
    async def send() -> None:
        raise ConnectionResetError("peer gone")

    with pytest.raises(ConnectionResetError):
        eager.start(send())


async def test_one_that_waits_is_finished_where_it_stopped() -> None:
    ready = asyncio.get_running_loop().create_future()
    steps: list[str] = []

    async def send() -> None:
        steps.append("before")
        steps.append(await ready)
        await asyncio.sleep(0)  # a second suspension, on the task's own terms
        steps.append("after")

    rest = eager.start(send())
    assert rest is not None and steps == ["before"]
    finisher = asyncio.create_task(_await(rest))
    await asyncio.sleep(0.01)
    assert steps == ["before"] and not finisher.done()
    ready.set_result("resumed")
    await finisher
    assert steps == ["before", "resumed", "after"]


async def test_a_wait_that_times_out_cancels_the_coroutine() -> None:
    never = asyncio.get_running_loop().create_future()
    cleaned: list[str] = []

    async def send() -> None:
        try:
            await never
        finally:
            cleaned.append("finally")

    rest = eager.start(send())
    assert rest is not None
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await rest
    assert cleaned == ["finally"]


async def _await(rest: Awaitable[None]) -> None:
    await rest
