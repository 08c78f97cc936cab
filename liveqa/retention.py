"""Retention: after an event has ended and its retention period has passed, its personal data is erased from
Redis; only aggregate figures (what a public report needs) remain, with the event's title and settings."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time

from redis.exceptions import RedisError

from liveqa.domain.errors import Rejected
from liveqa.report import figures
from liveqa.store import RedisStore, keys

logger = logging.getLogger(__name__)

DAY_MS = 86_400_000


async def erase(store: RedisStore, slug: str) -> int:
    """Erase an event's personal data now; returns how many keys were removed. Safe to run twice."""
    state = await store.load_state(slug)
    report = keys.report(slug)
    if not await store.client.exists(report):
        await store.client.hset(report, mapping={"figures": json.dumps(figures(state)), "made": str(_now())})
    kept = {keys.meta(slug), report}
    removed = 0
    async for key in store.client.scan_iter(match=keys.event_keys_pattern(slug), count=500):
        if key not in kept:
            removed += await store.client.unlink(key)
    await store.client.hdel(keys.meta(slug), "moderators", "screen")
    await store.client.hset(keys.meta(slug), mapping={"erased": str(_now()), "open": "0"})
    logger.info("personal data erased", extra={"event": slug, "keys": removed})
    return removed


async def erase_due(store: RedisStore, now_ms: int | None = None) -> list[str]:
    """Erase every ended event whose retention period has passed; returns their slugs."""
    now_ms = now_ms or _now()
    erased = []
    for slug in await store.event_slugs():
        meta = await store.client.hgetall(keys.meta(slug))
        ended, days = int(meta.get("ended", "0")), int(meta.get("retention_days", "30"))
        if ended and not meta.get("erased") and now_ms >= ended + days * DAY_MS:
            await erase(store, slug)
            erased.append(slug)
    return erased


async def run_periodically(store: RedisStore, every_s: float = 3600.0) -> None:
    """The server's janitor: every process runs it; erasing twice is harmless."""
    while True:
        with contextlib.suppress(Rejected, OSError, RedisError):
            await erase_due(store)
        await asyncio.sleep(every_s)


def _now() -> int:
    return int(time.time() * 1000)
