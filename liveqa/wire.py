"""The fan-out's fast path: one frame's bytes, built once, written straight to each socket's transport.

A frame for thousands of participants is the same bytes on every socket (a server's frames are not masked, and
LiveQA's sockets have no compression), yet each send through starlette, uvicorn and websockets builds it again
behind four coroutine layers: most of a fan-out's CPU after the system call itself. `Direct` skips them, for the
one server it knows: uvicorn's `websockets-sansio` protocol, reached through the ASGI `send` that uvicorn gives
the app (`Capture` keeps it, before starlette wraps it, for the connection's task). It writes only while that
protocol would: the handshake done, no close sent or received, the transport taking data. Whenever it cannot
(another server, an extension negotiated, a paused or closing socket), the caller sends the text the supported
way, which also waits for the peer or raises for a socket that is gone.

This is the one place that reads uvicorn's internals (`WebSocketsSansIOProtocol`'s `conn`, `transport`,
`writable`, `close_sent`, `disconnected`); tests/test_wire.py checks them against the installed uvicorn.
"""

from __future__ import annotations

import struct
from contextvars import ContextVar
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send
from websockets.protocol import State

try:  # uvicorn's sans-I/O protocol (uvicorn ≥ 0.35); without it every send takes the supported path
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
except ImportError:  # pragma: no cover
    WebSocketsSansIOProtocol = None  # type: ignore[assignment,misc]

# Not a key in the scope: one more key there can make the scope dict, which lives as long as the socket, grow.
_SEND: ContextVar[Send | None] = ContextVar("liveqa_asgi_send", default=None)


def frame(text: str) -> bytes:
    """A final, unmasked text frame (RFC 6455 §5.2) carrying `text`, as a server writes it."""
    payload = text.encode()
    length = len(payload)
    if length < 126:
        return struct.pack("!BB", 0x81, length) + payload
    if length < 1 << 16:
        return struct.pack("!BBH", 0x81, 126, length) + payload
    return struct.pack("!BBQ", 0x81, 127, length) + payload


class Direct:
    """Writes built frames to one socket's transport while its protocol is open and its transport takes data."""

    __slots__ = ("_protocol",)

    def __init__(self, protocol: Any) -> None:
        self._protocol = protocol

    def write(self, data: bytes) -> bool:
        """Write `data` (from `frame`) and say so; False when the caller must send the supported way."""
        protocol = self._protocol
        if (
            protocol.close_sent
            or protocol.disconnected
            or not protocol.writable.is_set()
            or protocol.conn.state is not State.OPEN
        ):
            return False
        transport = protocol.transport
        if transport.is_closing():
            return False
        try:
            transport.write(data)
        except Exception:  # a transport failing under us: the supported send finds out how, and the socket is closed
            return False  # like any other gone peer (this write runs inside a fan-out to every socket of the event)
        return True


def direct() -> Direct | None:
    """The fast path for the socket this task serves (once accepted), or None when its server is not one `Direct`
    knows."""
    protocol = getattr(_SEND.get(), "__self__", None)
    if WebSocketsSansIOProtocol is None or not isinstance(protocol, WebSocketsSansIOProtocol):
        return None
    if not protocol.handshake_complete or protocol.conn.extensions:
        return None
    return Direct(protocol)


class Capture:
    """Pure ASGI middleware, outermost: keeps a WebSocket's `send` as the server gave it, for `direct` (in the
    connection's own task: starlette runs the endpoint in it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        token = _SEND.set(send)
        try:
            await self.app(scope, receive, send)
        finally:
            _SEND.reset(token)
