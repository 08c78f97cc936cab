"""A client that stops reading is closed as a slow consumer (4008); everyone else carries on unaffected."""

from __future__ import annotations

import asyncio
import uuid

import msgspec

from liveqa.domain.rules import Action
from liveqa.settings import Settings
from liveqa.store import RedisStore
from tests.conftest import serve
from tests.helpers import Client, EventFixture, login


async def test_slow_consumer_is_closed_and_others_keep_up(
    settings: Settings, store: RedisStore, event: EventFixture
) -> None:
    tight = msgspec.structs.replace(settings, max_frames_queued=10, max_bytes_queued=65536)
    async for server in serve(tight):
        sid = await login(server, event.slug, event.password)
        stalled = await Client.open(server, event.slug, "moderator", sid=sid)
        healthy = await Client.open(server, event.slug, "moderator", sid=sid)
        await stalled.expect("snapshot")
        await healthy.expect("snapshot")
        stalled.ws.transport.pause_reading()  # stops reading: the kernel buffers fill, then the server's

        qid, *_ = await store.submit(event.slug, "p", uuid.uuid4().hex, "Q", ("A", "B", "KE"), (True,) * 3, rate=(0, 1))
        await store.transition(event.slug, qid, Action.APPROVE, by="m")
        long_text = "x" * 1990
        edits = 2500
        for i in range(edits):
            await store.edit(event.slug, qid, f"{i:05d}{long_text}", by="m", owner="", editable=frozenset({"approved"}))

        # The healthy console receives every edit, in order.
        last = await healthy.expect("update", timeout=20, question__text=f"{edits - 1:05d}{long_text}")
        assert last["question"]["rev"] == edits + 2

        stalled.ws.transport.resume_reading()
        assert await stalled.close_code(timeout=20) == 4008
        # It resumes like any other client, from the last id it holds.
        back = await Client.open(server, event.slug, "moderator", sid=sid, epoch=stalled.epoch, last_id=stalled.last_id)
        assert (await back.recv())["type"] in ("resumed", "snapshot")
        await back.expect("update", timeout=20, question__text=f"{edits - 1:05d}{long_text}")
        assert not healthy.ws.close_code
        await asyncio.sleep(0)


async def test_a_stalled_reader_is_closed_within_ten_seconds(
    settings: Settings, store: RedisStore, event: EventFixture
) -> None:
    """Even below the queue bound, a client that takes no data for LIVEQA_SEND_TIMEOUT (10 s by default; 2 s
    here) while frames wait for it is closed (4008)."""
    import time

    patient = msgspec.structs.replace(settings, send_timeout=2.0, max_frames_queued=100_000, max_bytes_queued=1 << 30)
    async for server in serve(patient):
        sid = await login(server, event.slug, event.password)
        stalled = await Client.open(server, event.slug, "moderator", sid=sid)
        await stalled.expect("snapshot")
        stalled.ws.transport.pause_reading()
        qid, *_ = await store.submit(event.slug, "p", uuid.uuid4().hex, "Q", ("A", "B", "KE"), (True,) * 3, rate=(0, 1))
        for i in range(4000):  # enough to fill the socket buffers, far below the bound
            await store.edit(
                event.slug, qid, f"{i:05d}" + "y" * 1990, by="m", owner="", editable=frozenset({"pending"})
            )
        started = time.monotonic()
        await asyncio.sleep(3)
        stalled.ws.transport.resume_reading()
        assert await stalled.close_code(timeout=20) == 4008
        assert time.monotonic() - started < 2 + 3
