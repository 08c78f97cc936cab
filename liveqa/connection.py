"""One socket's outgoing side: a bounded buffer of encoded frames, drained by the socket's only writer task."""

from __future__ import annotations

import asyncio
import collections
import logging
import secrets
from collections.abc import Awaitable, Callable

from liveqa import metrics
from liveqa.views import Audience

logger = logging.getLogger(__name__)

SLOW_CONSUMER = 4008


class Connection:
    """Frames are offered without waiting; a client whose unsent frames exceed the bound is closed with 4008
    ("slow consumer") and resumes from its last log id. Nobody else ever waits for it."""

    def __init__(
        self,
        send: Callable[[str], Awaitable[None]],
        close: Callable[[int, str], Awaitable[None]],
        audience: Audience,
        *,
        pid: str = "",
        name: str = "",
        sid: str = "",
        max_frames: int = 2000,
        max_bytes: int = 2 << 20,
        send_timeout: float = 10.0,
    ) -> None:
        self.id = secrets.token_hex(6)
        self.audience = audience
        self.pid = pid  # a participant's id: their own questions' frames go to this socket
        self.name = name  # a moderator's display name, for presence
        self.sid = sid  # a moderator's session id: re-checked while the socket lives
        self._send = send
        self._close = close
        self._frames: collections.deque[str] = collections.deque()
        self._bytes = 0
        self._max_frames = max_frames
        self._max_bytes = max_bytes
        self._send_timeout = send_timeout
        self._wake = asyncio.Event()
        self._stuck = False  # the writer is waiting for the peer to take data
        self.close_code = 0
        self.close_reason = ""
        # While resuming, live frames wait here (with their log ids) until the replay has been offered.
        self.held: list[tuple[str, str]] | None = None

    def offer(self, text: str) -> None:
        """Queue one encoded frame. Never blocks.

        The bound applies while the writer is stuck in a send (the peer's buffers are full): a burst offered
        in one go to a socket that keeps up drains as soon as the writer runs, and is not held against it."""
        if self.close_code:
            return
        if self._stuck and (len(self._frames) >= self._max_frames or self._bytes + len(text) > self._max_bytes):
            self.shut(SLOW_CONSUMER, "slow consumer")
            return
        self._frames.append(text)
        self._bytes += len(text)
        self._wake.set()

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
        self._wake.set()

    async def run(self) -> None:
        """The writer: the only coroutine that sends on this socket. Returns once the connection is closed."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._frames:
                text = self._frames.popleft()
                self._bytes -= len(text)
                try:
                    self._stuck = True
                    async with asyncio.timeout(self._send_timeout):
                        await self._send(text)
                    self._stuck = False
                except TimeoutError:
                    self.shut(SLOW_CONSUMER, "slow consumer")
                    break
                except Exception as exc:  # the peer is gone (disconnect, reset): nothing more to send
                    logger.debug("send failed: %r", exc)
                    self.close_code = self.close_code or 1006
                    self._frames.clear()
                    return
            if self.close_code:
                logger.info("closing socket", extra={"close_code": self.close_code, "audience": self.audience})
                await self._close(self.close_code, self.close_reason)
                return
