"""Backup and restore of events as JSON lines: every key of an event with its type, content and expiry.

A logical copy, not Redis's DUMP format, so it moves between Redis versions (7.x to the 6.2 of the embedded
server, for instance) and stays readable. Stream entries keep their ids, so clients' log ids stay valid.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from typing import Any

from liveqa import migrations
from liveqa.store import RedisStore, keys

FORMAT = "liveqa-backup"
FORMAT_VERSION = 1


class BackupError(Exception):
    """The file is not a LiveQA backup, or restoring it would overwrite data."""


async def dump(store: RedisStore, slugs: Iterable[str]) -> AsyncIterator[str]:
    """The lines of a backup of these events: a header, then one line per key."""
    slugs = list(slugs)
    yield json.dumps({"format": FORMAT, "version": FORMAT_VERSION, "schema": keys.SCHEMA_VERSION, "events": slugs})
    client = store.client
    for slug in slugs:
        async for key in client.scan_iter(match=keys.event_keys_pattern(slug), count=500):
            kind = await client.type(key)
            value: Any
            if kind == "hash":
                value = await client.hgetall(key)
            elif kind == "set":
                value = sorted(await client.smembers(key))
            elif kind == "list":
                value = await client.lrange(key, 0, -1)
            elif kind == "zset":
                value = await client.zrange(key, 0, -1, withscores=True)
            elif kind == "string":
                value = await client.get(key)
            elif kind == "stream":
                entries: Any = await client.xrange(key)
                value = [[entry_id, fields] for entry_id, fields in entries]
            else:
                continue
            ttl = await client.pttl(key)
            yield json.dumps({"key": key, "type": kind, "ttl_ms": ttl if ttl > 0 else 0, "value": value})


async def restore(store: RedisStore, lines: Iterable[str], *, replace: bool = False) -> list[str]:
    """Write a backup back; returns the events restored. Refuses to overwrite an existing event unless told to."""
    iterator = iter(lines)
    try:
        header = json.loads(next(iterator))
    except (StopIteration, json.JSONDecodeError):
        raise BackupError("not a LiveQA backup (no header line)") from None
    if header.get("format") != FORMAT or header.get("version") != FORMAT_VERSION:
        raise BackupError("not a LiveQA backup of a known version")
    if int(header.get("schema", 0)) > keys.SCHEMA_VERSION:
        raise BackupError("the backup comes from a newer LiveQA: upgrade before restoring it")
    slugs: list[str] = list(header["events"])
    client = store.client
    for slug in slugs:
        if await client.exists(keys.meta(slug)):
            if not replace:
                raise BackupError(f"event {slug!r} exists here; delete it first or restore with replace")
            await store.delete_event(slug)
    prefixes = tuple(keys.event_keys_pattern(slug)[:-1] for slug in slugs)
    for line in iterator:
        if not line.strip():
            continue
        item = json.loads(line)
        key, kind, value = item["key"], item["type"], item["value"]
        if not key.startswith(prefixes):
            raise BackupError(f"a key outside the backup's events: {key!r}")
        async with client.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            if kind == "hash" and value:
                pipe.hset(key, mapping=value)
            elif kind == "set" and value:
                pipe.sadd(key, *value)
            elif kind == "list" and value:
                pipe.rpush(key, *value)
            elif kind == "zset" and value:
                pipe.zadd(key, {member: score for member, score in value})
            elif kind == "string":
                pipe.set(key, value)
            elif kind == "stream":
                for entry_id, fields in value:
                    pipe.xadd(key, fields, id=entry_id)
            if item.get("ttl_ms"):
                pipe.pexpire(key, int(item["ttl_ms"]))
            await pipe.execute()
    for slug in slugs:
        await client.sadd(keys.events(), slug)
        await client.delete(keys.deleted(slug))
    await migrations.check(store)  # a backup from an older LiveQA is brought up to this one's schema
    return slugs
