"""Webhooks: signed, at least once, retried while the receiver is down, and never in the live event's way."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from liveqa import operations, webhooks
from liveqa.embedded import free_port
from liveqa.settings import Settings
from liveqa.store import RedisStore
from tests.conftest import serve
from tests.helpers import Client, EventFixture, login


class Receiver:
    """A small webhook receiver on loopback that records what it gets (optionally slowly)."""

    def __init__(self, port: int, delay: float = 0.0) -> None:
        self.port, self.delay = port, delay
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.server: uvicorn.Server | None = None
        self.task: asyncio.Task[None] | None = None

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        await asyncio.sleep(self.delay)
        self.received.append((dict(request.headers), body))
        return Response(status_code=204)

    async def start(self) -> None:
        app = Starlette(routes=[Route("/hook", self.hook, methods=["POST"])])
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self.server is not None and self.task is not None:
            self.server.should_exit = True
            await self.task

    async def wait_for(self, count: int, timeout: float = 10) -> None:
        async with asyncio.timeout(timeout):
            while len(self.received) < count:
                await asyncio.sleep(0.05)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


@pytest.fixture
async def quick_server(settings: Settings) -> AsyncIterator[str]:
    async for url in serve(msgspec.structs.replace(settings, webhook_backoff=0.1, webhook_retries=20)):
        yield url


async def _moderator(server: str, event: EventFixture) -> Client:
    return await Client.open(server, event.slug, "moderator", sid=await login(server, event.slug, event.password))


async def test_signed_deliveries_for_each_kind(quick_server: str, event: EventFixture, store: RedisStore) -> None:
    receiver = Receiver(free_port())
    await receiver.start()
    try:
        hook = await webhooks.add(store, event.slug, receiver.url, list(webhooks.TYPES.values()))
        asker = await Client.open(quick_server, event.slug)
        mod = await _moderator(quick_server, event)
        qid = (await asker.submit("Hooked question?"))["qid"]
        await mod.act("approve", qid=qid)
        await mod.act("edit", qid=qid, text="Hooked question, edited")  # not a webhook kind
        await mod.act("show", qid=qid)
        await mod.act("answer", qid=qid)
        await operations.end_event(store, event.slug)
        await receiver.wait_for(4)
        await asyncio.sleep(0.3)
        kinds = [headers["x-liveqa-event"] for headers, _ in receiver.received]
        assert kinds == ["question.approved", "question.on_screen", "question.answered", "event.ended"]
        for headers, body in receiver.received:
            assert webhooks.verify(hook.secret, body, headers["x-liveqa-signature"])
            assert not webhooks.verify("another secret", body, headers["x-liveqa-signature"])
        approved = json.loads(receiver.received[0][1])
        assert approved["question"]["text"] == "Hooked question?" and approved["event"] == event.slug
        assert "pid" not in approved["question"] and "name" not in approved["question"]
        assert json.loads(receiver.received[1][1])["question"]["id"] == qid
    finally:
        await receiver.stop()


async def test_a_receiver_that_was_down_still_gets_everything(
    quick_server: str, event: EventFixture, store: RedisStore
) -> None:
    port = free_port()
    await webhooks.add(store, event.slug, f"http://127.0.0.1:{port}/hook", ["question.approved"])
    asker = await Client.open(quick_server, event.slug)
    mod = await _moderator(quick_server, event)
    qids = [(await asker.submit(f"While down {i}"))["qid"] for i in range(3)]
    for qid in qids:
        await mod.act("approve", qid=qid)
    await asyncio.sleep(1.0)
    receiver = Receiver(port)
    await receiver.start()
    try:
        await receiver.wait_for(3, timeout=20)
        got = [json.loads(body)["question"]["id"] for _, body in receiver.received]
        assert sorted(set(got)) == sorted(qids)
        log = await webhooks.deliveries(store, event.slug)
        assert {d["status"] for d in log} >= {"retrying", "delivered"}
    finally:
        await receiver.stop()


async def test_a_slow_receiver_does_not_slow_the_event(
    quick_server: str, event: EventFixture, store: RedisStore
) -> None:
    receiver = Receiver(free_port(), delay=3.0)
    await receiver.start()
    try:
        await webhooks.add(store, event.slug, receiver.url, ["question.approved"])
        asker = await Client.open(quick_server, event.slug)
        mod = await _moderator(quick_server, event)
        for i in range(3):
            qid = (await asker.submit(f"Quick {i}"))["qid"]
            started = time.monotonic()
            assert (await mod.act("approve", qid=qid))["type"] == "done"
            await asker.expect("update", question__id=qid)
            assert time.monotonic() - started < 0.5
    finally:
        await receiver.stop()


async def test_webhooks_through_the_api(quick_server: str, event: EventFixture, store: RedisStore) -> None:
    token = await store.create_operator_token("hooks")
    async with httpx.AsyncClient(base_url=quick_server, headers={"authorization": f"Bearer {token}"}) as api:
        url = f"/api/v1/events/{event.slug}/webhooks"
        created = await api.post(url, json={"url": "https://example.org/hook", "events": ["question.answered"]})
        assert created.status_code == 201 and created.json()["secret"]
        listed: Any = (await api.get(url)).json()["webhooks"]
        assert listed == [
            {
                "id": created.json()["id"],
                "url": "https://example.org/hook",
                "events": ["question.answered"],
                "secret": "",
            }
        ] or all("secret" not in h or not h["secret"] for h in listed)
        assert (await api.post(url, json={"url": "ftp://x", "events": ["question.answered"]})).status_code == 422
        assert (await api.get(f"{url}/deliveries")).json() == {"deliveries": []}
        assert (await api.delete(f"{url}/{created.json()['id']}")).status_code == 204
        assert (await api.get(url)).json() == {"webhooks": []}
