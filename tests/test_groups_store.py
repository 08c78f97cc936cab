"""Groups at the store: the rules the Lua scripts keep when questions are merged, voted, withdrawn, pinned or
shown (found in review; each was a way to lose a question from the queue or a vote from its voter)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from liveqa import operations, submissions
from liveqa.domain import errors, screening
from liveqa.domain.model import Moderation
from liveqa.domain.rules import Action
from liveqa.store import RedisStore
from tests.conftest import MODERATOR_PASSWORD


@pytest.fixture
async def post(store: RedisStore) -> AsyncIterator[str]:
    """A post-moderated event: questions are public at once unless a word list holds them."""
    slug = "groups-store"
    await operations.create_event(store, slug, "Groups", password=MODERATOR_PASSWORD, moderation=Moderation.POST)
    yield slug
    await store.delete_event(slug)


async def _ask(store: RedisStore, slug: str, pid: str, text: str, words: str = "") -> str:
    info = await store.event_info(slug)
    assert info is not None
    draft = submissions.Draft(cid=f"{pid}-{abs(hash(text)):012d}", text=text, name="A", organisation="B", country="NE")
    listed = screening.WordList.of((words,)) if words else screening.load("")
    return (await submissions.submit(store, info, listed, pid, draft, rate=(0, 1.0))).qid


async def test_an_approved_question_is_not_merged_out_of_the_queue_into_a_held_one(
    store: RedisStore, post: str
) -> None:
    held = await _ask(store, post, "p1", "Is the bribery inquiry public?", words="bribery")
    public = await _ask(store, post, "p2", "Is the bribery inquiry public?")
    assert await store.group(post, held, 0, "new", "", 0.0) == "new"
    assert await store.group(post, public, 1, "merge", held, 1.0) == "suggest"
    state = await store.load_state(post)
    assert state.questions[public].group == "" and state.queue == [public]


async def test_a_withdrawn_head_gives_the_queue_back_its_approved_member(store: RedisStore, post: str) -> None:
    held = await _ask(store, post, "p1", "Who audits the fund?", words="audits")
    public = await _ask(store, post, "p2", "Who checks the fund's accounts?")
    await store.merge(post, public, held, by="Mod")  # a moderator's choice: the queue loses it meanwhile
    assert (await store.load_state(post)).queue == []
    await store.transition(post, held, Action.WITHDRAW, by="", owner="p1")
    state = await store.load_state(post)
    assert state.questions[public].group == "" and state.queue == [public]


async def test_a_vote_given_before_a_merge_can_be_taken_back(store: RedisStore, post: str) -> None:
    first = await _ask(store, post, "p1", "When is the next review?")
    second = await _ask(store, post, "p2", "When will the next review be?")
    assert await store.vote(post, "voter", second, up=True, rate=(0, 1.0))
    await store.merge(post, second, first, by="Mod")
    assert (await store.load_state(post)).questions[first].votes == 2  # p2 asked, voter voted
    with pytest.raises(errors.AlreadyVoted):
        await store.vote(post, "voter", first, up=True, rate=(0, 1.0))
    await store.vote(post, "voter", first, up=False, rate=(0, 1.0))
    assert (await store.load_state(post)).questions[first].votes == 1
    with pytest.raises(errors.NotVoted):
        await store.vote(post, "voter", first, up=False, rate=(0, 1.0))


async def test_a_merged_question_is_neither_pinned_nor_shown(store: RedisStore, post: str) -> None:
    first = await _ask(store, post, "p1", "Will observers attend?")
    second = await _ask(store, post, "p2", "Can observers attend?")
    await store.merge(post, second, first, by="Mod")
    with pytest.raises(errors.NotQueued):
        await store.pin(post, second, pinned=True, by="Mod")
    with pytest.raises(errors.BadTransition, match="merged"):
        await store.show(post, second)
    assert (await store.load_state(post)).queue == [first]


async def test_a_member_moved_to_another_group_never_looks_public_on_the_way(store: RedisStore, post: str) -> None:
    """Moving a merged question into another group is one log entry: the question, its new head, and the old head
    with one supporter fewer; no entry shows the question on its own."""
    from liveqa.store import keys

    first = await _ask(store, post, "p1", "Is the budget public?")
    second = await _ask(store, post, "p2", "Will the budget be published?")
    third = await _ask(store, post, "p3", "Where can we read the budget?")
    await store.merge(post, third, first, by="Mod")
    head_before = (await store.load_state(post)).head
    await store.merge(post, third, second, by="Mod")
    entries = await store.range_log(post, head_before, count=10)
    assert len(entries) == 1
    entry = entries[0]
    assert entry.question is not None and entry.question.group == second
    assert entry.group is not None and entry.group.id == second and entry.group.votes == 1
    assert [(q.id, q.votes) for q in entry.also] == [(first, 0)]
    assert await store.client.scard(keys.members(post, first)) == 0
