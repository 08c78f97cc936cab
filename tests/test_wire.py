"""The fan-out's fast path (liveqa/wire.py) against the installed uvicorn and websockets: frames written
straight to the transport are the frames websockets would write, keep their order with frames sent the usual
way, and stop whenever the usual way would wait (a peer not reading) or refuse (a close)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace

import pytest
import uvicorn
import websockets
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket
from websockets.frames import Frame, Opcode
from websockets.protocol import State

from liveqa import wire
from liveqa.app import create_app
from liveqa.embedded import free_port
from liveqa.settings import Settings
from tests.conftest import serve
from tests.helpers import Client, EventFixture, moderator


@pytest.mark.parametrize("text", ["", "a", "x" * 125, "x" * 126, "é" * 32767, "x" * 65535, "x" * 65536, "ñ" * 40000])
def test_a_built_frame_is_the_frame_websockets_would_write(text: str) -> None:
    assert wire.frame(text) == Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


def test_a_transport_that_fails_under_a_write_hands_the_frame_to_the_supported_send() -> None:
    """The write runs inside a fan-out to every socket of an event: one failing transport must not raise there."""

    class Failing:
        def is_closing(self) -> bool:
            return False

        def write(self, data: bytes) -> None:
            raise RuntimeError("unable to perform operation on <TCPTransport closed=True>; the handler is closed")

    writable = asyncio.Event()
    writable.set()
    protocol = SimpleNamespace(
        close_sent=False,
        disconnected=False,
        writable=writable,
        conn=SimpleNamespace(state=State.OPEN),
        transport=Failing(),
    )
    assert wire.Direct(protocol).write(wire.frame("lost?")) is False


def test_no_fast_path_outside_a_connection_capture_saw() -> None:
    assert wire.direct() is None


async def _serve(app: Starlette) -> AsyncIterator[str]:
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, ws="websockets-sansio", ws_per_message_deflate=False, log_level="warning"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield f"ws://127.0.0.1:{port}/ws"
    finally:
        server.should_exit = True
        await task


async def test_direct_frames_keep_their_order_stop_while_the_peer_does_not_read_and_after_a_close() -> None:
    big = "y" * 100_000
    written: list[str] = []
    paused = asyncio.Event()
    drained = asyncio.Event()
    done = asyncio.Event()

    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        direct = wire.direct()
        assert direct is not None
        assert direct.write(wire.frame("one"))
        await websocket.send_text("two")  # the usual way, between two direct frames
        assert direct.write(wire.frame("three"))
        while len(written) < 1000 and direct.write(wire.frame(big)):  # the peer is not reading: the transport
            written.append(big)  # pauses (its buffer is full), and so do we
        paused.set()
        await drained.wait()
        await websocket.send_text("last")  # the usual way waits for the peer, then sends
        await websocket.close(1000)
        assert not direct.write(wire.frame("after the close"))
        done.set()

    app = Starlette(routes=[WebSocketRoute("/ws", endpoint)], middleware=[Middleware(wire.Capture)])
    async for url in _serve(app):
        async with websockets.connect(url, compression=None, max_size=None, max_queue=1) as client:
            await asyncio.wait_for(paused.wait(), 10)
            assert 1 <= len(written) < 100  # stopped after the transport's buffer filled
            received = [await client.recv() for _ in range(3 + len(written))]
            drained.set()
            assert received == ["one", "two", "three", *written]
            assert await client.recv() == "last"
            await asyncio.wait_for(done.wait(), 10)
            with pytest.raises(websockets.ConnectionClosedOK):
                await client.recv()


async def test_liveqa_sockets_take_the_fast_path(
    settings: Settings, event: EventFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app keeps uvicorn's send (wire.Capture), so every participant's connection can write directly, and a
    fan-out reaches them that way."""
    written: list[bytes] = []
    write = wire.Direct.write

    def counted(self: wire.Direct, data: bytes) -> bool:
        written.append(data)
        return write(self, data)

    monkeypatch.setattr(wire.Direct, "write", counted)
    app = create_app(settings)
    async for base in serve(settings, app):
        watchers = [await Client.open(base, event.slug) for _ in range(3)]
        mod = await moderator(base, event)
        qid = (await watchers[0].submit("Does the fast path deliver?"))["qid"]
        await mod.act("approve", qid=qid)
        for watcher in watchers:
            assert (await watcher.expect("update"))["question"]["id"] == qid
        approved = [data for data in written if b'"update"' in data and qid.encode() in data]
        assert len(approved) >= 3 + 1  # the three participants and the moderator's console
