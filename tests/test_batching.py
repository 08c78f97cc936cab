"""The group-commit batcher: requests of one loop turn go together; while a call is in flight the next ones wait."""

from __future__ import annotations

import asyncio

import pytest

from liveqa.batching import Batcher


class Recorder:
    """A `run` that records each call's items; calls for key "e" can be held open until released."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[int]]] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def run(self, key: str, items: list[int]) -> list[int | Exception]:
        self.calls.append((key, items))
        if key == "e":
            await self.gate.wait()
        return [ValueError(f"odd {i}") if i % 2 else i * 10 for i in items]


async def test_one_turns_requests_go_in_one_call_each_with_its_own_result() -> None:
    recorder = Recorder()
    batcher: Batcher[str, int, int] = Batcher(recorder.run)
    results = await asyncio.gather(*(batcher.submit("e", i) for i in range(6)), return_exceptions=True)
    assert recorder.calls == [("e", [0, 1, 2, 3, 4, 5])]
    assert results[0::2] == [0, 20, 40]
    assert [str(r) for r in results[1::2]] == ["odd 1", "odd 3", "odd 5"]


async def test_requests_arriving_during_a_call_wait_and_go_together_next() -> None:
    recorder = Recorder()
    recorder.gate.clear()
    batcher: Batcher[str, int, int] = Batcher(recorder.run)
    first = asyncio.ensure_future(batcher.submit("e", 0))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    later = [asyncio.ensure_future(batcher.submit("e", i)) for i in (2, 4, 6)]
    other = asyncio.ensure_future(batcher.submit("f", 8))  # another key is not held up by this one
    assert await other == 80
    assert recorder.calls == [("e", [0]), ("f", [8])]
    recorder.gate.set()
    assert await first == 0
    assert await asyncio.gather(*later) == [20, 40, 60]
    assert recorder.calls == [("e", [0]), ("f", [8]), ("e", [2, 4, 6])]


async def test_a_batch_is_at_most_max_items() -> None:
    recorder = Recorder()
    batcher: Batcher[str, int, int] = Batcher(recorder.run, max_items=4)
    assert await asyncio.gather(*(batcher.submit("e", 2 * i) for i in range(10))) == [20 * i for i in range(10)]
    assert [len(items) for _, items in recorder.calls] == [4, 4, 2]


async def test_a_failed_call_fails_each_of_its_requests_and_the_next_call_goes_ahead() -> None:
    calls = 0

    async def run(key: str, items: list[int]) -> list[int | Exception]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("down")
        return list(items)

    batcher: Batcher[str, int, int] = Batcher(run)
    failed = await asyncio.gather(batcher.submit("e", 1), batcher.submit("e", 2), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in failed)
    assert await batcher.submit("e", 3) == 3


async def test_a_caller_that_goes_away_leaves_the_others_their_results() -> None:
    recorder = Recorder()
    recorder.gate.clear()
    batcher: Batcher[str, int, int] = Batcher(recorder.run)
    gone = asyncio.ensure_future(batcher.submit("e", 2))
    kept = asyncio.ensure_future(batcher.submit("e", 4))
    await asyncio.sleep(0)
    gone.cancel()
    recorder.gate.set()
    assert await kept == 40
    with pytest.raises(asyncio.CancelledError):
        await gone


async def test_cancelling_the_drain_cancels_every_waiting_request() -> None:
    """At shutdown nobody is left waiting for an answer that will not come."""
    recorder = Recorder()
    recorder.gate.clear()
    batcher: Batcher[str, int, int] = Batcher(recorder.run)
    waiting = [asyncio.ensure_future(batcher.submit("e", i)) for i in (2, 4)]
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    waiting.append(asyncio.ensure_future(batcher.submit("e", 6)))  # queued behind the call in flight
    await asyncio.sleep(0)
    for task in asyncio.all_tasks():
        if task.get_name().startswith("batch"):
            task.cancel()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(r, asyncio.CancelledError) for r in results)
    recorder.gate.set()
    assert await batcher.submit("e", 8) == 80  # and the batcher still works
