"""One socket's outgoing side: a frame is sent at once when nothing is queued; otherwise it waits in a bounded
buffer that a writer task drains, in order. The writer exists only while a send waits for the peer (or the socket
is being closed): an idle socket costs no task."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from liveqa import eager, metrics, tasks, wire
from liveqa.views import Audience

logger = logging.getLogger(__name__)

SLOW_CONSUMER = 4008
_IDLE: collections.deque[str] = collections.deque(maxlen=0)  # shared by idle sockets: an empty deque is 760 bytes


class Connection:
    """Frames are offered without waiting; a client whose unsent frames exceed the bound is closed with 4008
    ("slow consumer") and resumes from its last log id. Nobody else ever waits for it."""

    def __init__(
        self,
        send: Callable[[str], Coroutine[Any, Any, None]],
        close: Callable[[int, str], Awaitable[None]],
        audience: Audience,
        *,
        pid: str = "",
        name: str = "",
        sid: str = "",
        max_frames: int = 2000,
        max_bytes: int = 2 << 20,
        send_timeout: float = 10.0,
        direct: wire.Direct | None = None,
    ) -> None:
        self.id = secrets.token_hex(6)
        self.audience = audience
        self.pid = pid  # a participant's id: their own questions' frames go to this socket
        self.name = name  # a moderator's display name, for presence
        self.sid = sid  # a moderator's session id: re-checked while the socket lives
        self._send = send
        self._close = close
        self.direct = direct  # the fan-out's fast path, when the server allows it (see liveqa/wire.py)
        self._frames: collections.deque[str] = _IDLE  # a queue of its own only while a writer runs
        self._bytes = 0
        self._max_frames = max_frames
        self._max_bytes = max_bytes
        self._send_timeout = send_timeout
        # While it runs, the writer owns sending (a send waits for the peer, frames may queue behind it), or closes.
        self._writer: asyncio.Task[None] | None = None
        self._stuck = False  # a send is waiting for the peer to take data
        self._inflight: Awaitable[None] | None = None  # a send started at once that had to wait; the writer ends it
        self._dead = False  # the peer is gone: nothing more is sent, not even a close frame
        self.close_code = 0
        self.close_reason = ""
        # While resuming, live frames wait here (with their log ids) until the replay has been offered.
        self.held: list[tuple[str, str]] | None = None

    def offer(self, text: str, data: bytes | None = None) -> None:
        """Send one encoded frame, or queue it behind those waiting. Never blocks. `data` is the frame's bytes
        (`wire.frame(text)`), built once for a fan-out: written straight to the transport when it can be.

        A socket with nothing queued gets the frame at once, in the caller's turn (`eager.start`): no task switch
        and no timer per frame, which is most of a fan-out's cost. The bound applies while a send waits for the
        peer (its buffers are full): a burst offered in one go to a socket that keeps up is not held against it."""
        if self.close_code:
            return
        if self._writer is None:
            if data is None or self.direct is None or not self.direct.write(data):
                self._send_now(text)
            return
        if self._stuck and (len(self._frames) >= self._max_frames or self._bytes + len(text) > self._max_bytes):
            self.shut(SLOW_CONSUMER, "slow consumer")
            return
        self._frames.append(text)
        self._bytes += len(text)

    def _send_now(self, text: str) -> None:
        try:
            rest = eager.start(self._send(text))
        except Exception as exc:  # the peer is gone (disconnect, reset)
            self._gone(exc)
            return
        if rest is not None:  # the peer's buffer is full: a writer finishes this send; later frames queue
            self._stuck = True
            self._inflight = rest
            self._frames = collections.deque()
            self._start_writer()

    def _gone(self, exc: Exception) -> None:
        logger.debug("send failed: %r", exc)
        self.close_code = self.close_code or 1006
        self._dead = True
        self._frames.clear()
        self._bytes = 0

    @property
    def backlog(self) -> int:
        return len(self._frames)

    def shut(self, code: int, reason: str) -> None:
        """Close after the frames already queued (for 4008: at once, dropping them)."""
        if self.close_code:
            return
        self.close_code, self.close_reason = code, reason
        metrics.CLOSES.labels(str(code)).inc()
        if code == SLOW_CONSUMER:
            self._frames.clear()
            self._bytes = 0
        if not self._dead:
            self._start_writer()  # a writer sending already closes once it is done

    async def finish(self) -> None:
        """The socket's reading side has ended: a close in progress is waited for; a send still waiting for a peer
        that left is abandoned. Nothing is sent afterwards."""
        if (writer := self._writer) is not None:
            if not self.close_code:
                await tasks.stop(writer)
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer
        self._dead = True
        self.close_code = self.close_code or 1006

    def _start_writer(self) -> None:
        if self._writer is None:
            self._writer = asyncio.create_task(self._write(), name="writer")

    async def _write(self) -> None:
        """Finishes the send that had to wait and drains what queued behind it, in order, each send within the send
        timeout; then ends (closing the socket, if it was shut)."""
        try:
            if self._inflight is not None:
                rest, self._inflight = self._inflight, None
                await self._wait_for_peer(rest)
            while self._frames and not self._dead:
                text = self._frames.popleft()
                self._bytes -= len(text)
                waiting = eager.start(self._send(text))
                if waiting is not None:
                    self._stuck = True
                    await self._wait_for_peer(waiting)
        except TimeoutError:
            self.shut(SLOW_CONSUMER, "slow consumer")
        except Exception as exc:  # the peer is gone (disconnect, reset): nothing more to send
            self._gone(exc)
        if self._dead:
            return
        if self.close_code:
            logger.info("closing socket", extra={"close_code": self.close_code, "audience": self.audience})
            await self._close(self.close_code, self.close_reason)
            return
        self._frames = _IDLE
        self._writer = None

    async def _wait_for_peer(self, rest: Awaitable[None]) -> None:
        async with asyncio.timeout(self._send_timeout):
            await rest
        self._stuck = False
