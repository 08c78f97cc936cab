"""Abuse: limits that hold across sockets and processes, identity and login throttling."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import msgspec

from liveqa.settings import Settings
from tests.conftest import serve
from tests.helpers import SECOND, Client, EventFixture, cid, login
from tests.processes import ServerProcess


async def test_new_identities_are_rate_limited_per_address(settings: Settings, event: EventFixture) -> None:
    """A flood of new participants from one address is cut off (4029); returning participants are not."""
    async for server in serve(msgspec.structs.replace(settings, join_burst=3, join_per_minute=1)):
        regulars = [await Client.open(server, event.slug) for _ in range(3)]
        extra = await Client.open(server, event.slug, hello=False)
        await extra.send("hello")
        assert (await extra.expect("error"))["code"] == "rate_limited"
        assert await extra.close_code() == 4029
        back = await Client.open(server, event.slug, token=regulars[0].token)
        assert back.pid == regulars[0].pid


async def test_login_attempts_are_rate_limited(settings: Settings, event: EventFixture) -> None:
    """After a few attempts from one address even the right password must wait: guessing is slow."""
    async for server in serve(msgspec.structs.replace(settings, login_burst=2, login_per_minute=1)):
        async with httpx.AsyncClient(base_url=server, headers={"origin": server}) as http:
            for _ in range(2):
                wrong = await http.post(f"/e/{event.slug}/login", data={"name": "Eve", "password": "guess"})
                assert wrong.headers["location"].endswith("failed=1")
            limited = await http.post(f"/e/{event.slug}/login", data={"name": "Mod", "password": event.password})
            assert limited.headers["location"].endswith("failed=limited")
            assert "liveqa_session" not in limited.cookies


async def test_submission_limit_holds_across_two_processes(redis_url: str, event: EventFixture, tmp_path: Path) -> None:
    """One participant firing 50 submissions at once through two server processes, limit 5: exactly 5 stored."""
    servers = [
        ServerProcess(
            redis_url, tmp_path / f"s{i}.log", LIVEQA_SUBMIT_BURST="5", LIVEQA_SUBMIT_PER_MINUTE="0.01"
        ).start()
        for i in range(2)
    ]
    try:
        first = await Client.open(servers[0].url, event.slug)
        second = await Client.open(servers[1].url, event.slug, token=first.token)
        cids = [cid() for _ in range(50)]
        await asyncio.gather(
            *(
                (first if i % 2 else second).send(
                    "submit", cid=c, text=f"Flood {i}", name="A", organisation="B", country="KE"
                )
                for i, c in enumerate(cids)
            )
        )
        replies = [await (first if i % 2 else second).reply_to(c) for i, c in enumerate(cids)]
        assert sum(r["type"] == "ack" for r in replies) == 5
        assert {r["code"] for r in replies if r["type"] == "error"} == {"rate_limited"}
    finally:
        for server in servers:
            server.stop()


async def test_many_voters_at_once_count_exactly(server: str, event: EventFixture) -> None:
    """1,000 participants voting at the same moment give 1,000 votes; one of them voting 100 times on 3 sockets,
    one."""
    asker = await Client.open(server, event.slug)
    mod = await Client.open(server, event.slug, "moderator", sid=await login(server, event.slug, event.password))
    qid = (await asker.submit("Vote for me"))["qid"]
    await mod.act("approve", qid=qid)
    voters: list[Client] = []
    for _ in range(5):  # opened 200 at a time: the votes, not the handshakes, are what must be concurrent
        voters += await asyncio.gather(*(Client.open(server, event.slug) for _ in range(200)))
    await asyncio.gather(*(v.send("upvote", qid=qid) for v in voters[1:]))
    await asyncio.gather(*(v.close() for v in voters[1:]))  # their votes stand; the fan-out to them stops
    await voters[0].send("upvote", qid=qid)
    sockets = [voters[0], *[await Client.open(server, event.slug, token=voters[0].token) for _ in range(2)]]
    await asyncio.gather(*(sockets[i % 3].send("upvote", qid=qid) for i in range(100)))
    async with asyncio.timeout(60 * SECOND):
        while True:
            tally = await mod.expect("votes", timeout=60)
            if tally["votes"].get(qid) == 1000:
                break
    await asyncio.sleep(0.5)
    assert not [f for f in await mod.drain(0.3) if f["type"] == "votes" and f["votes"].get(qid, 1000) != 1000]
