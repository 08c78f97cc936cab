"""A Hypothesis state machine drives the real Redis scripts and a pure reference model side by side.

After every step, the queue order, pins, tallies, statuses and screen read from Redis agree with the model,
and so does the state rebuilt by replaying the event log from its first entry.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings as hypothesis_settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from liveqa import operations
from liveqa.domain import errors
from liveqa.domain.rules import Action
from liveqa.domain.state import EventState
from liveqa.store import RedisStore, keys
from liveqa.store.redis import connect, parse_entry

T = TypeVar("T")
PIDS = ["p1", "p2", "p3"]
NO_LIMIT = (0, 1.0)

# The reference model's own table, written out independently of liveqa.domain.rules.
MOVES = {
    "approve": {"pending": "approved", "rejected": "approved", "archived": "approved"},
    "reject": {"pending": "rejected", "approved": "rejected"},
    "archive": {"pending": "archived", "approved": "archived", "answered": "archived", "rejected": "archived"},
    "restore": {"archived": "pending", "rejected": "pending", "approved": "pending"},
    "answer": {"approved": "answered", "pending": "answered"},
    "reopen": {"answered": "approved"},
}


@dataclass
class ModelQuestion:
    status: str = "pending"
    voters: set[str] = field(default_factory=set)
    asker: str = ""
    pinned: bool = False
    text: str = ""


class EventMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.client = connect(os.environ["LIVEQA_MODEL_REDIS_URL"])
        self.store = RedisStore(self.client)
        self.slug = f"m-{secrets.token_hex(5)}"
        self.run(operations.create_event(self.store, self.slug, "Model", password="a long password"))
        self.questions: dict[str, ModelQuestion] = {}
        self.queue: list[str] = []
        self.screen = ""

    def run(self, awaitable: Awaitable[T]) -> T:
        return self.loop.run_until_complete(awaitable)

    def teardown(self) -> None:
        self.run(self.store.delete_event(self.slug))
        self.run(self.client.aclose())
        self.loop.close()

    def qid(self, data: st.DataObject) -> str:
        if not self.questions or data.draw(st.integers(0, 9)) == 0:
            return "9999"  # sometimes a question that doesn't exist
        return data.draw(st.sampled_from(sorted(self.questions)))

    @rule(pid=st.sampled_from(PIDS), text=st.text(min_size=1, max_size=20).map(str.strip).filter(bool))
    def submit(self, pid: str, text: str) -> None:
        qid, _, stored, new = self.run(
            self.store.submit(self.slug, pid, uuid.uuid4().hex, text, ("A", "B", "KE"), (True,) * 3, rate=NO_LIMIT)
        )
        assert new and qid not in self.questions
        self.questions[qid] = ModelQuestion(text=stored, asker=pid)

    @rule(data=st.data(), action=st.sampled_from(sorted(MOVES)))
    def moderate(self, data: st.DataObject, action: str) -> None:
        qid = self.qid(data)
        question = self.questions.get(qid)
        target = MOVES[action].get(question.status) if question else None
        try:
            self.run(self.store.transition(self.slug, qid, Action(action), by="mod", reason="because"))
        except errors.UnknownQuestion:
            assert question is None
            return
        except errors.BadTransition:
            assert question is not None and target is None
            return
        assert question is not None and target is not None
        if target == "approved" and question.status != "approved":
            self.queue.append(qid)
        if question.status == "approved" and target != "approved":
            self.queue.remove(qid)
            question.pinned = False
            if self.screen == qid:
                self.screen = ""
        question.status = target

    @rule(data=st.data(), pid=st.sampled_from(PIDS), up=st.booleans())
    def vote(self, data: st.DataObject, pid: str, up: bool) -> None:
        qid = self.qid(data)
        question = self.questions.get(qid)
        try:
            self.run(self.store.vote(self.slug, pid, qid, up=up, rate=NO_LIMIT))
        except errors.UnknownQuestion:
            assert question is None
        except errors.NotVotable:
            assert question is not None and up and question.status != "approved"
        except errors.AlreadyVoted:  # voted before, or asked it: an asker supports their question once
            assert question is not None and (pid in question.voters or pid == question.asker)
        except errors.NotVoted:
            assert question is not None and pid not in question.voters
        else:
            assert question is not None
            if up:
                assert question.status == "approved" and pid not in question.voters and pid != question.asker
                question.voters.add(pid)
            else:
                question.voters.remove(pid)

    @rule(data=st.data(), before=st.booleans())
    def move(self, data: st.DataObject, before: bool) -> None:
        qid, other = self.qid(data), self.qid(data)
        try:
            moved = (
                self.store.move(self.slug, qid, before=other)
                if before
                else self.store.move(self.slug, qid, after=other)
            )
            self.run(moved)
        except errors.NotQueued:
            assert qid not in self.queue or other not in self.queue
            return
        if qid == other:
            return
        self.queue.remove(qid)
        at = self.queue.index(other)
        self.queue.insert(at if before else at + 1, qid)

    @rule(data=st.data(), pinned=st.booleans())
    def pin(self, data: st.DataObject, pinned: bool) -> None:
        qid = self.qid(data)
        try:
            self.run(self.store.pin(self.slug, qid, pinned=pinned, by="mod"))
        except (errors.UnknownQuestion, errors.NotQueued):
            assert qid not in self.queue
            return
        self.questions[qid].pinned = pinned
        if pinned:
            self.queue.remove(qid)
            self.queue.insert(0, qid)

    @rule(data=st.data(), clear=st.booleans())
    def screen_(self, data: st.DataObject, clear: bool) -> None:
        qid = "" if clear else self.qid(data)
        try:
            self.run(self.store.show(self.slug, qid))
        except errors.UnknownQuestion:
            assert qid not in self.questions
            return
        except errors.BadTransition:
            assert self.questions[qid].status not in ("approved", "answered")
            return
        self.screen = qid

    @invariant()
    def redis_agrees_with_the_model_and_the_log(self) -> None:
        state = self.run(self.store.load_state(self.slug))
        assert state.queue == self.queue
        assert state.screen == self.screen
        for qid, model in self.questions.items():
            stored = state.questions[qid]
            supporters = len(model.voters - {model.asker})  # besides the asker
            assert (str(stored.status), stored.votes, stored.pinned) == (model.status, supporters, model.pinned)
        raw: Any = self.run(self.client.xrange(keys.log(self.slug)))
        entries = [parse_entry(log_id, fields) for log_id, fields in raw]
        assert entries[0].event is not None
        replayed = EventState(entries[0].event, state.epoch, "0-0")
        for entry in entries:
            replayed.apply(entry)
        assert (replayed.questions, replayed.queue, replayed.screen) == (state.questions, state.queue, state.screen)


@pytest.mark.timeout(480)  # ~15 s alone; hundreds of Redis round trips per example stretch on a busy machine
def test_scripts_agree_with_the_reference_model(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVEQA_MODEL_REDIS_URL", redis_url)
    EventMachine.TestCase.settings = hypothesis_settings(
        max_examples=int(os.environ.get("LIVEQA_MODEL_EXAMPLES", "40")),
        stateful_step_count=30,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    EventMachine.TestCase().runTest()
