"""One socket's outgoing side, against a peer whose sends complete at once or wait as long as the test says."""

from __future__ import annotations

import asyncio

from liveqa.connection import SLOW_CONSUMER, Connection
from liveqa.views import Audience


class Peer:
    """Records what it is sent; while `full` is set, each send waits until the test frees it."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.closed: tuple[int, str] | None = None
        self.full = False
        self.room = asyncio.Event()

    async def send(self, text: str) -> None:
        if self.full:
            await self.room.wait()
        self.sent.append(text)

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


def _tasks() -> int:
    return len(asyncio.all_tasks())


async def _settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


async def test_an_idle_or_keeping_up_socket_costs_no_task() -> None:
    before = _tasks()
    peers = [Peer() for _ in range(100)]
    conns = [Connection(peer.send, peer.close, Audience.PUBLIC) for peer in peers]
    for conn in conns:
        conn.offer("one")
        conn.offer("two")
    assert all(peer.sent == ["one", "two"] for peer in peers)  # sent in the caller's turn
    assert _tasks() == before


async def test_frames_wait_behind_a_send_the_peer_holds_then_go_in_order_and_the_writer_ends() -> None:
    before = _tasks()
    peer = Peer()
    conn = Connection(peer.send, peer.close, Audience.PUBLIC)
    peer.full = True
    for text in ("a", "b", "c"):
        conn.offer(text)
    await _settle()
    assert peer.sent == [] and conn.backlog == 2 and _tasks() == before + 1
    peer.full = False
    peer.room.set()
    await _settle()
    assert peer.sent == ["a", "b", "c"] and conn.backlog == 0 and _tasks() == before
    conn.offer("d")  # nothing waits any more: at once again
    assert peer.sent[-1] == "d"


async def test_shutting_an_idle_socket_closes_it_after_what_was_sent() -> None:
    peer = Peer()
    conn = Connection(peer.send, peer.close, Audience.MODERATOR)
    conn.offer("last words")
    conn.shut(4001, "logged out")
    conn.offer("too late")
    await _settle()
    assert peer.sent == ["last words"] and peer.closed == (4001, "logged out")


async def test_a_peer_that_stops_reading_is_closed_as_a_slow_consumer() -> None:
    peer = Peer()
    conn = Connection(peer.send, peer.close, Audience.PUBLIC, max_frames=5)
    peer.full = True
    for i in range(7):
        conn.offer(f"frame {i}")
    await _settle()
    assert conn.close_code == SLOW_CONSUMER
    peer.full = False
    peer.room.set()  # the send in flight completes; what queued behind it was dropped
    await _settle()
    assert peer.sent == ["frame 0"] and peer.closed == (SLOW_CONSUMER, "slow consumer")


async def test_a_send_that_never_completes_times_out() -> None:
    peer = Peer()
    conn = Connection(peer.send, peer.close, Audience.PUBLIC, send_timeout=0.05)
    peer.full = True
    conn.offer("stuck")
    await asyncio.sleep(0.2)
    assert peer.closed == (SLOW_CONSUMER, "slow consumer")


async def test_finishing_abandons_a_send_to_a_peer_that_left() -> None:
    before = _tasks()
    peer = Peer()
    conn = Connection(peer.send, peer.close, Audience.PUBLIC)
    peer.full = True
    conn.offer("never taken")
    await _settle()
    await conn.finish()
    assert _tasks() == before and peer.closed is None
    conn.offer("after the end")
    assert peer.sent == []


async def test_a_socket_shut_as_its_reading_ends_is_still_closed_with_its_code() -> None:
    """The handler shuts the socket (too many invalid messages) and the reading loop ends in the same turn."""
    peer = Peer()
    conn = Connection(peer.send, peer.close, Audience.PUBLIC)
    conn.shut(1008, "too many invalid messages")
    await conn.finish()
    assert peer.closed == (1008, "too many invalid messages")
