"""Resume after a dropped connection: replay with no gap and no duplicate, or a snapshot when impossible."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from liveqa.domain.state import log_id_key
from liveqa.store import keys
from tests.helpers import Client, EventFixture, login, moderator
from tests.view_model import ClientView


async def _busy_while_away(server: str, event: EventFixture, mod: Client, asker: Client) -> list[str]:
    """Submissions, approvals, votes, a reorder, a pin, the screen and a rejection: a bit of everything."""
    qids = [(await asker.submit(f"Question number {i} about the mandate?"))["qid"] for i in range(6)]
    for qid in qids[:5]:
        assert (await mod.act("approve", qid=qid))["type"] == "done"
    voters = [await Client.open(server, event.slug) for _ in range(3)]
    for voter in voters:
        for qid in qids[:3]:
            await voter.send("upvote", qid=qid)
    for voter in voters:
        await voter.drain(0.2)
    await mod.act("move", qid=qids[4], before=qids[0])
    await mod.act("pin", qid=qids[2])
    await mod.act("show", qid=qids[1])
    await mod.act("reject", qid=qids[5], reason="Duplicate")
    await mod.act("archive", qid=qids[3])
    await mod.act("edit", qid=qids[0], text="Question zero, edited by a moderator")
    return qids


def _log_ids(frames: list[dict[str, Any]]) -> list[str]:
    return [f["id"] for f in frames if f["type"] in ("update", "votes", "own", "event") and f.get("id")]


async def test_participant_resumes_with_no_gap_and_no_duplicate(server: str, event: EventFixture) -> None:
    """A participant that reconnects with its last id gets exactly what it missed, then live frames; its view
    then equals a fresh snapshot."""
    mod = await moderator(server, event)
    asker = await Client.open(server, event.slug)
    first = await asker.submit("Asked before the drop")
    view = ClientView().apply_all(await asker.drain())
    epoch, last_id, token = asker.epoch, asker.last_id, asker.token
    await asker.close()

    await mod.act("approve", qid=first["qid"])
    await _busy_while_away(server, event, mod, await Client.open(server, event.slug))

    back = await Client.open(server, event.slug, token=token, epoch=epoch, last_id=last_id)
    assert (await back.recv())["type"] == "resumed"
    replayed = await back.drain(0.5)
    ids = _log_ids(replayed)
    assert ids and log_id_key(ids[0]) > log_id_key(last_id)
    assert all(log_id_key(a) <= log_id_key(b) for a, b in zip(ids, ids[1:], strict=False))
    assert len({(f["type"], f["id"]) for f in replayed}) == len(replayed), "a frame was delivered twice"
    view.apply_all(replayed)

    fresh = await Client.open(server, event.slug, token=token)
    expected = ClientView().apply_all(await fresh.drain(0.5))
    assert view.comparable() == expected.comparable()
    assert view.mine[first["qid"]]["status"] == "approved"


async def test_moderator_replay_matches_the_log(server: str, event: EventFixture, redis_client: Redis) -> None:
    """A moderator's replay holds one frame per log entry it missed, in log order: compared with XRANGE."""
    mod = await moderator(server, event)
    away = await moderator(server, event)
    epoch, last_id = away.epoch, away.last_id
    await away.close()
    await _busy_while_away(server, event, mod, await Client.open(server, event.slug))

    log: Any = await redis_client.xrange(keys.log(event.slug), f"({last_id}", "+")
    back = await Client.open(
        server,
        event.slug,
        "moderator",
        sid=await login(server, event.slug, event.password),
        epoch=epoch,
        last_id=last_id,
    )
    assert (await back.recv())["type"] == "resumed"
    replayed = [f for f in await back.drain(0.5) if f["type"] in ("update", "votes", "event")]
    assert [f["id"] for f in replayed] == [entry_id for entry_id, _ in log]


async def test_live_frames_during_replay_are_neither_lost_nor_doubled(server: str, event: EventFixture) -> None:
    """Frames published while a client is being replayed to arrive once, after the replay."""
    mod = await moderator(server, event)
    asker = await Client.open(server, event.slug)
    viewer = await Client.open(server, event.slug)
    await viewer.expect("snapshot")
    epoch, last_id, token = viewer.epoch, viewer.last_id, viewer.token
    await viewer.close()
    qids = [(await asker.submit(f"Backlog question {i}"))["qid"] for i in range(30)]
    for qid in qids[:20]:
        await mod.send("approve", qid=qid)
    back = await Client.open(server, event.slug, token=token, epoch=epoch, last_id=last_id)
    for qid in qids[20:]:
        await mod.send("approve", qid=qid)
    await mod.drain(0.5)
    frames = await back.drain(0.8)
    ids = _log_ids(frames)
    assert len(ids) == len(set(ids)), "duplicate frame"
    assert ids == sorted(ids, key=log_id_key)
    view = ClientView().apply_all(frames)
    assert view.queue == qids


async def test_snapshot_when_the_log_was_trimmed(server: str, event: EventFixture, redis_client: Redis) -> None:
    """A client whose last id is older than the log's first entry gets a fresh snapshot instead of a replay."""
    mod = await moderator(server, event)
    asker = await Client.open(server, event.slug)
    await asker.expect("snapshot")
    epoch, last_id, token = asker.epoch, asker.last_id, asker.token
    await asker.close()
    other = await Client.open(server, event.slug)
    qids = [(await other.submit(f"Question {i}"))["qid"] for i in range(5)]
    for qid in qids:
        await mod.act("approve", qid=qid)
    recent: Any = await redis_client.xrevrange(keys.log(event.slug), "+", "-", count=2)
    newest = recent[-1][0]
    await redis_client.xtrim(keys.log(event.slug), minid=newest, approximate=False)

    back = await Client.open(server, event.slug, token=token, epoch=epoch, last_id=last_id)
    snapshot = await back.recv()
    assert snapshot["type"] == "snapshot"
    assert snapshot["queue"] == qids


async def test_snapshot_for_another_epoch_or_a_future_id(server: str, event: EventFixture) -> None:
    """Log ids from another epoch (a recreated event) or beyond the head can't be replayed: snapshot."""
    asker = await Client.open(server, event.slug)
    await asker.expect("snapshot")
    stale = await Client.open(server, event.slug, token=asker.token, epoch="0" * 32, last_id=asker.last_id)
    assert (await stale.recv())["type"] == "snapshot"
    future = await Client.open(server, event.slug, token=asker.token, epoch=asker.epoch, last_id="99999999999999-0")
    assert (await future.recv())["type"] == "snapshot"
    same = await Client.open(server, event.slug, token=asker.token, epoch=asker.epoch, last_id=asker.last_id)
    assert (await same.recv())["type"] == "resumed"
