"""Outgoing webhooks: question approved, on screen, answered; event closed or ended.

Each event's log is read through a Redis consumer group, so every entry goes to one server process and is
acknowledged only after its deliveries are done: delivery is at least once, even if a process dies (its pending
entries are claimed by another after a minute). Requests are signed (`X-LiveQA-Signature: t=<unix>,v1=<hex>`,
an HMAC-SHA256 of "<t>.<body>" with the webhook's secret), retried with backoff, and logged. A receiver that is
down or slow only delays other webhooks, never the live event: delivery runs apart from the sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import secrets
import socket
import time
from typing import Any

import httpx
import msgspec
from redis.exceptions import RedisError, ResponseError

from liveqa import views
from liveqa.domain.errors import Rejected
from liveqa.domain.model import Question
from liveqa.store import RedisStore, keys
from liveqa.store.redis import parse_entry

logger = logging.getLogger(__name__)

GROUP = "webhooks"
TYPES = {
    "approve": "question.approved",
    "show": "question.on_screen",
    "answer": "question.answered",
    "close": "event.closed",
    "end": "event.ended",
}
CLAIM_IDLE_MS = 60_000


class Webhook(msgspec.Struct, kw_only=True):
    id: str
    url: str
    secret: str
    events: list[str]


def sign(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, body: bytes, header: str, *, tolerance_s: int = 300) -> bool:
    """For receivers (and tests): is this signature ours, and recent?"""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    return abs(time.time() - timestamp) <= tolerance_s and hmac.compare_digest(expected, parts.get("v1", ""))


async def add(store: RedisStore, slug: str, url: str, events: list[str]) -> Webhook:
    """Register a webhook; deliveries start with the next change. The secret is shown to the caller."""
    unknown = set(events) - set(TYPES.values())
    if unknown or not events:
        raise ValueError(f"events are some of {', '.join(sorted(TYPES.values()))}")
    if not url.startswith(("http://", "https://")):
        raise ValueError("a webhook URL starts with http:// or https://")
    hook = Webhook(id=secrets.token_hex(6), url=url, secret=secrets.token_urlsafe(24), events=sorted(set(events)))
    with contextlib.suppress(ResponseError):  # BUSYGROUP: the group exists already
        await store.client.xgroup_create(keys.log(slug), GROUP, id="$", mkstream=True)
    await store.client.hset(keys.webhooks(slug), hook.id, msgspec.json.encode(hook).decode())
    await store.client.sadd(keys.webhooked(), slug)
    await store.audit(slug, "operator", "add_webhook", url=url)
    return hook


async def hooks(store: RedisStore, slug: str) -> list[Webhook]:
    raw: Any = await store.client.hgetall(keys.webhooks(slug))
    return [msgspec.json.decode(value, type=Webhook) for value in raw.values()]


async def remove(store: RedisStore, slug: str, hook_id: str) -> bool:
    removed = bool(await store.client.hdel(keys.webhooks(slug), hook_id))
    if removed:
        await store.audit(slug, "operator", "remove_webhook", webhook=hook_id)
    return removed


async def deliveries(store: RedisStore, slug: str, count: int = 200) -> list[dict[str, str]]:
    raw: Any = await store.client.xrevrange(keys.deliveries(slug), count=count)
    return [{"id": entry_id, **fields} for entry_id, fields in raw]


class Dispatcher:
    """One per server process: reads every webhooked event's log through the consumer group and delivers."""

    def __init__(self, store: RedisStore, *, retries: int = 6, backoff_s: float = 1.0, timeout_s: float = 5.0) -> None:
        self.store = store
        self.retries = retries
        self.backoff_s = backoff_s
        self.consumer = f"{socket.gethostname()}-{secrets.token_hex(4)}"
        self._http = httpx.AsyncClient(timeout=timeout_s, follow_redirects=False)

    async def run(self) -> None:
        try:
            while True:
                busy = False
                try:
                    for slug in sorted(await self.store.client.smembers(keys.webhooked())):
                        busy |= await self._step(str(slug))
                except (RedisError, OSError, Rejected) as exc:
                    logger.warning("webhook dispatch paused: %r", exc)
                if not busy:
                    await asyncio.sleep(0.5)
        finally:
            await self._http.aclose()

    async def _step(self, slug: str) -> bool:
        """Deliver what is new (or abandoned by a dead process) in one event's log; True if there was any."""
        client = self.store.client
        log = keys.log(slug)
        try:
            claimed: Any = await client.xautoclaim(log, GROUP, self.consumer, CLAIM_IDLE_MS, "0-0", count=20)
            fresh: Any = await client.xreadgroup(GROUP, self.consumer, {log: ">"}, count=20)
        except ResponseError as exc:  # NOGROUP: the log was removed (event deleted or erased)
            if "NOGROUP" in str(exc):
                if not await client.exists(keys.webhooks(slug)):
                    await client.srem(keys.webhooked(), slug)
                else:
                    with contextlib.suppress(ResponseError):
                        await client.xgroup_create(log, GROUP, id="$", mkstream=True)
                return False
            raise
        entries = list(claimed[1]) + (list(fresh[0][1]) if fresh else [])
        if not entries:
            return False
        registered = await hooks(self.store, slug)
        for entry_id, fields in entries:
            if fields:
                await self._handle(slug, registered, entry_id, fields)
            await client.xack(log, GROUP, entry_id)
        return True

    async def _handle(self, slug: str, registered: list[Webhook], entry_id: str, fields: dict[str, str]) -> None:
        entry = parse_entry(entry_id, fields)
        kind = TYPES.get(entry.action)
        targets = [hook for hook in registered if kind in hook.events]
        if kind is None or not targets:
            return
        body = await self._body(slug, kind, entry_id, entry.question, entry.screen)
        await asyncio.gather(*(self._deliver(slug, hook, kind, entry_id, body) for hook in targets))

    async def _body(self, slug: str, kind: str, entry_id: str, question: Question | None, screen: str | None) -> bytes:
        payload: dict[str, Any] = {"id": entry_id, "type": kind, "event": slug, "at": int(entry_id.split("-")[0])}
        if question is None and screen:
            stored: Any = await self.store.client.hgetall(keys.question(slug, screen))
            question = Question.from_flat(stored) if stored else None
        if question is not None:
            payload["question"] = msgspec.to_builtins(views.public_question(question))
            payload["question"]["source"] = question.source
        return json.dumps(payload, ensure_ascii=False).encode()

    async def _deliver(self, slug: str, hook: Webhook, kind: str, entry_id: str, body: bytes) -> None:
        error = ""
        for attempt in range(1, self.retries + 1):
            timestamp = int(time.time())
            headers = {
                "content-type": "application/json",
                "user-agent": "LiveQA-Webhook",
                "x-liveqa-event": kind,
                "x-liveqa-delivery": f"{entry_id}/{hook.id}",  # the same on every retry: receivers dedupe on it
                "x-liveqa-signature": sign(hook.secret, body, timestamp),
            }
            try:
                response = await self._http.post(hook.url, content=body, headers=headers)
                if 200 <= response.status_code < 300:
                    await self._log(slug, hook, kind, entry_id, "delivered", attempt, "")
                    return
                error = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                error = type(exc).__name__
            await self._log(slug, hook, kind, entry_id, "retrying", attempt, error)
            await asyncio.sleep(min(self.backoff_s * 2 ** (attempt - 1), 60))
        await self._log(slug, hook, kind, entry_id, "gave_up", self.retries, error)
        logger.warning("webhook gave up", extra={"event": slug, "error": error})

    async def _log(
        self, slug: str, hook: Webhook, kind: str, entry_id: str, status: str, attempt: int, error: str
    ) -> None:
        fields = {"webhook": hook.id, "type": kind, "entry": entry_id, "status": status, "attempt": str(attempt)}
        if error:
            fields["error"] = error
        with contextlib.suppress(RedisError):
            await self.store.client.xadd(keys.deliveries(slug), fields, maxlen=1000, approximate=True)  # type: ignore[arg-type]
