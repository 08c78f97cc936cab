"""Faults on purpose: Redis loses its data, an event is deleted under its clients."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec

from liveqa import operations
from liveqa.settings import Settings
from liveqa.store import RedisStore
from liveqa.store.redis import connect
from tests.conftest import MODERATOR_PASSWORD, serve
from tests.helpers import Client, login
from tests.redis_server import RedisProcess


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
