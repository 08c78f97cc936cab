"""Data in Redis carries a schema version (each event's meta `schema`). At start-up, older data is migrated
step by step; data from a newer LiveQA stops start-up with a clear message instead of being misread."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from liveqa.store import RedisStore, keys

logger = logging.getLogger(__name__)

Migration = Callable[[RedisStore, str], Awaitable[None]]


async def _questions_before_grouping_stay_apart(store: RedisStore, slug: str) -> None:
    """Schema 2 groups duplicates. The questions of an event from before are taken as decided, so that an upgrade
    in the middle of an event never merges what moderators have already been handling one by one."""
    seq = await store.client.get(keys.seq(slug))
    await store.client.set(keys.grouped(slug), seq or "0", nx=True)


# MIGRATIONS[n] turns an event of schema n into schema n + 1.
MIGRATIONS: dict[int, Migration] = {1: _questions_before_grouping_stay_apart}


class SchemaTooNew(Exception):
    """The data was written by a newer LiveQA."""


async def check(store: RedisStore) -> list[str]:
    """Migrate every event to the current schema; returns the events migrated. Raises SchemaTooNew."""
    migrated = []
    for slug in await store.event_slugs():
        version = int(await store.client.hget(keys.meta(slug), "schema") or keys.SCHEMA_VERSION)
        if version > keys.SCHEMA_VERSION:
            raise SchemaTooNew(
                f"event {slug!r} was stored by a newer LiveQA (data schema {version}; this one knows up to "
                f"{keys.SCHEMA_VERSION}): upgrade LiveQA, or restore a backup made by this version"
            )
        while version < keys.SCHEMA_VERSION:
            await MIGRATIONS[version](store, slug)
            version += 1
            await store.client.hset(keys.meta(slug), "schema", str(version))
            migrated.append(slug)
            logger.warning("migrated event data", extra={"event": slug})
    return migrated
