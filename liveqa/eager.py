"""Run a coroutine at once, in the caller's turn, and hand it to a task only if it has to wait.

Sending one frame on a socket whose buffer has room never waits (uvicorn writes to the transport and returns),
so handing each frame to the socket's writer task costs a task switch and a timer per frame and per socket:
most of the CPU of a fan-out to thousands of sockets. `start` drives the coroutine up to its first suspension,
which is what asyncio's eager tasks do (Python 3.12+, `asyncio.eager_task_factory`) without creating a task.
If it did suspend, the returned awaitable finishes it exactly where it stopped: it passes the future the
coroutine is waiting for on to whatever task awaits it, as `await` itself would.
"""

from __future__ import annotations

from collections.abc import Awaitable, Coroutine, Generator
from typing import Any


def start(coro: Coroutine[Any, Any, None]) -> Awaitable[None] | None:
    """Run `coro` until it first waits. None if it finished (its exception, if any, is raised here); else an
    awaitable that completes it (awaiting it is the only way to finish it)."""
    try:
        waiting_on = coro.send(None)
    except StopIteration:
        return None
    return _Rest(coro, waiting_on)


class _Rest:
    """The rest of a started coroutine: `await` it once."""

    __slots__ = ("_coro", "_waiting_on")

    def __init__(self, coro: Coroutine[Any, Any, None], waiting_on: Any) -> None:
        self._coro = coro
        self._waiting_on = waiting_on

    def __await__(self) -> Generator[Any, Any, None]:
        coro, waiting_on = self._coro, self._waiting_on
        while True:
            try:
                sent = yield waiting_on  # the awaiting task waits for this future, then resumes us
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # cancellation and the rest go on into the coroutine
                try:
                    waiting_on = coro.throw(exc)
                except StopIteration:
                    return
            else:
                try:
                    waiting_on = coro.send(sent)
                except StopIteration:
                    return
