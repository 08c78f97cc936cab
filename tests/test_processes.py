"""Several server processes on one Redis; crashes of a server process and of Redis itself."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from websockets.exceptions import WebSocketException

from liveqa import operations
from liveqa.store import RedisStore
from liveqa.store.redis import connect
from tests.conftest import MODERATOR_PASSWORD
from tests.helpers import SECOND, Client, EventFixture, cid, login, moderator
from tests.processes import ServerProcess
from tests.redis_server import RedisProcess
from tests.view_model import ClientView


async def test_participant_and_moderator_on_different_processes(
    two_servers: tuple[ServerProcess, ServerProcess], event: EventFixture
) -> None:
    """A participant on one process and a moderator on the other see each other's actions live."""
    a, b = two_servers
    asker = await Client.open(a.url, event.slug)
    mod = await moderator(b.url, event)
    screen = await Client.open(b.url, event.slug, "screen", token=event.screen_token)
    qid = (await asker.submit("Seen across processes?"))["qid"]
    await mod.expect("update", question__id=qid, question__status="pending")
    await mod.act("approve", qid=qid)
    await asker.expect("update", question__id=qid, question__status="approved")
    await mod.act("show", qid=qid)
    assert (await screen.expect("screen"))["question"]["text"] == "Seen across processes?"
    voter = await Client.open(a.url, event.slug)
    await voter.send("upvote", qid=qid)
    assert (await mod.expect("votes"))["votes"] == {qid: 1}
    # Moderators on different processes see each other, and see the other leave.
    colleague = await Client.open(
        a.url, event.slug, "moderator", sid=await login(a.url, event.slug, event.password, name="Bo")
    )
    assert await mod.expect("presence", moderators=["Bo", "Mod"])
    await colleague.close()
    assert await mod.expect("presence", moderators=["Mod"])


async def test_clients_of_a_killed_process_resume_on_the_other(
    two_servers: tuple[ServerProcess, ServerProcess], event: EventFixture
) -> None:
    """kill -9 one process while 200 clients are connected: within 5 s they all resume on the other, each ending
    with exactly the state a fresh client gets."""
    a, b = two_servers
    mod = await moderator(b.url, event)
    participants = list(await asyncio.gather(*(Client.open(a.url, event.slug) for _ in range(200))))
    acked = []
    for i, participant in enumerate(participants[:20]):
        acked.append((await participant.submit(f"Question {i} before the crash"))["qid"])
    for qid in acked[:10]:
        await mod.act("approve", qid=qid)
    drained = await asyncio.gather(*(participant.drain(0.3) for participant in participants))
    views = [ClientView().apply_all(frames) for frames in drained]

    a.kill()
    for qid in acked[10:]:
        await mod.act("approve", qid=qid)
    await mod.act("show", qid=acked[3])

    async def resume(participant: Client, view: ClientView) -> None:
        back = await Client.open(
            b.url, event.slug, token=participant.token, epoch=participant.epoch, last_id=participant.last_id
        )
        assert (await back.recv())["type"] == "resumed"
        view.apply_all(await back.drain(0.3))
        fresh = await Client.open(b.url, event.slug, token=participant.token)
        assert view.comparable() == ClientView().apply_all(await fresh.drain(0.3)).comparable()
        assert set(view.mine) <= set(acked)

    async with asyncio.timeout(5 * SECOND):
        await asyncio.gather(*(resume(p, v) for p, v in zip(participants, views, strict=True)))
    assert views[0].queue == acked
    fresh_moderator = await moderator(b.url, event)
    snapshot = next(f for f in fresh_moderator.frames if f["type"] == "snapshot")
    assert set(acked) <= {q["id"] for q in snapshot["questions"]}


async def test_graceful_stop_closes_sockets_with_1012(
    two_servers: tuple[ServerProcess, ServerProcess], event: EventFixture
) -> None:
    """SIGTERM closes every socket with 1012 (service restart): clients know to reconnect and resume."""
    a, _ = two_servers
    client = await Client.open(a.url, event.slug)
    await client.expect("snapshot")
    stopping = asyncio.get_running_loop().run_in_executor(None, a.stop)
    assert await client.close_code(10) == 1012
    assert await stopping == 0


async def test_acknowledged_questions_survive_a_redis_crash(tmp_path: Path) -> None:
    """Questions acknowledged before Redis is killed with -9 are all there after it restarts on its data."""
    redis = RedisProcess(tmp_path / "redis", persistent=True).start()
    server = ServerProcess(redis.url, tmp_path / "server.log").start()
    client = connect(redis.url)
    try:
        await operations.create_event(RedisStore(client), "crash", "Crash test", password=MODERATOR_PASSWORD)
        asker = await Client.open(server.url, "crash")
        acked = [(await asker.submit(f"Durable question {i}"))["qid"] for i in range(25)]
        redis.kill()
        await asyncio.sleep(0.2)
        redis.start()
        event = EventFixture(slug="crash", screen_token="", password=MODERATOR_PASSWORD)
        async with asyncio.timeout(15 * SECOND):
            while True:
                try:
                    mod = await moderator(server.url, event)
                    break
                except (AssertionError, OSError, TimeoutError, WebSocketException, httpx.HTTPError):
                    await asyncio.sleep(0.2)  # the server reconnects to Redis in its own time
        # The console holds every acknowledged question: in its snapshot, or in the updates that follow at once
        # when this process's log reader is still catching up after the outage.
        held = {q["id"] for q in next(f for f in mod.frames if f["type"] == "snapshot")["questions"]}
        async with asyncio.timeout(10 * SECOND):
            while not set(acked) <= held:
                held.add((await mod.expect("update")).get("question", {}).get("id", ""))
        assert held - {""} == set(acked)
        # And the same participant carries on where it was.
        again = await Client.open(server.url, "crash", token=asker.token)
        assert len((await again.expect("snapshot"))["mine"]) == 25
    finally:
        await client.aclose()
        server.stop()
        redis.stop()


async def test_graceful_stop_loses_no_submission_in_flight(
    two_servers: tuple[ServerProcess, ServerProcess], event: EventFixture
) -> None:
    """A question sent as its server is stopping is either acknowledged, or acknowledged once when resent."""
    a, b = two_servers
    asker = await Client.open(a.url, event.slug)
    await asker.expect("snapshot")
    client_id = cid()
    await asker.send("submit", cid=client_id, text="Sent as the server stops", name="A", organisation="B", country="KE")
    stopping = asyncio.get_running_loop().run_in_executor(None, a.stop)
    await asker.close_code(10)
    await stopping
    again = await Client.open(b.url, event.slug, token=asker.token)
    reply = await again.submit("Sent as the server stops", cid=client_id)
    assert reply["type"] == "ack"
    mod = await moderator(b.url, event)
    snapshot = next(f for f in mod.frames if f["type"] == "snapshot")
    assert [q["id"] for q in snapshot["questions"]] == [reply["qid"]]


async def test_reconnect_storm_after_a_restart(redis_url: str, event: EventFixture, tmp_path: Path) -> None:
    """500 clients of a restarted server reconnect at once, each resuming where it was, within 20 s."""
    server = ServerProcess(redis_url, tmp_path / "storm.log").start()
    try:
        clients = list(await asyncio.gather(*(Client.open(server.url, event.slug) for _ in range(500))))
        await asyncio.gather(*(c.expect("snapshot") for c in clients))
        server.stop()
        await asyncio.gather(*(c.close_code(10) for c in clients))
        server.start()
        mod = await moderator(server.url, event)
        asker = await Client.open(server.url, event.slug)
        qid = (await asker.submit("Asked during the storm"))["qid"]
        await mod.act("approve", qid=qid)

        async def resume(client: Client) -> None:
            back = await Client.open(server.url, event.slug, token=client.token, epoch=client.epoch,
                                     last_id=client.last_id)  # fmt: skip
            assert (await back.recv(timeout=20))["type"] == "resumed"
            await back.expect("update", timeout=20, question__id=qid)

        async with asyncio.timeout(20 * SECOND):
            await asyncio.gather(*(resume(c) for c in clients))
    finally:
        server.stop()
