"""Faults on purpose: Redis loses its data, an event is deleted under its clients."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from liveqa import operations
from liveqa.settings import Settings
from liveqa.store import RedisStore
from liveqa.store.redis import connect
from tests.conftest import MODERATOR_PASSWORD, serve
from tests.helpers import Client, login
from tests.redis_server import RedisProcess


@pytest.fixture
async def server_and_redis(settings: Settings, tmp_path: Path) -> AsyncIterator[tuple[str, RedisProcess]]:
    """A server on a Redis of the test's own (persistent), with an event "frozen"."""
    redis = RedisProcess(tmp_path / "own", persistent=True).start()
    client = connect(redis.url)
    try:
        await operations.create_event(RedisStore(client), "frozen", "Frozen", password=MODERATOR_PASSWORD)
        async for server in serve(msgspec.structs.replace(settings, redis_url=redis.url)):
            yield server, redis
    finally:
        await client.aclose()
        redis.stop()


async def test_redis_restarted_without_data_resyncs_every_client(settings: Settings, tmp_path: Path) -> None:
    """Redis comes back empty: the event is restored (empty, new epoch) and every client gets a fresh snapshot
    within 5 s; nobody keeps the old epoch's state."""
    redis = RedisProcess(tmp_path / "volatile", persistent=False).start()
    client = connect(redis.url)
    try:
        store = RedisStore(client)
        token = await operations.create_event(store, "volatile", "Volatile", password=MODERATOR_PASSWORD)
        async for server in serve(msgspec.structs.replace(settings, redis_url=redis.url)):
            mod = await Client.open(
                server, "volatile", "moderator", sid=await login(server, "volatile", MODERATOR_PASSWORD)
            )
            asker = await Client.open(server, "volatile")
            screen = await Client.open(server, "volatile", "screen", token=token)
            for who in (mod, asker, screen):
                await who.expect("snapshot")
            qid = (await asker.submit("Lost with the data"))["qid"]
            await mod.act("approve", qid=qid)
            await mod.act("show", qid=qid)
            await screen.expect("screen", question__id=qid)
            old_epoch = mod.epoch

            redis.kill()
            redis.start()  # same port, no data

            async with asyncio.timeout(5):
                for who in (mod, asker, screen):
                    fresh = await who.expect("snapshot", timeout=5)
                    assert fresh["epoch"] != old_epoch
            assert (await asker.frames_of("snapshot"))[-1]["queue"] == []
            assert screen.frames[-1]["type"] == "snapshot" and screen.frames[-1]["question"] is None
            # The event works again, with its screen link and moderator password unchanged.
            again = await Client.open(server, "volatile", "screen", token=token)
            assert (await again.expect("snapshot"))["epoch"] != old_epoch
            sid = await login(server, "volatile", MODERATOR_PASSWORD)
            back = await Client.open(server, "volatile", "moderator", sid=sid)
            newcomer = await Client.open(server, "volatile")
            new_qid = (await newcomer.submit("After the restart"))["qid"]
            await back.expect("update", question__id=new_qid)
    finally:
        await client.aclose()
        redis.stop()


async def test_deleting_an_event_closes_its_sockets(server: str, store: RedisStore) -> None:
    """An operator deletes an event during the broadcast: its clients are told (4004), not left hanging."""
    await operations.create_event(store, "doomed", "Doomed", password=MODERATOR_PASSWORD)
    asker = await Client.open(server, "doomed")
    await asker.expect("snapshot")
    await store.delete_event("doomed")
    assert await asker.close_code(timeout=8) == 4004
    refused = await Client.open(server, "doomed", hello=False)
    assert await refused.close_code() == 4004


class Submitter:
    """A participant sending questions one after another, resending each with its cid until acknowledged,
    as the page's outbox does. Records how long every send took to be answered."""

    def __init__(self, base: str, slug: str, name: str) -> None:
        self.base, self.slug, self.name = base, slug, name
        self.acked: dict[str, str] = {}  # cid → qid
        self.answer_times: list[float] = []
        self.ack_ids: list[str] = []
        self.stop = asyncio.Event()

    async def run(self) -> None:
        client = await Client.open(self.base, self.slug)
        i = 0
        while not self.stop.is_set():
            client_id = f"{self.name}-{i:04d}-cid"
            while True:
                started = asyncio.get_running_loop().time()
                await client.send("submit", cid=client_id, text=f"{self.name} question {i}", name="A",
                                  organisation="B", country="KE")  # fmt: skip
                reply = await client.reply_to(client_id)
                self.answer_times.append(asyncio.get_running_loop().time() - started)
                if reply["type"] == "ack":
                    self.acked[client_id] = reply["qid"]
                    self.ack_ids.append(reply["id"])
                    break
                assert reply["code"] == "unavailable", reply
                await asyncio.sleep(reply.get("retry_after_ms", 200) / 1000)
            i += 1
            await asyncio.sleep(0.02)


async def test_redis_killed_during_submissions_loses_nothing(tmp_path: Path) -> None:
    """kill -9 Redis while six clients on two server processes submit, restart it on its data: every
    acknowledged question is there once, every send was answered within 2 s, retries succeed after restart."""
    from liveqa.domain.state import log_id_key
    from liveqa.store import keys
    from tests.processes import ServerProcess

    redis = RedisProcess(tmp_path / "redis", persistent=True).start()
    servers = [ServerProcess(redis.url, tmp_path / f"s{i}.log").start() for i in range(2)]
    client = connect(redis.url)
    try:
        await operations.create_event(RedisStore(client), "stream", "Stream", password=MODERATOR_PASSWORD)
        submitters = [Submitter(servers[i % 2].url, "stream", f"p{i}") for i in range(6)]
        tasks = [asyncio.create_task(s.run()) for s in submitters]
        await asyncio.sleep(1.0)
        redis.kill()
        await asyncio.sleep(1.0)
        redis.start()
        restarted = asyncio.get_running_loop().time()
        acked_at_restart = sum(len(s.acked) for s in submitters)
        await asyncio.sleep(2.0)
        for s in submitters:
            s.stop.set()
        async with asyncio.timeout(15):
            await asyncio.gather(*tasks)
        assert asyncio.get_running_loop().time() - restarted < 15
        assert sum(len(s.acked) for s in submitters) > acked_at_restart  # submissions flowed again

        await client.aclose()
        client = connect(redis.url)  # a fresh client: the old one's connections died with Redis
        state = await RedisStore(client).load_state("stream")
        stored = {(q.pid, q.cid): q.id for q in state.questions.values()}
        acked = {qid for s in submitters for qid in s.acked.values()}
        assert acked <= set(state.questions), "an acknowledged question was lost"
        assert len(stored) == len(state.questions), "a submission was stored twice"
        assert len({q.text for q in state.questions.values()}) == len(state.questions)
        assert max(t for s in submitters for t in s.answer_times) < 2.0
        for s in submitters:
            assert s.ack_ids == sorted(s.ack_ids, key=log_id_key)
        log: Any = await client.xrange(keys.log("stream"))
        ids: list[str] = [entry_id for entry_id, _ in log]
        assert ids == sorted(set(ids), key=log_id_key)
    finally:
        await client.aclose()
        for server in servers:
            server.stop()
        redis.stop()


async def test_frozen_redis_gets_clear_errors_and_applies_nothing_twice(
    server_and_redis: tuple[str, RedisProcess],
) -> None:
    """Redis frozen (SIGSTOP) for 4 s: submissions meanwhile are answered `unavailable` within 1.5 s; resent
    after it wakes, each is stored once."""
    import signal

    server, redis = server_and_redis
    asker = await Client.open(server, "frozen")
    await asker.expect("snapshot")
    assert redis.process is not None
    redis.process.send_signal(signal.SIGSTOP)
    try:
        cids = [f"frozen-{i}-cid" for i in range(3)]
        for client_id in cids:
            started = asyncio.get_running_loop().time()
            reply = await asker.submit("Sent while Redis sleeps", cid=client_id)
            assert reply["type"] == "error" and reply["code"] == "unavailable"
            assert asyncio.get_running_loop().time() - started < 1.5
    finally:
        await asyncio.sleep(max(0.0, 4.0 - 3 * 1.1))
        redis.process.send_signal(signal.SIGCONT)
    qids = set()
    for client_id in cids:
        async with asyncio.timeout(10):
            while True:
                reply = await asker.submit("Sent while Redis sleeps", cid=client_id)
                if reply["type"] == "ack":
                    qids.add(reply["qid"])
                    break
                await asyncio.sleep(0.2)
    sid = await login(server, "frozen", MODERATOR_PASSWORD)
    mod = await Client.open(server, "frozen", "moderator", sid=sid)
    snapshot = await mod.expect("snapshot")
    assert sorted(q["id"] for q in snapshot["questions"]) == sorted(qids)


async def test_redis_out_of_memory_is_reported_and_recovers(
    server_and_redis: tuple[str, RedisProcess], caplog: pytest.LogCaptureFixture
) -> None:
    """Redis refusing writes: clear errors to clients, /readyz says so, and it all works again once memory is
    back, without a restart."""
    import httpx
    import redis as sync_redis

    server, redis = server_and_redis
    asker = await Client.open(server, "frozen")
    await asker.expect("snapshot")
    admin = sync_redis.Redis(port=redis.port)
    try:
        admin.config_set("maxmemory", "1")
        refused = await asker.submit("No room")
        assert refused["type"] == "error" and refused["code"] == "unavailable"
        async with httpx.AsyncClient(base_url=server) as http:
            ready = await http.get("/readyz")
            assert ready.status_code == 503 and "refuses writes" in ready.json()["detail"]
            admin.config_set("maxmemory", "0")
            assert (await http.get("/readyz")).status_code == 200
        assert (await asker.submit("Room again"))["type"] == "ack"
        assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    finally:
        admin.config_set("maxmemory", "0")
        admin.close()


async def test_pages_answer_503_while_redis_is_down(server_and_redis: tuple[str, RedisProcess]) -> None:
    """With Redis down, a page or a login that needs it answers 503 with Retry-After, never a 500; once Redis is
    back, the same requests work."""
    import httpx

    server, redis = server_and_redis
    redis.kill()
    async with httpx.AsyncClient(base_url=server, headers={"origin": server}) as http:
        for response in (
            await http.get("/e/frozen"),
            await http.post("/e/frozen/login", data={"name": "Mod", "password": MODERATOR_PASSWORD}),
        ):
            assert response.status_code == 503 and response.headers["retry-after"] == "1", response.text
        redis.start()
        await login(server, "frozen", MODERATOR_PASSWORD)
        assert (await http.get("/e/frozen")).status_code == 200
