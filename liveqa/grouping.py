"""Duplicate grouping of one event in one process: the similarity index, kept from the event log; participants'
"similar questions" hints from it; and the event's grouping step.

Every process with the event open keeps an index. One process at a time runs the step (a lease in Redis): it
embeds new questions, off the submission path and a batch at a time, and keeps the vectors in Redis, where the
other processes (and this one after a restart) read them instead of computing them again; then it takes the
new questions in question-number order, compares each with the ones before it, and records merge, suggest or
new with `group.lua`, which refuses a decision made on a view another process has moved past. So two paraphrases
sent at the same moment to two processes become one group: the second is decided against the first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from dataclasses import dataclass

from redis.exceptions import RedisError

from liveqa import metrics, tasks
from liveqa.dedup import HINT_AT, Embedder, Index, Outcome, default_embedder, from_text, to_text
from liveqa.dedup.semantic import Vector
from liveqa.domain.errors import Rejected
from liveqa.domain.model import Question, Status
from liveqa.domain.state import EventState
from liveqa.store import RedisStore

logger = logging.getLogger(__name__)

LEASE_MS = 10_000
IDLE_S = 2.0  # how often a process that does not hold the lease looks whether it should take over
GROUPABLE = frozenset({Status.PENDING, Status.APPROVED, Status.ANSWERED})
HINTS = 5
EMBED_BATCH = 32  # questions embedded in one call: the model is faster on a batch, the thread holds it briefly


@dataclass(frozen=True, slots=True)
class Hint:
    """A question a participant may support instead of sending theirs."""

    id: str
    text: str
    score: float


def owner_id() -> str:
    """This process, as named in the grouping lease."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class Grouping:
    """The similarity index of one event in this process, and its share of the grouping step."""

    def __init__(self, slug: str, store: RedisStore, embedder: Embedder | None = None, owner: str = "") -> None:
        self.slug = slug
        self._store = store
        self._embedder = embedder if embedder is not None else default_embedder()
        self._owner = owner or owner_id()
        self.index: Index | None = None
        self._changes: list[Question] = []
        self._unembedded: dict[str, Question] = {}  # groupable, not indexed: no vector stored yet (see _embed)
        self._wake = asyncio.Event()
        self._highest = 0  # the highest question number indexed (or seen: a question not indexed counts too)
        self._seen_at: dict[int, float] = {}  # question number → when it reached this process (for the lag)
        self._task: asyncio.Task[None] | None = None
        self.decided = 0  # the last question number this process saw decided

    async def start(self, state: EventState) -> None:
        """Build the index from the state and the stored vectors, then follow `observe`d changes."""
        questions = [q for q in state.questions.values() if q.status in GROUPABLE]
        stored = await self._store.vectors(self.slug, [q.id for q in questions])
        vectors = {
            qid: v for qid, text in stored.items() if (v := from_text(text, self._embedder.model_id)) is not None
        }
        index = Index(self._embedder, capacity=max(256, 2 * len(questions)))
        for q in questions:
            if q.id in vectors:
                index.add(q.id, q.text, vectors[q.id], group=q.group or None, visible=q.public)
            else:  # embedded later, by the lease holder (an old event's questions, a model change): opening stays fast
                self._unembedded[q.id] = q
        self.index = index
        self._highest = max((_number(qid) for qid in state.questions), default=0)
        if self._unembedded:
            self._wake.set()
        self._task = asyncio.create_task(self._run(), name=f"grouping:{self.slug}")

    async def stop(self) -> None:
        await tasks.stop(self._task)

    def observe(self, question: Question) -> None:
        """A question was added or changed (from the event log, in log order)."""
        self._changes.append(question)
        self._wake.set()

    async def hints(self, text: str, *, limit: int = HINTS) -> list[Hint]:
        """The public questions most like a draft, for a participant to support instead (never a pending one)."""
        if self.index is None or not self.index.any_visible():
            return []
        vector = await asyncio.to_thread(self._embedder.encode, [text])
        found = self.index.candidates(text, vector=vector[0], limit=limit, min_score=HINT_AT, visible_only=True)
        return [Hint(m.id, m.text, m.score) for m in found]  # visible questions are heads: never merged ones

    # --- following the log --------------------------------------------------------------------------------

    async def _run(self) -> None:
        delay = 0.1
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), IDLE_S)
            self._wake.clear()
            changes, self._changes = self._changes, []
            try:
                await self._apply(changes)
                await self._decide()
                delay = 0.1
            except (OSError, RedisError, Rejected) as exc:
                logger.warning("grouping step failed; retrying", extra={"event": self.slug, "error": repr(exc)})
                self._changes[:0] = changes
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
            except Exception:  # a bug, or the embedding failing: grouping waits and tries again, never stops
                logger.exception("grouping step failed unexpectedly; retrying", extra={"event": self.slug})
                self._changes[:0] = changes
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _apply(self, changes: list[Question]) -> None:
        """Bring the index up to date. A new question goes in with the vector the lease holder stored for it; until
        there is one it waits (in `_unembedded`, looked up again at each step). An edited text is embedded here."""
        index = self.index
        if index is None or not (changes or self._unembedded):
            return
        latest = self._unembedded | {q.id: q for q in changes}  # the last change of each question wins
        for q in changes:
            if (number := _number(q.id)) > self._highest:
                self._seen_at[number] = time.monotonic()
                self._highest = number
        groupable = [q for q in latest.values() if q.status in GROUPABLE]
        fresh = [q for q in groupable if q.id not in index]
        edited = [q for q in groupable if q.id in index and index.text(q.id) != q.text]
        vectors: dict[str, Vector] = {}
        if fresh:
            stored = await self._store.vectors(self.slug, [q.id for q in fresh])
            for qid, text in stored.items():
                if (vector := from_text(text, self._embedder.model_id)) is not None:
                    vectors[qid] = vector
        if edited:
            vectors.update(await self._compute(edited))
        self._unembedded = {q.id: q for q in fresh if q.id not in vectors}
        for q in latest.values():
            if q.status not in GROUPABLE:
                index.remove(q.id)
            elif q.id in vectors:
                index.add(q.id, q.text, vectors[q.id], group=q.group or None, visible=q.public)
            elif q.id in index:
                index.set_group(q.id, q.group or None)
                index.set_visible(q.id, q.public)

    async def _embed(self) -> bool:
        """The lease holder embeds the questions that have no vector yet, a few at a time in a thread, stores the
        vectors for every process (and for a restart) and indexes them. The lease is renewed after each batch (an
        old event's thousands of questions take longer than it lasts); False when another process took it."""
        index = self.index
        assert index is not None
        while self._unembedded:
            batch = list(self._unembedded.values())[:EMBED_BATCH]
            vectors = await self._compute(batch)
            for q in batch:
                index.add(q.id, q.text, vectors[q.id], group=q.group or None, visible=q.public)
                del self._unembedded[q.id]
            if self._unembedded and not await self._store.lease(self.slug, self._owner, ttl_ms=LEASE_MS):
                return False
        return True

    def _forget_decided(self) -> None:
        """Questions decided by another process need no lag measured here."""
        for number in [n for n in self._seen_at if n <= self.decided]:
            del self._seen_at[number]

    async def _compute(self, questions: list[Question]) -> dict[str, Vector]:
        """Embeddings computed in a thread and kept in Redis beside the questions."""
        matrix = await asyncio.to_thread(self._embedder.encode, [q.text for q in questions])
        computed = {q.id: matrix[i] for i, q in enumerate(questions)}
        await self._store.store_vectors(
            self.slug, {qid: to_text(v, self._embedder.model_id) for qid, v in computed.items()}
        )
        return computed

    async def _decide(self) -> None:
        """Decide every question indexed here that nobody decided yet, in order, while this process holds the
        lease. A refusal (another process was faster) makes it read where the step is and go on from there."""
        index = self.index
        if index is None or (self._highest <= self.decided and not self._unembedded):
            return
        if not await self._store.lease(self.slug, self._owner, ttl_ms=LEASE_MS):
            self.decided = await self._store.grouped(self.slug)
            self._forget_decided()
            return
        if not await self._embed():  # every question before the one decided is compared with: all indexed first
            self.decided = await self._store.grouped(self.slug)
            self._forget_decided()
            return
        after = await self._store.grouped(self.slug)
        while after < self._highest:
            number = after + 1
            qid = str(number)
            outcome, target, score = Outcome.NEW, "", 0.0
            if qid in index:
                decision = index.decide(index.text(qid), vector=index.vector(qid), before=number)
                if decision.match is not None:
                    outcome, target, score = decision.outcome, decision.match.group, decision.match.score
            done = await self._store.group(self.slug, qid, after, str(outcome), target, score)
            if done is None:
                after = await self._store.grouped(self.slug)
                self.decided = after
                self._forget_decided()
                continue
            if done == "merge":
                index.set_group(qid, target)
            metrics.GROUPED.labels(done).inc()
            if (seen := self._seen_at.pop(number, None)) is not None:
                metrics.GROUPING_LAG.observe(time.monotonic() - seen)
            after = number
        self.decided = after


def _number(qid: str) -> int:
    return int(qid) if qid.isdigit() else 0


__all__ = ["GROUPABLE", "Grouping", "Hint", "owner_id"]
