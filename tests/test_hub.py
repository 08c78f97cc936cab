"""The fan-out's coalescing, on a real event log: what changes coming fast become for each audience."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from redis.asyncio import Redis

from liveqa import hub
from liveqa.connection import Connection
from liveqa.domain.rules import Action
from liveqa.hub import EventFeed
from liveqa.store import RedisStore, keys
from liveqa.views import Audience
from tests.helpers import EventFixture
from tests.view_model import ClientView

AUTHOR = ("Amina", "Voices of the Sahel", "NE")
NO_LIMIT = (0, 1.0)


class Socket:
    """A connection whose sends are recorded (they complete at once, as to a peer that keeps up)."""

    def __init__(self, audience: Audience, pid: str = "") -> None:
        self.frames: list[dict[str, Any]] = []  # a batch's one by one
        self.messages: list[list[str]] = []  # the types of the frames each message carried
        self.conn = Connection(self._send, self._close, audience, pid=pid)

    async def _send(self, text: str) -> None:
        assert asyncio.current_task() is not None  # as a real socket's send may need (timeouts, locks)
        message = json.loads(text)
        frames = message["frames"] if message["type"] == "batch" else [message]
        if message["type"] == "batch":
            assert len(frames) > 1 and message["id"] == frames[-1]["id"]
        self.messages.append([f["type"] for f in frames])
        self.frames += frames

    async def _close(self, code: int, reason: str) -> None:
        pass

    def since_snapshot(self) -> list[tuple[str, str, Any]]:
        return [(f["type"], f["id"], f.get("queue", f.get("votes"))) for f in self.frames if f["type"] != "snapshot"]


async def _feed(store: RedisStore, redis: Redis, slug: str) -> tuple[EventFeed, Socket, Socket]:
    feed = EventFeed(slug, store, redis, grouping=False)
    feed.state = await store.load_state(slug)  # not started: the test hands it the log's entries itself
    public, moderator = Socket(Audience.PUBLIC), Socket(Audience.MODERATOR)
    for socket in (public, moderator):
        await feed.attach(socket.conn, "", "")
    return feed, public, moderator


async def test_a_batch_of_queue_changes_reaches_the_audience_as_its_last_order(
    store: RedisStore, redis_client: Redis, event: EventFixture
) -> None:
    """When the reader is behind, participants get the latest queue and screen once; moderators get every change;
    a vote tally between two moves goes out between them, so ids still rise."""
    qids = []
    for text in ("First?", "Second?", "Third?"):
        qid, _, _, _ = await store.submit(event.slug, "p1", uuid.uuid4().hex, text, AUTHOR, (True,) * 3, rate=NO_LIMIT)
        await store.transition(event.slug, qid, Action.APPROVE, by="mod")
        qids.append(qid)
    feed, public, moderator = await _feed(store, redis_client, event.slug)
    a, b, c = qids
    await store.move(event.slug, c, before=a)
    await store.move(event.slug, b, before=c)
    await store.show(event.slug, a)
    await store.vote(event.slug, "p2", a, up=True, rate=NO_LIMIT)
    await store.move(event.slug, a, before=b)
    await store.move(event.slug, c, before=a)
    entries = await store.range_log(event.slug, feed.state.head, count=100)
    assert len(entries) == 6
    feed.publish(entries)
    ids = [entry.id for entry in entries]
    assert [(kind, log_id) for kind, log_id, _ in moderator.since_snapshot()] == [
        *[("update", i) for i in ids[:3]],
        ("votes", ids[3]),
        *[("update", i) for i in ids[4:]],
    ]
    got = [f for f in public.frames if f["type"] != "snapshot"]
    assert [(f["type"], f["id"]) for f in got] == [("update", ids[2]), ("votes", ids[3]), ("update", ids[5])]
    assert public.messages[1:] == [["update", "votes", "update"]]  # one message after the snapshot
    assert got[0]["queue"] == [b, c, a] and got[0]["screen"] == a  # two moves and a show: one frame
    assert got[1]["votes"] == {a: 1}
    assert got[2]["queue"] == [c, a, b] and "screen" not in got[2]
    assert feed.state.queue == [c, a, b]


async def test_a_question_change_is_never_coalesced(
    store: RedisStore, redis_client: Redis, event: EventFixture
) -> None:
    """A change to a question itself (here an approval) goes out as it is, after the order it followed."""
    first, _, _, _ = await store.submit(
        event.slug, "p1", uuid.uuid4().hex, "First?", AUTHOR, (True,) * 3, rate=NO_LIMIT
    )
    second, _, _, _ = await store.submit(
        event.slug, "p1", uuid.uuid4().hex, "Next?", AUTHOR, (True,) * 3, rate=NO_LIMIT
    )
    await store.transition(event.slug, first, Action.APPROVE, by="mod")
    feed, public, _ = await _feed(store, redis_client, event.slug)
    await store.show(event.slug, first)
    await store.transition(event.slug, second, Action.APPROVE, by="mod")
    await store.show(event.slug, second)
    entries = await store.range_log(event.slug, feed.state.head, count=100)
    feed.publish(entries)
    got = [f for f in public.frames if f["type"] != "snapshot"]
    assert [f["id"] for f in got] == [e.id for e in entries]
    assert got[1]["question"]["id"] == second


async def test_the_askers_own_frame_comes_after_the_order_held_before_it(
    store: RedisStore, redis_client: Redis, event: EventFixture
) -> None:
    """An asker's socket is one of the audience's: a held queue update is sent before their own question's frame."""
    qids = []
    for text in ("First?", "Second?"):
        qid, _, _, _ = await store.submit(event.slug, "p1", uuid.uuid4().hex, text, AUTHOR, (True,) * 3, rate=NO_LIMIT)
        await store.transition(event.slug, qid, Action.APPROVE, by="mod")
        qids.append(qid)
    feed, _, _ = await _feed(store, redis_client, event.slug)
    asker = Socket(Audience.PUBLIC, pid="p9")
    await feed.attach(asker.conn, "", "")
    await store.move(event.slug, qids[1], before=qids[0])
    await store.submit(event.slug, "p9", uuid.uuid4().hex, "Mine?", AUTHOR, (True,) * 3, rate=NO_LIMIT)
    entries = await store.range_log(event.slug, feed.state.head, count=100)
    feed.publish(entries)
    got = [(f["type"], f["id"]) for f in asker.frames if f["type"] != "snapshot"]
    assert got == [("update", entries[0].id), ("own", entries[1].id)]
    assert asker.messages[1:] == [["update", "own"]]


async def test_participants_get_at_most_one_frame_per_interval_with_every_change(
    store: RedisStore, redis_client: Redis, event: EventFixture
) -> None:
    """Changes read one at a time: moderators get each at once; participants get the first at once and the rest
    in one frame when AUDIENCE_EVERY_S is up, in log order, an asker with their own frame in its place and a
    bystander without it."""
    first, second, third = await _approved(store, event.slug, "First?", "Second?", "Third?")
    feed, public, moderator = await _feed(store, redis_client, event.slug)
    asker = Socket(Audience.PUBLIC, pid="p1")
    await feed.attach(asker.conn, "", "")
    ids = []
    for act in (
        store.show(event.slug, first),
        store.transition(event.slug, second, Action.ANSWER, by="mod"),
        store.move(event.slug, third, before=first),
        store.show(event.slug, third),
    ):
        await act
        entries = await store.range_log(event.slug, feed.state.head, count=10)
        feed.publish(entries)
        ids += [entry.id for entry in entries]
    assert [f["id"] for f in moderator.frames[1:]] == ids
    assert public.messages[1:] == [["update"]] and asker.messages[1:] == [["update"]]
    await asyncio.sleep(hub.AUDIENCE_EVERY_S * 1.5)
    assert public.messages[1:] == [["update"], ["update", "update"]]
    assert [f["id"] for f in public.frames[1:]] == [ids[0], ids[1], ids[3]]  # the move, superseded by the show
    assert asker.messages[1:] == [["update"], ["update", "own", "update"]]
    assert [f["id"] for f in asker.frames[1:]] == [ids[0], ids[1], ids[1], ids[3]]
    assert public.frames[-1]["queue"] == [third, first] and public.frames[-1]["screen"] == third


async def _approved(store: RedisStore, slug: str, *texts: str) -> list[str]:
    qids = []
    for text in texts:
        qid, _, _, _ = await store.submit(slug, "p1", uuid.uuid4().hex, text, AUTHOR, (True,) * 3, rate=NO_LIMIT)
        await store.transition(slug, qid, Action.APPROVE, by="mod")
        qids.append(qid)
    return qids


async def test_tallies_held_back_go_out_when_their_time_comes(
    store: RedisStore, redis_client: Redis, event: EventFixture
) -> None:
    """The first tally goes out at once; the next, within VOTES_EVERY_S of it, when that time is up, from a task."""
    (a,) = await _approved(store, event.slug, "First?")
    feed, public, moderator = await _feed(store, redis_client, event.slug)
    for voter in ("p2", "p3"):
        await store.vote(event.slug, voter, a, up=True, rate=NO_LIMIT)
        feed.publish(await store.range_log(event.slug, feed.state.head, count=10))
    assert [votes for _, _, votes in moderator.since_snapshot()] == [{a: 1}]
    await asyncio.sleep(hub.VOTES_EVERY_S * 1.5)
    for socket in (public, moderator):
        assert [votes for _, _, votes in socket.since_snapshot()] == [{a: 1}, {a: 2}]


async def test_participants_get_each_change_of_the_order_as_one_step_and_moderators_the_whole_order(
    store: RedisStore, redis_client: Redis, event: EventFixture
) -> None:
    """An approval, a move and an answer each reach participants as the step that made the new order (a few bytes
    however long the queue); moderators get the whole order. Steps held together in a read batch go as the whole
    order, and a participant that applies what it got holds the order Redis holds."""
    a, b, c = await _approved(store, event.slug, "First?", "Second?", "Third?")
    feed, public, moderator = await _feed(store, redis_client, event.slug)
    view = ClientView()
    view.apply(public.frames[0])
    (d,) = await _approved(store, event.slug, "Fourth?")
    await store.move(event.slug, a, after=c)
    await store.transition(event.slug, b, Action.ANSWER, by="mod")
    entries = await store.range_log(event.slug, feed.state.head, count=100)
    for entry in entries:
        feed.publish([entry])  # one entry per read: nothing held back
        await asyncio.sleep(hub.AUDIENCE_EVERY_S * 1.5)
    steps = [(f.get("place"), f.get("unqueue")) for f in public.frames[1:] if f["type"] == "update"]
    assert (None, None) not in steps and all("queue" not in f for f in public.frames[1:])
    assert ([d, c], None) in steps and ([a, c], None) in steps and (None, b) in steps
    assert [f["queue"] for f in moderator.frames[1:] if "queue" in f][-1] == [c, a, d]

    await store.move(event.slug, d, before=c)
    await store.move(event.slug, c, after=a)
    feed.publish(await store.range_log(event.slug, feed.state.head, count=100))  # one batch: held together
    await asyncio.sleep(hub.AUDIENCE_EVERY_S * 1.5)
    last = public.frames[-1]
    assert last["queue"] == [d, a, c] and "place" not in last
    view.apply_all(public.frames[1:])
    assert view.queue == await redis_client.lrange(keys.queue(event.slug), 0, -1) == [d, a, c]


async def test_a_participant_joining_while_changes_wait_gets_what_came_after_and_nobody_an_extra_frame(
    store: RedisStore, redis_client: Redis, event: EventFixture
) -> None:
    """Joining does not send the others what waits (a storm of reconnections would multiply their frames); the
    newcomer's snapshot has what waited, and its first frame holds only what came after."""
    first, second, third = await _approved(store, event.slug, "First?", "Second?", "Third?")
    feed, public, _ = await _feed(store, redis_client, event.slug)
    ids = []
    for qid in (first, second):
        await store.show(event.slug, qid)
        entries = await store.range_log(event.slug, feed.state.head, count=10)
        feed.publish(entries)
        ids += [entry.id for entry in entries]
    newcomer = Socket(Audience.PUBLIC)
    await feed.attach(newcomer.conn, "", "")
    assert newcomer.frames[0]["type"] == "snapshot" and newcomer.frames[0]["screen"] == second
    await store.transition(event.slug, third, Action.ANSWER, by="mod")
    entries = await store.range_log(event.slug, feed.state.head, count=10)
    feed.publish(entries)
    ids += [entry.id for entry in entries]
    assert public.messages[1:] == [["update"]]  # the first show, at once; nothing when the newcomer joined
    await asyncio.sleep(hub.AUDIENCE_EVERY_S * 1.5)
    assert [f["id"] for f in public.frames[1:]] == ids and public.messages[1:] == [["update"], ["update", "update"]]
    assert [f["id"] for f in newcomer.frames[1:]] == ids[2:] and newcomer.messages[1:] == [["update"]]


async def test_a_large_audience_gets_its_frame_a_chunk_at_a_time_and_the_next_frame_waits_for_the_last(
    store: RedisStore, redis_client: Redis, event: EventFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CHUNK participants get the frame at once, the rest over the next turns of the event loop (a moderator's
    frame goes meanwhile); a change that comes while the frame is handed out goes only after, to everyone in
    order."""
    monkeypatch.setattr(hub, "CHUNK", 2)
    a, b = await _approved(store, event.slug, "First?", "Second?")
    feed, first, moderator = await _feed(store, redis_client, event.slug)
    others = [Socket(Audience.PUBLIC) for _ in range(4)]
    for socket in others:
        await feed.attach(socket.conn, "", "")
    audience = [first, *others]
    await store.show(event.slug, a)
    feed.publish(await store.range_log(event.slug, feed.state.head, count=10))
    assert sum(len(s.frames) == 2 for s in audience) == 2  # a snapshot and the show: the first chunk only
    await store.show(event.slug, b)
    feed.publish(await store.range_log(event.slug, feed.state.head, count=10))
    assert [f["screen"] for f in moderator.frames[1:]] == [a, b]  # moderators never wait
    await asyncio.sleep(hub.AUDIENCE_EVERY_S * 2)
    for socket in audience:
        assert [f["screen"] for f in socket.frames[1:]] == [a, b]
