"""Duplicate grouping end to end: automatic merges and suggestions, moderators' merge and unmerge with replay,
supporters counted once, participants' similar-question hints, and one group when two processes race."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import numpy as np
import pytest
from click.testing import CliRunner
from redis import Redis as SyncRedis

from liveqa import operations, submissions
from liveqa.cli import main
from liveqa.dedup import Embedder, Index, default_embedder
from liveqa.dedup.semantic import DIM, MODEL_ID, Matrix
from liveqa.domain import screening
from liveqa.domain.model import EventInfo
from liveqa.grouping import Grouping
from liveqa.store import RedisStore, keys
from liveqa.store.redis import connect
from tests.conftest import MODERATOR_PASSWORD
from tests.helpers import Client, EventFixture, login, moderator
from tests.processes import ServerProcess
from tests.view_model import ClientView

SUDAN = "What will the Security Council do about the humanitarian situation in Sudan?"
SUDAN_AGAIN = "What will the Security Council do regarding the humanitarian situation in Sudan?"
SUDAN_AR = "ماذا سيفعل مجلس الأمن بشأن الوضع الإنساني في السودان؟"
CIVIL_SOCIETY = "How can civil society organisations take part in the Council's work?"
EXTEND = "Will the Council extend the sanctions on Mali?"
LIFT = "Will the Council lift the sanctions on Mali?"


async def _approved(asker: Client, mod: Client, text: str) -> str:
    qid: str = (await asker.submit(text))["qid"]
    await mod.expect("update", question__id=qid)
    assert (await mod.act("approve", qid=qid))["type"] == "done"
    return qid


async def test_a_paraphrase_is_merged_and_its_asker_supports_once(server: str, event: EventFixture) -> None:
    """A repeat in other words (and in Arabic) joins the first question: the group's supporters are the distinct
    participants who asked or voted, its askers see where their question went, voting twice is refused."""
    first, second, third, voter = [await Client.open(server, event.slug) for _ in range(4)]
    mod = await moderator(server, event)
    head = await _approved(first, mod, SUDAN)

    member = (await second.submit(SUDAN_AGAIN))["qid"]
    merged = await mod.expect("update", question__id=member, question__group=head, timeout=10)
    assert merged["group"]["id"] == head and merged["group"]["votes"] == 1
    assert (await second.expect("own", question__id=member, question__group=head))["question"]["status"] == "pending"
    assert (await voter.expect("update", group__id=head, group__votes=1))["group"]["status"] == "approved"

    arabic = (await third.submit(SUDAN_AR))["qid"]
    await mod.expect("update", question__id=arabic, question__group=head, group__votes=2, timeout=10)

    for already in (first, second, third):  # each asked one of the group's questions
        await already.send("upvote", qid=head)
        assert (await already.expect("error", qid=head))["code"] == "already_voted"
    await voter.send("upvote", qid=member)  # a vote for a merged question counts for its group
    assert (await mod.expect("votes"))["votes"] == {head: 3}
    await voter.send("upvote", qid=head)
    assert (await voter.expect("error", qid=head))["code"] == "already_voted"
    snapshot = await (await Client.open(server, event.slug)).expect("snapshot")
    assert [q["id"] for q in snapshot["questions"]] == [head]  # merged questions are not listed on their own


async def test_opposite_asks_are_suggested_not_merged(server: str, event: EventFixture) -> None:
    """Extending and lifting sanctions read alike but ask opposite things: moderators get a suggestion."""
    asker = await Client.open(server, event.slug)
    mod = await moderator(server, event)
    extend = await _approved(asker, mod, EXTEND)
    lift = (await asker.submit(LIFT))["qid"]
    suggested = await mod.expect("update", question__id=lift, question__similar=extend, timeout=10)
    assert suggested["question"]["group"] == "" and 0.3 <= suggested["question"]["similarity"] < 1
    other = (await asker.submit(CIVIL_SOCIETY))["qid"]
    await mod.expect("update", question__id=other, question__status="pending")
    await asyncio.sleep(0.5)
    frames = [f for f in await mod.drain() if f.get("question", {}).get("id") == other]
    assert all(not f["question"]["similar"] and not f["question"]["group"] for f in frames)
    assert (await mod.act("distinct", qid=lift))["type"] == "done"
    assert (await mod.expect("update", question__id=lift))["question"]["similar"] == ""


async def test_moderators_merge_and_unmerge_and_a_console_resumes_across_both(server: str, event: EventFixture) -> None:
    """Merging takes a question out of the queue into another's group; unmerging brings it back with its own
    supporters. A console that was away replays both and holds what a fresh snapshot shows."""
    asker, voter = await Client.open(server, event.slug), await Client.open(server, event.slug)
    mod = await moderator(server, event)
    a = await _approved(asker, mod, CIVIL_SOCIETY)
    b = await _approved(voter, mod, EXTEND)
    await asker.send("upvote", qid=b)
    await mod.expect("votes", votes={b: 1})
    away = await moderator(server, event, "Away")
    view = ClientView().apply_all(await away.drain())
    view.apply_all([f for f in away.frames if f["type"] == "snapshot"])
    epoch, last_id = away.epoch, away.last_id
    await away.close()

    assert (await mod.act("merge", qid=b, into=a))["type"] == "done"
    merged = await mod.expect("update", question__id=b, question__group=a)
    assert merged["queue"] == [a] and merged["group"]["votes"] == 1  # the voter who asked b; asker counted once
    assert (await mod.act("merge", qid=a, into=b))["code"] == "bad_transition"
    assert (await mod.act("unmerge", qid=b))["type"] == "done"
    split = await mod.expect("update", question__id=b, question__group="", group__id=a)
    assert split["queue"] == [a, b] and split["group"]["votes"] == 0 and split["question"]["votes"] == 1
    assert (await mod.act("merge", qid=a, into=b))["type"] == "done"
    await mod.expect("update", question__id=a, question__group=b)

    back = await Client.open(
        server,
        event.slug,
        "moderator",
        sid=await login(server, event.slug, event.password),
        epoch=epoch,
        last_id=last_id,
    )
    await back.expect("resumed")
    replayed = await back.drain()
    fresh = await moderator(server, event, "Fresh")
    reference = ClientView().apply_all([f for f in fresh.frames if f["type"] == "snapshot"])
    resumed = ClientView()
    resumed.questions, resumed.queue = {q: dict(v) for q, v in view.questions.items()}, list(view.queue)
    resumed.apply_all(replayed)
    assert resumed.queue == reference.queue == [b]
    assert {q: (v["group"], v["votes"]) for q, v in resumed.questions.items()} == {
        q: (v["group"], v["votes"]) for q, v in reference.questions.items()
    }
    assert reference.questions[a]["group"] == b and reference.questions[b]["votes"] == 1


async def test_hints_show_only_what_the_participant_may_see(server: str, event: EventFixture) -> None:
    """Similar questions while typing: approved ones only, one per group, never a pending question."""
    asker, typist = await Client.open(server, event.slug), await Client.open(server, event.slug)
    mod = await moderator(server, event)
    pending = (await asker.submit(SUDAN))["qid"]
    await mod.expect("update", question__id=pending)
    await typist.send("similar", text=SUDAN_AGAIN, ref="1")
    assert (await typist.expect("similar", ref="1"))["questions"] == []
    await mod.act("approve", qid=pending)
    await typist.expect("update", question__id=pending, question__status="approved")
    await asyncio.sleep(0.2)  # the index follows the log
    await typist.send("similar", text="Sudan humanitarian situation: what will the Council do?", ref="2")
    found = (await typist.expect("similar", ref="2"))["questions"]
    assert [q["id"] for q in found] == [pending] and found[0]["text"] == SUDAN
    await typist.send("similar", text="When is the next open debate on climate?", ref="3")
    assert (await typist.expect("similar", ref="3"))["questions"] == []
    for n in range(12):  # an embedding each: a few a second per socket
        await typist.send("similar", text=f"question {n}", ref=f"r{n}")
    assert (await typist.expect("error", code="rate_limited"))["retry_after_ms"] > 0


PAIRS = [
    (SUDAN, SUDAN_AGAIN),
    ("How will the Council protect civilians in Sudan?", "How is the Council going to protect civilians in Sudan?"),
    ("What will the Council do about famine in Gaza?", "Que va faire le Conseil contre la famine à Gaza ?"),
    (CIVIL_SOCIETY, "How can civil society organisations take part in the Council's work"),
]


async def test_paraphrases_sent_at_once_to_two_processes_make_one_group(
    two_servers: tuple[ServerProcess, ServerProcess], event: EventFixture
) -> None:
    """Each pair is sent at the same moment, one question to each process: every pair ends as one group."""
    a, b = two_servers
    on_a, on_b = await Client.open(a.url, event.slug), await Client.open(b.url, event.slug)
    mod = await moderator(a.url, event)
    qids: list[tuple[str, str]] = []
    for left, right in PAIRS:
        acks = await asyncio.gather(on_a.submit(left), on_b.submit(right))
        qids.append((acks[0]["qid"], acks[1]["qid"]))
    for x, y in qids:
        later = max(x, y, key=int)
        await mod.expect("update", question__id=later, question__group=min(x, y, key=int), timeout=20)
    other = await moderator(b.url, event, "Other")
    final = ClientView().apply_all(other.frames)
    heads = {q["id"] for q in final.questions.values() if not q["group"]}
    assert heads == {min(pair, key=int) for pair in qids}


class Refusing:
    """An embedder that must not be called: the index is rebuilt from stored vectors."""

    model_id = MODEL_ID
    dim = DIM

    def encode(self, texts: Sequence[str]) -> Matrix:
        raise AssertionError(f"recomputed {len(texts)} embeddings")


class Counting:
    """The server's embedder, counting the texts it is asked to embed."""

    def __init__(self) -> None:
        self._model = default_embedder()
        self.model_id = self._model.model_id
        self.dim = self._model.dim
        self.texts: list[str] = []

    def encode(self, texts: Sequence[str]) -> Matrix:
        self.texts.extend(texts)
        return self._model.encode(texts)


async def _until(check: Callable[[], bool], timeout: float = 15.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.05)


async def test_only_the_lease_holder_embeds_and_a_restarted_process_computes_nothing(
    store: RedisStore, event: EventFixture
) -> None:
    """Submitting embeds nothing. Of two processes with the event open, the one holding the grouping lease embeds
    each new question once and stores the vector; the other indexes it from Redis; a process started later
    rebuilds its index from the stored vectors alone."""
    info = await store.event_info(event.slug)
    assert info is not None
    for n, text in enumerate((SUDAN, CIVIL_SOCIETY, EXTEND)):
        draft = submissions.Draft(
            cid=f"rebuild-{n:04d}", text=text, name="Amina", organisation="Voices of the Sahel", country="NE"
        )
        await submissions.submit(store, info, screening.load(""), f"p{n}", draft, rate=(0, 1.0))
    assert await store.client.hlen(keys.vectors(event.slug)) == 0
    models = [Counting(), Counting()]
    processes = [Grouping(event.slug, store, model, owner=f"process-{n}") for n, model in enumerate(models)]
    for process in processes:
        await process.start(await store.load_state(event.slug))
    try:
        indexes = [p.index for p in processes]
        await _until(lambda: all(isinstance(i, Index) and len(i) == 3 for i in indexes))
        assert await store.grouped(event.slug) == 3
        assert sorted(text for model in models for text in model.texts) == sorted((SUDAN, CIVIL_SOCIETY, EXTEND))
        assert await store.client.hlen(keys.vectors(event.slug)) == 3
    finally:
        for process in processes:
            await process.stop()
    refusing: Embedder = Refusing()
    grouping = Grouping(event.slug, store, refusing)
    await grouping.start(await store.load_state(event.slug))
    try:
        index = grouping.index
        assert isinstance(index, Index) and len(index) == 3
        vector = index.vector("1")
        assert vector.shape == (DIM,) and abs(float(np.linalg.norm(vector)) - 1) < 1e-3
    finally:
        await grouping.stop()


async def test_a_holder_that_loses_the_lease_while_embedding_stops(
    store: RedisStore, event: EventFixture, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Embedding an old event's questions takes longer than the lease lasts: the holder renews it after each batch,
    and stops (deciding nothing) when another process has taken it meanwhile."""
    info = await store.event_info(event.slug)
    assert info is not None
    for n, text in enumerate((SUDAN, CIVIL_SOCIETY, EXTEND)):
        draft = submissions.Draft(cid=f"lost-{n:04d}", text=text, name="Amina", organisation="Voices", country="NE")
        await submissions.submit(store, info, screening.load(""), f"p{n}", draft, rate=(0, 1.0))
    monkeypatch.setattr("liveqa.grouping.EMBED_BATCH", 1)
    other = SyncRedis.from_url(redis_url)

    class TakenAway(Counting):
        def encode(self, texts: Sequence[str]) -> Matrix:
            other.set(keys.grouper(event.slug), "another process", px=10_000)  # while this batch is embedded
            return super().encode(texts)

    model = TakenAway()
    grouping = Grouping(event.slug, store, model, owner="this process")
    await grouping.start(await store.load_state(event.slug))
    try:
        await _until(lambda: len(model.texts) == 1)
        await asyncio.sleep(0.5)
        assert len(model.texts) == 1 and await store.grouped(event.slug) == 0
        assert await store.client.hlen(keys.vectors(event.slug)) == 1
    finally:
        await grouping.stop()
        other.close()


async def test_a_decision_on_a_stale_view_is_refused(store: RedisStore) -> None:
    """group.lua takes decisions in question order: one made before another process moved on is refused."""
    slug = "stale-decisions"
    await operations.create_event(store, slug, "Stale", password=MODERATOR_PASSWORD)
    try:
        info = await store.event_info(slug)
        assert info is not None
        for n, text in enumerate((SUDAN, SUDAN_AGAIN)):
            draft = submissions.Draft(
                cid=f"stale-{n:06d}", text=text, name="Amina", organisation="Voices of the Sahel", country="NE"
            )
            await submissions.submit(store, info, screening.load(""), f"p{n}", draft, rate=(0, 1.0))
        assert await store.group(slug, "1", 0, "new", "", 0.0) == "new"
        assert await store.group(slug, "1", 0, "new", "", 0.0) is None  # decided already
        assert await store.group(slug, "2", 1, "merge", "1", 0.8) == "merge"
        assert await store.grouped(slug) == 2
        state = await store.load_state(slug)
        assert state.questions["2"].group == "1" and [q.id for q in state.members("1")] == ["2"]
    finally:
        await store.delete_event(slug)


def test_ranking_weights_from_the_command_line_and_the_api(redis_url: str) -> None:
    """`liveqa event ranking` shows and sets the weights; a bad one is refused; the event keeps them."""
    runner = CliRunner()
    args = ["--redis-url", redis_url]
    runner.invoke(main, ["event", "create", "weights", "--title", "T", "--password", "a long password", *args])
    try:
        shown = runner.invoke(main, ["event", "ranking", "weights", *args])
        assert shown.exit_code == 0 and "organisation  0.5" in shown.output, shown.output
        done = runner.invoke(main, ["event", "ranking", "weights", "--organisation", "2", "--region", "0", *args])
        assert done.exit_code == 0 and "organisation  2" in done.output and "region        0" in done.output
        bad = runner.invoke(main, ["event", "ranking", "weights", "--votes", "-1", *args])
        assert bad.exit_code != 0 and "bad weight" in bad.output

        async def read() -> EventInfo | None:
            client = connect(redis_url)
            try:
                return await RedisStore(client).event_info("weights")
            finally:
                await client.aclose()

        info = asyncio.run(read())
        assert info is not None and info.ranking.organisation == 2 and info.ranking.votes == 1
    finally:
        runner.invoke(main, ["event", "delete", "weights", "--yes", *args])


SUDAN_GAZA = {  # the same question about two places, in the six UN languages
    "en": (SUDAN, "What will the Security Council do about the humanitarian situation in Gaza?"),
    "fr": (
        "Que va faire le Conseil de sécurité face à la situation humanitaire au Soudan ?",
        "Que va faire le Conseil de sécurité face à la situation humanitaire à Gaza ?",
    ),
    "es": (
        "¿Qué hará el Consejo de Seguridad sobre la situación humanitaria en Sudán?",
        "¿Qué hará el Consejo de Seguridad sobre la situación humanitaria en Gaza?",
    ),
    "ar": (SUDAN_AR, "ماذا سيفعل مجلس الأمن بشأن الوضع الإنساني في غزة؟"),
    "ru": (
        "Что Совет Безопасности сделает в связи с гуманитарной ситуацией в Судане?",
        "Что Совет Безопасности сделает в связи с гуманитарной ситуацией в Газе?",
    ),
    "zh": ("安全理事会将如何应对苏丹的人道主义局势？", "安全理事会将如何应对加沙的人道主义局势？"),
}


async def test_the_same_question_about_two_places_makes_two_groups_in_six_languages(
    server: str, event: EventFixture
) -> None:
    """Sent by twelve participants, the Sudan question in six languages is one group and the Gaza question another;
    the first Gaza question is only suggested as a duplicate of the Sudan one, never merged into it."""
    mod = await moderator(server, event)
    sudan: list[str] = []
    gaza: list[str] = []
    for texts, ids in (([s for s, _ in SUDAN_GAZA.values()], sudan), ([g for _, g in SUDAN_GAZA.values()], gaza)):
        for text in texts:
            asker = await Client.open(server, event.slug)
            ids.append((await asker.submit(text))["qid"])
    for qid in [*sudan[1:], *gaza[1:]]:
        await mod.expect("update", question__id=qid, question__group=sudan[0] if qid in sudan else gaza[0], timeout=10)
    first_gaza = await mod.expect("update", question__id=gaza[0], question__similar=sudan[0], timeout=10)
    assert first_gaza["question"]["group"] == ""
    final = ClientView().apply_all((await moderator(server, event, "Other")).frames)
    assert {q["id"]: q["group"] for q in final.questions.values()} == {
        **{qid: "" if qid == sudan[0] else sudan[0] for qid in sudan},
        **{qid: "" if qid == gaza[0] else gaza[0] for qid in gaza},
    }
    assert final.questions[sudan[0]]["votes"] == 5 and final.questions[gaza[0]]["votes"] == 5


async def test_a_withdrawn_question_leaves_its_group_and_a_withdrawn_head_hands_it_on(
    server: str, event: EventFixture
) -> None:
    """Its asker no longer supports a withdrawn question: a member leaves the group (one supporter fewer); a head
    withdrawn while pending hands the group to its oldest member, with the others."""
    mod = await moderator(server, event)
    askers = [await Client.open(server, event.slug) for _ in range(4)]
    head = (await askers[0].submit(SUDAN))["qid"]
    members = [
        (await a.submit(text))["qid"]
        for a, text in zip(askers[1:], (SUDAN_AGAIN, SUDAN_AR, SUDAN.lower()), strict=True)
    ]
    merged = [await mod.expect("update", question__id=qid, question__group=head, timeout=10) for qid in members]
    assert merged[-1]["group"]["votes"] == 3
    await askers[3].send("withdraw", qid=members[2])
    left = await mod.expect("update", question__id=members[2], question__status="withdrawn")
    assert left["question"]["group"] == "" and left["group"]["votes"] == 2
    await askers[0].send("withdraw", qid=head)
    handed = await mod.expect("update", question__id=head, question__status="withdrawn")
    assert handed["group"]["id"] == members[0] and handed["group"]["group"] == "" and handed["group"]["votes"] == 1
    assert [q["id"] for q in handed["also"]] == [members[1]] and handed["also"][0]["group"] == members[0]
    final = ClientView().apply_all((await moderator(server, event, "Other")).frames)
    assert {q: v["group"] for q, v in final.questions.items()} == {
        head: "",
        members[0]: "",
        members[1]: members[0],
        members[2]: "",
    }
