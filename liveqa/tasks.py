"""Stopping background tasks reliably.

On Python 3.11, `asyncio.wait_for` (which redis-py wraps around each command) can swallow a cancellation that
arrives just as the command completes (a CPython bug fixed in 3.12): a single `task.cancel()` is then lost and
the task runs on, so a shutdown that awaits it hangs. `stop` cancels until the task is really done."""

from __future__ import annotations

import asyncio
import contextlib
import logging

logger = logging.getLogger(__name__)


async def stop(task: asyncio.Task[object] | asyncio.Task[None] | None, *, patience_s: float = 10.0) -> None:
    """Cancel `task` (again and again, if a cancellation is lost) and wait until it has finished."""
    if task is None:
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience_s
    while not task.done():
        task.cancel()
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(task), timeout=0.1)
        if loop.time() > deadline:
            logger.error("a background task would not stop: %s", task.get_name())
            return
    if not task.cancelled() and (error := task.exception()) is not None:
        logger.warning("a background task had failed: %r", error)
