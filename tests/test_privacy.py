"""Privacy: personal data is gone after retention, and logs never carry it."""

from __future__ import annotations

import logging
import secrets
from typing import Any

import httpx
import msgspec
import pytest
from redis.asyncio import Redis

from liveqa import operations, retention
from liveqa.settings import Settings
from liveqa.store import RedisStore, keys
from tests.conftest import MODERATOR_PASSWORD, serve
from tests.helpers import Client, login


async def test_personal_data_is_gone_after_retention(server: str, store: RedisStore, redis_client: Redis) -> None:
    """An ended event past its retention period keeps its title and figures, and nothing else: every key of it
    is scanned for the names, organisations, texts and ids that were in it."""
    slug = f"r-{secrets.token_hex(4)}"
    await operations.create_event(store, slug, "Kept title", password=MODERATOR_PASSWORD, retention_days=7)
    asker = await Client.open(server, slug)
    secrets_in_it = {"Zanele Mbeki", "Sahel Women Forum", "A question about Darfur", asker.pid, asker.token}
    ack = await asker.submit("A question about Darfur", name="Zanele Mbeki", organisation="Sahel Women Forum")
    mod = await Client.open(
        server, slug, "moderator", sid=await login(server, slug, MODERATOR_PASSWORD, "Moderator Kofi")
    )
    secrets_in_it.add("Moderator Kofi")
    await mod.act("approve", qid=ack["qid"])
    voter = await Client.open(server, slug)
    await voter.send("upvote", qid=ack["qid"])
    await voter.expect("votes")
    await operations.end_event(store, slug)
    info = await store.event_info(slug)
    assert info is not None and info.ended

    assert await retention.erase_due(store, now_ms=info.ended + 6 * retention.DAY_MS) == []
    assert slug in await retention.erase_due(store, now_ms=info.ended + 7 * retention.DAY_MS)

    found = [key async for key in redis_client.scan_iter(match=f"*{slug}*")]
    assert sorted(found) == sorted([keys.meta(slug), keys.report(slug)])
    dump: list[Any] = []
    for key in found:
        dump.append(await redis_client.hgetall(key))
    text = repr(dump)
    for secret in secrets_in_it:
        assert secret not in text
    figures = msgspec.json.decode((await redis_client.hgetall(keys.report(slug)))["figures"])
    assert figures["questions"] == 1 and figures["votes"] == 1 and figures["by_country"] == {"NE": 1}
    assert (await store.event_info(slug)) is not None  # the event page can still say it is over


async def test_logs_carry_no_personal_data_or_secrets(
    settings: Settings, caplog: pytest.LogCaptureFixture, store: RedisStore
) -> None:
    """Canaries planted in question text, names, the passcode, tokens, the session cookie, the password and the
    client address never show up in any log line, at any level."""
    canary = f"CANARY{secrets.token_hex(4)}"
    address = "203.0.113.77"
    slug = f"c-{secrets.token_hex(4)}"
    password = f"{canary}-password"
    passcode = f"{canary}-code"
    screen_token = await operations.create_event(store, slug, "Logged", password=password, passcode=passcode)
    caplog.set_level(logging.DEBUG)
    options = {"proxy_headers": True, "forwarded_allow_ips": "*", "log_config": None, "log_level": "trace"}
    async for server in serve(settings, **options):
        headers = {"x-forwarded-for": address}
        asker = await Client.open(server, slug, passcode=passcode, headers=headers)
        await asker.submit(f"{canary} text", name=f"{canary} name", organisation=f"{canary} org")
        await asker.ws.send("not json " + canary)
        await asker.expect("error")
        sid = await login(server, slug, password, name=f"{canary} moderator", headers=headers)
        mod = await Client.open(server, slug, "moderator", sid=sid, headers=headers)
        await mod.act("reject", qid="1", reason=f"{canary} reason")
        async with httpx.AsyncClient(base_url=server, headers=headers) as http:
            await http.get(f"/e/{slug}/screen", params={"token": screen_token})
            await http.post(f"/e/{slug}/login", data={"name": "x", "password": f"{canary} wrong"},
                            headers={"origin": server})  # fmt: skip
        screen = await Client.open(server, slug, "screen", token=screen_token, headers=headers)
        await screen.expect("snapshot")
        tokens = [asker.token, sid, screen_token, passcode, password, canary, address]
    server_records = [r for r in caplog.records if r.name.split(".")[0] in ("liveqa", "uvicorn", "starlette")]
    lines = [record.getMessage() + (record.exc_text or "") for record in server_records]
    assert len(server_records) > 10  # the logs did say what happened
    for line in lines:
        for secret in tokens:
            assert secret not in line, (secret, line, [r.name for r in server_records if secret in r.getMessage()])


async def test_a_participant_erased_on_request(server: str, event: Any, store: RedisStore, redis_client: Redis) -> None:
    """Their name, organisation and country leave the questions, the log and the moderators' consoles; their
    questions stay, anonymous; their token stops working."""
    asker = await Client.open(server, event.slug)
    other = await Client.open(server, event.slug)
    mine = [(await asker.submit(f"Mine {i}", name="Erase Me", organisation="Gone Org"))["qid"] for i in range(2)]
    theirs = (await other.submit("Not mine", name="Keep Me", organisation="Kept Org"))["qid"]
    await asker.send(
        "request_floor", cid="floor-erase-1", topic="To speak", name="Erase Me", organisation="Gone Org", country="NE"
    )
    fid = (await asker.expect("floor_ack"))["fid"]
    mod = await Client.open(server, event.slug, "moderator", sid=await login(server, event.slug, event.password))
    before = await mod.expect("snapshot")
    assert await operations.erase_participant(store, event.slug, asker.pid) == 2
    for qid in mine:
        update = await mod.expect("update", question__id=qid, question__name="")
        assert update["question"]["organisation"] == "" and update["question"]["text"].startswith("Mine")
    erased = await mod.expect("update", floor__0__id=fid)
    assert erased["floor"][0].get("name", "") == "" and erased["floor"][0].get("organisation", "") == ""
    log_text = repr(await redis_client.xrange(keys.log(event.slug)))
    assert "Erase Me" not in log_text and "Gone Org" not in log_text and "Keep Me" in log_text
    # A console resuming from before the erasure gets a snapshot (the entries removed can't be replayed).
    sid = await login(server, event.slug, event.password, "Again")
    again = await Client.open(server, event.slug, "moderator", sid=sid, epoch=mod.epoch, last_id=before["id"])
    assert "Erase Me" not in repr((await again.expect("snapshot"))["questions"])
    state = await store.load_state(event.slug)
    assert state.questions[theirs].name == "Keep Me"
    back = await Client.open(server, event.slug, token=asker.token)
    assert back.pid != asker.pid
