"""The Lua scripts' contracts against a real Redis: each mutation changes state and logs it, atomically."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis
from redis.asyncio.connection import Connection as RedisConnection

from liveqa.domain import errors
from liveqa.domain.model import Status
from liveqa.domain.rules import Action, transition
from liveqa.store import RedisStore, keys
from liveqa.store.redis import SESSION_ABSOLUTE_MS, SESSION_IDLE_S, Act, _unavailable, digest
from liveqa.store.scripts import ACTIONS, source
from tests.helpers import EventFixture

AUTHOR = ("Amina", "Voices of the Sahel", "NE")
SHOWN = (True, True, True)
NO_LIMIT = (0, 1.0)
CASES = [(status, action) for action in Action for status in Status if action is not Action.WITHDRAW]


async def _submit(store: RedisStore, slug: str, pid: str = "p1", text: str = "A question?") -> str:
    qid, _, _, _ = await store.submit(slug, pid, uuid.uuid4().hex, text, AUTHOR, SHOWN, rate=NO_LIMIT)
    return qid


async def _log_length(redis: Redis, slug: str) -> int:
    return int(await redis.xlen(keys.log(slug)))


@pytest.mark.parametrize(("status", "action"), CASES)
async def test_transition_script_follows_the_domain_table(
    store: RedisStore, redis_client: Redis, event: EventFixture, status: Status, action: Action
) -> None:
    """The script accepts exactly the moves the domain table allows, keeps the queue in step and logs once."""
    qid = await _submit(store, event.slug)
    await redis_client.hset(keys.question(event.slug, qid), "status", str(status))
    if status is Status.APPROVED:
        await redis_client.rpush(keys.queue(event.slug), qid)
        await store.show(event.slug, qid)
    before = await _log_length(redis_client, event.slug)
    try:
        expected: Status | None = transition(status, action)
    except errors.BadTransition:
        expected = None
    if expected is None:
        with pytest.raises(errors.BadTransition):
            await store.transition(event.slug, qid, action, by="mod", reason="why")
        assert await _log_length(redis_client, event.slug) == before
        return
    await store.transition(event.slug, qid, action, by="mod", reason="why")
    state = await store.load_state(event.slug)
    assert state.questions[qid].status is expected
    assert (qid in state.queue) is (expected is Status.APPROVED)
    assert state.questions[qid].reason == ("why" if expected is Status.REJECTED else "")
    if status is Status.APPROVED and expected is not Status.APPROVED:
        assert state.screen == ""
    assert await _log_length(redis_client, event.slug) == before + 1


async def test_every_mutation_is_logged_with_the_state_it_made(store: RedisStore, event: EventFixture) -> None:
    """Replaying the whole log from the start gives the same state as reading it (the log is the truth)."""
    from liveqa.domain.state import EventState
    from liveqa.store.redis import parse_entry

    qids = [await _submit(store, event.slug, f"p{i}") for i in range(4)]
    for qid in qids:
        await store.transition(event.slug, qid, Action.APPROVE, by="mod")
    await store.vote(event.slug, "p9", qids[1], up=True, rate=NO_LIMIT)
    await store.move(event.slug, qids[3], before=qids[0])
    await store.pin(event.slug, qids[2], pinned=True, by="mod")
    await store.show(event.slug, qids[1])
    await store.edit(event.slug, qids[0], "Edited", by="mod", owner="", editable=frozenset({"approved"}))
    await store.set_tags(event.slug, qids[0], ["x"], by="mod")
    await store.transition(event.slug, qids[1], Action.ANSWER, by="mod")
    await store.set_event(event.slug, open="0")

    read = await store.load_state(event.slug)
    raw: Any = await store.client.xrange(keys.log(event.slug))
    entries = [parse_entry(log_id, fields) for log_id, fields in raw]
    assert entries[0].event is not None
    replayed = EventState(entries[0].event, read.epoch, "0-0")
    for entry in entries:
        replayed.apply(entry)
    assert replayed.questions == read.questions
    assert replayed.queue == read.queue == [qids[2], qids[3], qids[0]]
    assert replayed.screen == read.screen == ""
    assert replayed.info == read.info and not read.info.open
    assert replayed.head == read.head


async def test_a_resubmission_returns_the_first_question(store: RedisStore, event: EventFixture) -> None:
    cid = uuid.uuid4().hex
    first = await store.submit(event.slug, "p1", cid, "Once", AUTHOR, SHOWN, rate=NO_LIMIT)
    again = await store.submit(event.slug, "p1", cid, "Once, edited in the outbox", AUTHOR, SHOWN, rate=NO_LIMIT)
    assert first[:3] == again[:3] and first[3] and not again[3]
    other = await store.submit(event.slug, "p2", cid, "Same cid, other person", AUTHOR, SHOWN, rate=NO_LIMIT)
    assert other[0] != first[0]


async def test_submission_rate_limit_holds_under_concurrency(store: RedisStore, event: EventFixture) -> None:
    """50 concurrent submissions from one participant with a burst of 5: exactly 5 are stored."""
    results = await asyncio.gather(
        *(
            store.submit(event.slug, "p1", uuid.uuid4().hex, f"Q{i}", AUTHOR, SHOWN, rate=(5, 5 / 60))
            for i in range(50)
        ),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 5
    limited = [r for r in results if isinstance(r, errors.RateLimited)]
    assert len(limited) == 45 and all(r.retry_after_ms > 0 for r in limited)


async def test_votes_count_once_per_participant_under_concurrency(store: RedisStore, event: EventFixture) -> None:
    """One participant voting 100 times at once counts once; 300 participants count 300."""
    qid = await _submit(store, event.slug)
    await store.transition(event.slug, qid, Action.APPROVE, by="mod")
    same = await asyncio.gather(
        *(store.vote(event.slug, "voter", qid, up=True, rate=NO_LIMIT) for _ in range(100)), return_exceptions=True
    )
    assert sum(not isinstance(r, BaseException) for r in same) == 1
    await asyncio.gather(*(store.vote(event.slug, f"v{i}", qid, up=True, rate=NO_LIMIT) for i in range(299)))
    assert (await store.load_state(event.slug)).questions[qid].votes == 300


async def test_votes_arriving_together_go_in_one_call_with_one_entry_per_question(
    store: RedisStore, redis_client: Redis, event: EventFixture
) -> None:
    """A burst of votes for two questions writes two log entries with the final tallies; each vote hears its own
    outcome (refusals included) and its question's entry id."""
    first, second = await _submit(store, event.slug), await _submit(store, event.slug)
    pending = await _submit(store, event.slug)
    for qid in (first, second):
        await store.transition(event.slug, qid, Action.APPROVE, by="mod")
    await store.vote(event.slug, "early", second, up=True, rate=NO_LIMIT)
    before = await _log_length(redis_client, event.slug)
    votes = [(f"v{i}", first, True) for i in range(20)] + [(f"w{i}", second, True) for i in range(10)]
    votes += [("early", second, False), ("v1", first, True), ("p1", first, True), ("x", pending, True)]
    votes += [("x", "4242", True), ("never", second, False)]
    results = await asyncio.gather(
        *(store.vote(event.slug, pid, qid, up=up, rate=NO_LIMIT) for pid, qid, up in votes), return_exceptions=True
    )
    assert await _log_length(redis_client, event.slug) == before + 2
    entries = await store.range_log(event.slug, "0-0", count=1000)
    tallies = {e.votes[0]: (e.id, e.votes[1]) for e in entries[-2:] if e.votes is not None}
    assert tallies == {first: (tallies[first][0], 20), second: (tallies[second][0], 10)}
    assert results[:20] == [tallies[first][0]] * 20
    assert results[20:31] == [tallies[second][0]] * 11  # the early vote taken back is in the same entry
    refused = [type(r) for r in results[31:]]
    assert refused == [
        errors.AlreadyVoted,  # v1 twice
        errors.AlreadyVoted,  # the asker (p1) supports their own question already
        errors.NotVotable,  # pending
        errors.UnknownQuestion,
        errors.NotVoted,
    ]
    state = await store.load_state(event.slug)
    assert (state.questions[first].votes, state.questions[second].votes) == (20, 10)


async def test_participants_joining_together_are_made_in_one_call_each_within_its_addresss_limit(
    store: RedisStore, redis_client: Redis, event: EventFixture
) -> None:
    """Ten joins at once from one address with a burst of 5, and three from another: five and three identities,
    each token naming its own participant; the other five are refused with a wait."""
    results = await asyncio.gather(
        *(store.new_participant(event.slug, "10.0.0.1", rate=(5, 0.01)) for _ in range(10)),
        *(store.new_participant(event.slug, "10.0.0.2", rate=(5, 0.01)) for _ in range(3)),
        return_exceptions=True,
    )
    made = [r for r in results if isinstance(r, tuple)]
    refused = [r for r in results if isinstance(r, errors.RateLimited)]
    assert len(made) == 8 and len(refused) == 5 and all(r.retry_after_ms > 0 for r in refused)
    assert all(isinstance(r, tuple) for r in results[10:])  # the other address had its own bucket
    for pid, token in made:
        assert await store.participant(event.slug, token) == pid
    assert len({pid for pid, _ in made}) == 8
    assert await redis_client.hlen(keys.participant_tokens(event.slug)) == 8


async def test_moves_keep_every_question_once(store: RedisStore, event: EventFixture) -> None:
    """Concurrent conflicting moves serialise: the queue stays a permutation of the approved questions."""
    qids = [await _submit(store, event.slug) for _ in range(6)]
    for qid in qids:
        await store.transition(event.slug, qid, Action.APPROVE, by="mod")
    moves = [(a, b) for a in qids for b in qids if a != b]
    await asyncio.gather(*(store.move(event.slug, a, before=b) for a, b in moves))
    queue = (await store.load_state(event.slug)).queue
    assert sorted(queue) == sorted(qids)
    with pytest.raises(errors.NotQueued):
        await store.move(event.slug, await _submit(store, event.slug), before=qids[0])


async def test_only_shown_statuses_reach_the_screen(store: RedisStore, event: EventFixture) -> None:
    qid = await _submit(store, event.slug)
    with pytest.raises(errors.BadTransition):
        await store.show(event.slug, qid)
    with pytest.raises(errors.UnknownQuestion):
        await store.show(event.slug, "4242")
    await store.transition(event.slug, qid, Action.APPROVE, by="mod")
    assert await store.show(event.slug, qid)
    assert await store.show(event.slug, qid) == ""  # nothing changed, nothing logged


@pytest.mark.parametrize("name", ACTIONS)
async def test_every_action_script_compiles_wrapped_as_a_moderators_action(redis_client: Redis, name: str) -> None:
    """A Lua error shows only when a script is loaded: load each wrapped variant (the plain ones load at start)."""
    assert await redis_client.script_load(source(name, acting=True))


async def test_a_moderators_action_checks_the_session_and_writes_the_audit_entry_in_one_script(
    store: RedisStore, redis_client: Redis, event: EventFixture
) -> None:
    """The session is extended by the action; the audit entry is written with the change, and only with one; a
    session that ended (logged out, or past its lifetime) does nothing."""
    qid = await _submit(store, event.slug)
    sid = await store.create_session(event.slug, "Ana")
    session_key = keys.session(event.slug, digest(sid))
    await redis_client.expire(session_key, 5)

    def act(action: str) -> Act:
        return Act(event.slug, sid, "Ana", action, {"qid": qid, "status_before": "pending", "reason": ""})

    assert await store.transition(event.slug, qid, Action.APPROVE, by="Ana", act=act("approve"))
    assert await redis_client.ttl(session_key) > SESSION_IDLE_S - 5
    assert await store.show(event.slug, qid, act=act("show"))
    assert await store.show(event.slug, qid, act=act("show")) == ""  # nothing changed: nothing to audit
    entries = await store.audit_log(event.slug)
    assert [(e["who"], e["action"]) for e in entries[1:]] == [("Ana", "approve"), ("Ana", "show")]
    assert entries[1]["qid"] == qid and entries[1]["status_before"] == "pending" and "reason" not in entries[1]

    logged, audited = await _log_length(redis_client, event.slug), len(entries)
    await store.end_session(event.slug, sid)
    with pytest.raises(errors.SessionEnded):
        await store.transition(event.slug, qid, Action.ANSWER, by="Ana", act=act("answer"))
    old = await store.create_session(event.slug, "Ana")
    old_key = keys.session(event.slug, digest(old))
    created = int(time.time() * 1000) - SESSION_ABSOLUTE_MS - 1000
    await redis_client.set(old_key, json.dumps({"name": "Ana", "role": "moderator", "created": created}), ex=60)
    with pytest.raises(errors.SessionEnded):
        await store.transition(event.slug, qid, Action.ANSWER, by="Ana", act=Act(event.slug, old, "Ana", "answer", {}))
    assert not await redis_client.exists(old_key)
    assert (await store.load_state(event.slug)).questions[qid].status is Status.APPROVED
    assert await _log_length(redis_client, event.slug) == logged
    assert len(await store.audit_log(event.slug)) == audited


async def test_a_request_sent_again_gets_its_first_reply_and_changes_nothing(
    store: RedisStore, redis_client: Redis, event: EventFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """redis-py sends a command again when its connection was lost (a cluster client also when it timed out), and
    the first may have run (S8: a whole batch of 256 votes answered `already_voted`). A batch of votes or a
    moderator's action sent again (same request key) is answered as the first time and changes nothing more."""
    qid = await _submit(store, event.slug)
    sid = await store.create_session(event.slug, "Ana")
    act = Act(event.slug, sid, "Ana", "approve", {"qid": qid})

    def resent(token: str) -> None:  # every request from here carries this key, as a resent command does
        monkeypatch.setattr("liveqa.store.redis.secrets.token_hex", lambda _: token)

    resent("a1")
    first = await store.transition(event.slug, qid, Action.APPROVE, by="Ana", act=act)
    logged, audited = await _log_length(redis_client, event.slug), len(await store.audit_log(event.slug))
    assert await store.transition(event.slug, qid, Action.APPROVE, by="Ana", act=act) == first
    resent("b2")
    voted = await store.vote(event.slug, "p2", qid, up=True, rate=NO_LIMIT)
    assert await store.vote(event.slug, "p2", qid, up=True, rate=NO_LIMIT) == voted
    assert await _log_length(redis_client, event.slug) == logged + 1  # the tally's entry, once
    assert len(await store.audit_log(event.slug)) == audited
    assert (await store.load_state(event.slug)).questions[qid].votes == 1
    assert 0 < await redis_client.pttl(keys.request(event.slug, "b2")) <= 10_000
    resent("c3")  # a new request: the rules apply
    with pytest.raises(errors.AlreadyVoted):
        await store.vote(event.slug, "p2", qid, up=True, rate=NO_LIMIT)
    resent("d4")
    with pytest.raises(errors.BadTransition):
        await store.transition(event.slug, qid, Action.APPROVE, by="Ana", act=act)


@pytest.mark.parametrize("flushed", [False, True])
async def test_moderators_actions_arriving_together_go_in_one_pipeline_in_order(
    store: RedisStore, redis_client: Redis, event: EventFixture, flushed: bool
) -> None:
    """Actions that arrive together go to Redis in one pipeline, in order, each answered (a refused one among them
    too). A Redis that lost its scripts (`flushed`: as after a restart) refuses them NOSCRIPT in the pipeline;
    they are sent again one at a time, still in order, none done twice. (The same on a cluster: test_cluster.py.)"""
    qids = [await _submit(store, event.slug, text=f"Question {i}?") for i in range(12)]
    sid = await store.create_session(event.slug, "Ana")

    def approve(qid: str) -> Any:
        act = Act(event.slug, sid, "Ana", "approve", {"qid": qid})
        return store.transition(event.slug, qid, Action.APPROVE, by="Ana", act=act)

    await approve(qids[0])
    if flushed:
        await redis_client.script_flush()
    batches = REGISTRY.get_sample_value("liveqa_batch_size_count", {"operation": "actions"}) or 0
    results = await asyncio.gather(*(approve(q) for q in [*qids[1:6], "99999", *qids[6:]]), return_exceptions=True)
    assert [type(r) for r in results].count(errors.UnknownQuestion) == 1
    assert all(isinstance(r, str) and r for r in results[:5] + results[6:])
    assert (REGISTRY.get_sample_value("liveqa_batch_size_count", {"operation": "actions"}) or 0) - batches < 4
    assert (await store.load_state(event.slug)).queue == qids
    assert [e.get("qid") for e in await store.audit_log(event.slug) if e["action"] == "approve"] == qids


async def test_a_write_on_a_connection_closed_under_it_is_unavailable_not_a_bug() -> None:
    """redis-py lets a write on a connection the event loop just closed fail with the transport's own error
    (redis/redis-py#4287; seen as `internal_error` on votes in S8): it is the store not answering, to retry. The
    same error raised anywhere else is still a bug."""
    connection = RedisConnection()  # never connected: its writer is None, as after the race
    with pytest.raises(AttributeError) as raised:
        await connection._send_packed_command([b"PING"])
    assert isinstance(_unavailable(raised.value), errors.Unavailable)
    with pytest.raises(AttributeError) as elsewhere:
        None.writelines  # type: ignore[attr-defined]  # noqa: B018
    assert _unavailable(elsewhere.value) is None


async def test_every_key_of_an_event_shares_its_hash_tag(
    store: RedisStore, redis_client: Redis, event: EventFixture
) -> None:
    """So that each script touches one slot, and the code runs on Redis Cluster."""
    qid = await _submit(store, event.slug)
    await store.transition(event.slug, qid, Action.APPROVE, by="mod")
    await store.vote(event.slug, "p2", qid, up=True, rate=(5, 1.0))
    await store.new_participant(event.slug, "127.0.0.1", rate=(5, 1.0))
    await store.create_session(event.slug, "mod")
    found = [key async for key in redis_client.scan_iter(match=f"*{event.slug}*")]
    assert len(found) >= 10
    assert all(key.startswith(f"liveqa:{{{event.slug}}}:") for key in found)


async def test_unknown_event(store: RedisStore) -> None:
    with pytest.raises(errors.UnknownEvent):
        await store.load_state("no-such-event")
    with pytest.raises(errors.UnknownEvent):
        await store.submit("no-such-event", "p", uuid.uuid4().hex, "x", AUTHOR, SHOWN, rate=NO_LIMIT)
