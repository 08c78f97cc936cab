"""The load generator: one worker process of asyncio `websockets` clients, run and paced by bench.coordinator.

A worker opens the sockets its plan gives it (participants, moderator consoles, screens; or the floor server's
listeners, consoles and driver), then plays the load: moderator moves, submissions, votes, approvals, `show`s,
or floor operations, each at a set rate and bounded in count and time. Every frame received is stamped with
`time.monotonic_ns()` (CLOCK_MONOTONIC: one clock for every process on the machine), every action sent is
stamped too, and the server's replies (`ack`, `done`) tie an action to the log id its frames carry, so the
latency of every delivered frame is receive time minus send time, whichever process sent it.

Checks, per socket: log ids never go back (strictly increasing, except that `own` and `update` of the same
entry share an id); every id the server acknowledged for an audience reaches every socket of that audience;
vote tallies end at the count stored in Redis (the coordinator reads it after the load; without it, where the
votes sent say they must); no socket is closed under it.

A LiveQA socket the server closes during the load reconnects as a real client does (static/common.js: full-jitter
backoff from 0.25 s doubling up to 5 s, again and again until the phase ends; `Plan.resume_attempts` can cap
the attempts per close, counted again after each resume): `hello` with its participant token, epoch and the
last log id it holds, then the server's replay (or a snapshot) counts as delivery. Submissions that had no
answer yet are sent again with the same `cid` (the server answers a repeat with the same question); moderator
actions that had none are counted as interrupted (their reply went with the socket).

A submission the server refuses with `rate_limited` or `unavailable` is sent again, as the participant page does
(static/participant.js, its outbox): the same message (same `cid`, same text) after the reply's `retry_after_ms`
(1000 ms without it), at most 5 times, and only while the load's time allows (the resend must go out at least
half of `reply_timeout_s` before the worker stops waiting for replies). Its ack latency, and the latency of its
frames, count from the first send: what the person experiences. A submission still refused after its last
attempt, or whose next attempt would come too late, is given up (`submits_given_up`), neither unanswered nor
an error of another kind. Votes are not sent again (the page shows the error; the person may click again).

Control (JSON lines): the coordinator writes commands to stdin (`join`, `go`, `settle PATH`, `report PATH`,
`quit`); the worker answers on stdout (`started`, `ready`, `sent`, `settled`, `done`).

    python -m bench.loadgen --plan PLAN.json      # PLAN: a bench.loadgen.Plan as JSON
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import json
import os
import random
import sys
import time
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any, Literal

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
from websockets.typing import Origin, Subprotocol

from bench.stats import Histogram, log_id_key, self_cpu_us
from liveqa.views import after_step

SUBPROTOCOL = Subprotocol("liveqa.v1")
PUBLIC, MODERATOR, SCREEN, DRIVER = "public", "moderator", "screen", "driver"
REPLIES = frozenset({"ack", "done", "error", "pong", "welcome", "resumed"})
# Actions whose audience frame changes only the queue order or the screen: a later one may supersede it.
STATE_ONLY = frozenset({"move", "show"})
# Close codes after which a client does not reconnect by itself (docs/protocol.md, "Close codes").
NO_RESUME = frozenset({1000, 1003, 1008, 1009, 4001, 4003, 4004, 4400})
RESUME_BACKOFF_S = 0.25  # doubled on every attempt up to RESUME_BACKOFF_CAP_S, with full jitter (as the pages)
RESUME_BACKOFF_CAP_S = 5.0
# Error codes after which the participant page sends a submission again with the same cid (static/participant.js).
RETRY_CODES = frozenset({"rate_limited", "unavailable"})
SUBMIT_RETRIES = 5  # resends per submission after such an error
RETRY_AFTER_MS = 1000.0  # when the error does not say (`retry_after_ms`)
WORDS = (
    "access accountability agenda aid border budget ceasefire children civil climate community conflict council "
    "court data debt democracy development dialogue displacement drought education elections energy equality "
    "famine finance food funding gender governance health housing humanitarian indigenous inequality justice "
    "land language law literacy mandate media migration mine minority mission monitoring nuclear ocean peace "
    "pandemic police poverty press prison protection reform refugees regional resolution rights rural sanctions "
    "sanitation schools security shelter small states survivors technology trade transparency trust vaccines "
    "violence voices water women workers youth"
).split()


class Plan(msgspec.Struct, kw_only=True):
    """What one worker does. The coordinator writes one per worker."""

    worker: int = 0
    protocol: Literal["liveqa", "floor"] = "liveqa"
    targets: list[str]  # base URLs (http://127.0.0.1:port); participants are spread over them round-robin
    slug: str = ""
    screen_token: str = ""
    moderator_sids: list[str] = []  # one session cookie per moderator socket of this worker
    participants: int = 0
    moderators: int = 0  # floor: consoles
    screens: int = 0
    participant_offset: int = 0  # this worker's first participant's global index (for spreading over targets)
    join_concurrency: int = 100
    join_timeout_s: float = 60.0
    # the load
    driver: Literal["none", "moves", "raw", "stream", "lua"] = "none"  # moves: moderator 0; others: floor ops
    driver_rate: float = 0.0
    driver_count: int = 0
    payload: list[str] = []  # floor frames carry this list (sized like a LiveQA queue)
    submit_rate: float = 0.0
    submit_count: int = 0
    submitters: int = 0  # the first `submitters` participants submit, round-robin
    premoderated: bool = True  # submissions are seen by moderators only until approved
    vote_rate: float = 0.0
    vote_count: int = 0
    voters: int = 0  # the participants after the submitters vote, round-robin
    vote_qids: list[str] = []
    approve_count: int = 0  # moderator 0 approves each pending question it sees, up to this many
    show_rate: float = 0.0
    show_count: int = 0
    show_qids: list[str] = []
    max_load_s: float = 60.0  # the load stops by itself after this, whatever is left
    reply_timeout_s: float = 10.0
    resume_attempts: int = 0  # reconnections per closed socket; 0: until the phase ends, as the pages do
    dump_frames: str = ""  # a path: every frame's (socket, receive ns, type, id) as JSON lines


class QuestionLite(msgspec.Struct):
    id: str = ""
    status: str = ""
    votes: int = 0


class Frame(msgspec.Struct):
    """The fields of a server frame the load generator looks at (others are skipped by the decoder)."""

    type: str
    id: str = ""
    ref: str = ""
    cid: str = ""
    qid: str = ""
    code: str = ""
    retry_after_ms: float = 0.0
    pid: str = ""
    token: str = ""
    epoch: str = ""
    votes: dict[str, int] | None = None
    queue: list[str] | None = None
    place: tuple[str, str] | None = None
    unqueue: str = ""
    question: QuestionLite | None = None
    questions: list[QuestionLite] | None = None
    frames: list[Frame] | None = None  # a `batch`'s


_decode = msgspec.json.Decoder(Frame).decode
_encode = msgspec.json.Encoder().encode


def now() -> int:
    return time.monotonic_ns()


class Sock:
    """One client socket and everything recorded about it."""

    def __init__(self, role: str, audience: str, index: int, target: str) -> None:
        self.role = role
        self.audience = audience
        self.index = index
        self.target = target
        self.ws: ClientConnection | None = None
        self.reader: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()
        self.start_ns = 0
        self.open_ns = 0
        self.ready_ns = 0
        self.join_error = ""
        self.frames = 0
        self.phase_frames = 0
        self.phase_chars = 0  # the length of the messages received during the load (JSON text: characters)
        self.records: list[tuple[int, str, str]] = []  # (receive ns, log id, type) during the load phase
        self.last: tuple[int, int] = (-1, -1)
        self.last_id = ""  # the newest log id applied, as the server wrote it (sent as `last_id` on resume)
        self.last_type = ""
        self.violations: list[str] = []
        self.tallies: dict[str, int] = {}
        self.baseline: dict[str, int] = {}
        self.queue: list[str] = []
        self.queue_errors = 0  # a step of the queue order that did not apply to the order the socket held
        self.pid = ""
        self.token = ""  # a participant's token from `welcome`: the same participant after a reconnect
        self.epoch = ""
        self.close_code: int | None = None
        self.decode_errors = 0
        # resuming after the server closed the socket during the load
        self.reconnecting = False  # closed, a new connection not yet resumed: sends are skipped, not settled
        self.resume_cause = ""  # the close code that started the current reconnection
        self.resume_from: tuple[int, int] = (-1, -1)  # `last` when the socket closed
        self.attempts = 0
        self.reconnects: dict[str, int] = {}  # close code → resumed after it
        self.resume_failures: dict[str, int] = {}  # close code → gave up after it
        self.seen_before: set[tuple[str, str]] = set()  # (log id, type) received before the last reconnect
        self.duplicates = 0  # frames received again after a resume (ignored)
        self.snapshot_gaps: list[tuple[tuple[int, int], tuple[int, int]]] = []  # resumed by a snapshot: (from, to]
        self.refs: set[str] = set()  # moderator action refs sent on this socket
        self.cids: set[str] = set()  # submission cids sent on this socket


class Worker:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.sockets: list[Sock] = []
        self.participants: list[Sock] = []
        self.moderators: list[Sock] = []
        self.screens: list[Sock] = []
        self.driver_sock: Sock | None = None
        self.phase = False
        self.go_ns = 0
        self.load_end_ns = 0
        self.pending_refs: dict[str, tuple[int, str, tuple[str, ...]]] = {}
        self.pending_cids: dict[str, int] = {}
        self.sends: dict[str, tuple[int, str, tuple[str, ...]]] = {}  # log id → (send ns, kind, audiences)
        self.ack_latency = Histogram()
        self.counts: dict[str, int] = {}
        self.errors: dict[str, int] = {}
        self.votes_net: dict[str, int] = {}
        self.vote_span: list[int] = []  # first and last vote send ns
        self.submit_span: list[int] = []
        self.approvals: asyncio.Queue[str] = asyncio.Queue()
        self.approved: set[str] = set()
        self.sent_log: list[tuple[int, str, int, str, str]] = []  # with dump_frames: every action sent
        self.vote_refusals: dict[str, int] = {}  # error replies to votes, by code (backpressure, not loss)
        self.submissions: dict[str, dict[str, Any]] = {}  # cid → message, until answered (resent after a resume)
        self.submitted_on: dict[str, Sock] = {}  # cid → the socket it was sent on
        # refused attempts of submissions, by code (each one resent or given up)
        self.submit_refusals: dict[str, int] = {}
        self.retried: dict[str, int] = {}  # cid → resends after a refusal so far
        self.retrying: dict[str, asyncio.Task[None]] = {}  # cid → its resend, waiting for `retry_after_ms`
        self.resend_until = 0  # ns: no resend after a refusal is sent later than this (0: none)
        self.closing = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self.rng = random.Random(plan.worker)
        self._build()

    # --- sockets ----------------------------------------------------------------------------------------

    def _build(self) -> None:
        plan = self.plan
        targets = plan.targets
        for i in range(plan.participants):
            target = targets[(plan.participant_offset + i) % len(targets)]
            self.participants.append(Sock("participant", PUBLIC, i, target))
        for i in range(plan.moderators):
            self.moderators.append(Sock("moderator", MODERATOR, i, targets[0]))
        for i in range(plan.screens):
            self.screens.append(Sock("screen", SCREEN, i, targets[0]))
        if plan.protocol == "floor" and plan.driver in ("raw", "stream", "lua"):
            self.driver_sock = Sock("driver", DRIVER, 0, targets[0])
        elif plan.driver == "moves" and self.moderators:
            # Moderator 0 approves; moves and shows come from others where there are (a console handles its
            # own frames one after another, so one console doing everything would queue its own actions).
            self.driver_sock = self.moderators[1 % len(self.moderators)]
        # Moderators and screens first, so they hold their place before the crowd arrives.
        self.sockets = [*self.moderators, *self.screens, *self.participants]
        if self.driver_sock is not None and self.driver_sock not in self.sockets:
            self.sockets.insert(0, self.driver_sock)

    def _url(self, sock: Sock) -> str:
        ws_base = sock.target.replace("http://", "ws://", 1)
        if self.plan.protocol == "floor":
            role = {PUBLIC: "listener", MODERATOR: "console", DRIVER: "driver"}.get(sock.audience, "listener")
            return f"{ws_base}/ws?role={role}"
        return f"{ws_base}/ws/e/{self.plan.slug}/{sock.role}"

    async def _connect(self, sock: Sock, open_timeout: float) -> ClientConnection:
        headers: dict[str, str] = {}
        if sock.role == "moderator" and self.plan.protocol == "liveqa":
            headers["Cookie"] = f"liveqa_session={self.plan.moderator_sids[sock.index]}"
        return await connect(
            self._url(sock),
            origin=Origin(sock.target),
            subprotocols=[SUBPROTOCOL],
            additional_headers=headers,
            compression=None,
            open_timeout=open_timeout,
            ping_interval=None,  # browsers don't ping; the server does, every 20 s
            close_timeout=2,
            max_queue=4096,
            proxy=None,
        )

    async def _join(self, sock: Sock, gate: asyncio.Semaphore) -> None:
        async with gate:
            sock.start_ns = now()
            try:
                sock.ws = await self._connect(sock, self.plan.join_timeout_s)
            except (OSError, TimeoutError, InvalidStatus, WebSocketException) as exc:
                sock.join_error = type(exc).__name__
                return
            sock.open_ns = now()
            sock.reader = asyncio.create_task(self._read(sock))
            if self.plan.protocol == "floor":
                sock.ready_ns = sock.open_ns
                sock.ready.set()
                return
            token = self.plan.screen_token if sock.role == "screen" else ""
            try:
                await sock.ws.send(_encode({"type": "hello", "v": 1, "token": token}).decode())
                async with asyncio.timeout(self.plan.join_timeout_s):
                    await sock.ready.wait()
            except (ConnectionClosed, TimeoutError) as exc:
                sock.join_error = type(exc).__name__ if sock.close_code is None else f"closed {sock.close_code}"

    async def join_all(self) -> dict[str, Any]:
        gate = asyncio.Semaphore(self.plan.join_concurrency)
        started = now()
        # The driver and the consoles join before the audience (they are few).
        few = [s for s in self.sockets if s.audience != PUBLIC]
        await asyncio.gather(*(self._join(s, gate) for s in few))
        await asyncio.gather(*(self._join(s, gate) for s in self.participants))
        finished = now()
        failures: dict[str, int] = {}
        for s in self.sockets:
            if not s.ready_ns or s.close_code is not None:  # no first snapshot, or closed since
                key = s.join_error or (f"closed {s.close_code}" if s.close_code is not None else "no snapshot")
                failures[key] = failures.get(key, 0) + 1
        return {
            "joined": sum(1 for s in self.sockets if s.ready_ns and s.close_code is None),
            "failures": failures,
            "wall_ns": finished - started,
            "first_start_ns": started,
            "last_ready_ns": finished,
        }

    # --- receiving --------------------------------------------------------------------------------------

    async def _read(self, sock: Sock) -> None:
        try:
            while True:
                ws = sock.ws
                assert ws is not None
                try:
                    async for message in ws:
                        received = now()
                        if self.phase:
                            sock.phase_chars += len(message)
                        try:
                            frame = _decode(message)
                        except msgspec.DecodeError:
                            sock.decode_errors += 1
                            continue
                        self._on_message(sock, frame, received)
                except ConnectionClosed:
                    pass
                if not await self._reconnect(sock, ws.close_code if ws.close_code is not None else 1006):
                    return
        finally:
            ws = sock.ws
            assert ws is not None
            sock.close_code = ws.close_code if ws.close_code is not None else 1006
            if sock.reconnecting:
                sock.resume_failures[sock.resume_cause] = sock.resume_failures.get(sock.resume_cause, 0) + 1
                sock.reconnecting = False
            sock.ready.set()  # whoever waits for it: it will not come now

    async def _reconnect(self, sock: Sock, code: int) -> bool:
        """After the server closed `sock` during the load: connect again and resume from the last id it holds, as
        a real client does. True once a new connection is open and its `hello` sent (the reader goes on with it;
        the `resumed` or `snapshot` that answers completes the resume); False to give up."""
        if not self.phase or self.closing or self.plan.protocol != "liveqa" or code in NO_RESUME:
            return False
        if not sock.reconnecting:  # a new close, not a failed attempt of the current reconnection
            sock.reconnecting = True
            sock.resume_cause = str(code)
            sock.resume_from = sock.last
            # Replies to actions sent on the closed socket went with it. A submission is sent again after the
            # resume (same cid: the server answers with the question it stored, if it did); a moderator action
            # cannot be (a second move is another move): it is counted as interrupted, not unanswered.
            for ref in sock.refs:
                if self.pending_refs.pop(ref, None) is not None:
                    self.counts["interrupted"] = self.counts.get("interrupted", 0) + 1
            sock.refs.clear()
        limit = self.plan.resume_attempts
        while (not limit or sock.attempts < limit) and not self.closing:
            sock.attempts += 1
            backoff = min(RESUME_BACKOFF_CAP_S, RESUME_BACKOFF_S * 2 ** min(sock.attempts - 1, 8))
            await asyncio.sleep(self.rng.uniform(0, backoff))
            try:
                ws = await self._connect(sock, self.plan.reply_timeout_s)
            except (OSError, TimeoutError, InvalidStatus, WebSocketException):
                continue
            sock.ws = ws
            sock.seen_before = {(log_id, kind) for _, log_id, kind in sock.records if log_id}
            token = self.plan.screen_token if sock.role == "screen" else sock.token
            hello = {"type": "hello", "v": 1, "token": token, "epoch": sock.epoch, "last_id": sock.last_id}
            with contextlib.suppress(ConnectionClosed):
                await ws.send(_encode(hello).decode())
            return True
        return False

    def _resumed(self, sock: Sock, snapshot: tuple[int, int] | None) -> None:
        """The server answered a resuming socket's `hello`: with a replay, or with a snapshot up to `snapshot`."""
        cause = sock.resume_cause
        sock.reconnects[cause] = sock.reconnects.get(cause, 0) + 1
        sock.reconnecting = False
        sock.attempts = 0  # a later close starts again from the first backoff, with the whole cap of attempts
        if snapshot is not None and snapshot > sock.resume_from:
            sock.snapshot_gaps.append((sock.resume_from, snapshot))
        for cid in [c for c in sock.cids if c in self.pending_cids and c in self.submissions]:
            self.counts["submits_resent"] = self.counts.get("submits_resent", 0) + 1
            task = asyncio.create_task(self._send(sock, self.submissions[cid]))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _on_message(self, sock: Sock, frame: Frame, received: int) -> None:
        """One WebSocket message: a frame, or a `batch` of frames (participants get at most one message every
        100 ms, carrying every change since the last), each checked and recorded as if it came alone."""
        sock.frames += 1
        if self.phase:
            sock.phase_frames += 1
        if frame.type != "batch":
            self._on_frame(sock, frame, received)
            return
        for inner in frame.frames or ():
            self._on_frame(sock, inner, received)

    def _on_frame(self, sock: Sock, frame: Frame, received: int) -> None:
        kind = frame.type
        if frame.id and kind not in REPLIES:
            key = log_id_key(frame.id)
            repeat = key == sock.last and kind == sock.last_type and not (kind == "snapshot" and sock.reconnecting)
            if key < sock.last or repeat:
                if (frame.id, kind) in sock.seen_before:
                    # Received already, before the socket was resumed: a replay that overlaps, not a reorder.
                    # Ignored (not a second delivery either).
                    sock.duplicates += 1
                    return
                if len(sock.violations) < 5:
                    sock.violations.append(f"{kind} {frame.id} after {sock.last_type} {sock.last[0]}-{sock.last[1]}")
                else:
                    sock.violations.append("")
            else:
                sock.last, sock.last_id, sock.last_type = key, frame.id, kind
        if self.phase:
            sock.records.append((received, frame.id, kind))
        if kind in REPLIES:
            if kind == "ack":
                self._on_ack(frame, received)
            elif kind == "done":
                self._on_done(frame)
            elif kind == "error":
                self._on_error(frame)
            elif kind == "welcome":
                sock.pid = frame.pid
                sock.token = frame.token or sock.token
                sock.epoch = frame.epoch or sock.epoch
            elif kind == "resumed":
                if sock.reconnecting:
                    self._resumed(sock, None)
                if not sock.ready_ns:
                    sock.ready_ns = received
                    sock.ready.set()
            return
        if kind == "snapshot":
            sock.epoch = frame.epoch or sock.epoch
            if sock.reconnecting:
                self._resumed(sock, log_id_key(frame.id) if frame.id else None)
            if frame.questions is not None:
                sock.tallies = {q.id: q.votes for q in frame.questions}
            if frame.queue is not None:
                sock.queue = list(frame.queue)
            if not sock.ready_ns:
                sock.ready_ns = received
                sock.ready.set()
        elif kind == "votes":
            if frame.votes:
                sock.tallies.update(frame.votes)
        elif kind == "update":
            self._order(sock, frame)
            if frame.question is None or not frame.question.id:
                return
            question = frame.question
            sock.tallies[question.id] = question.votes
            if (
                self.plan.approve_count
                and self.moderators
                and sock is self.moderators[0]
                and question.status == "pending"
                and question.id not in self.approved
            ):
                self.approvals.put_nowait(question.id)

    @staticmethod
    def _order(sock: Sock, frame: Frame) -> None:
        """Apply a new queue order as the pages do: whole, or the one step that made it (participants)."""
        if frame.queue is not None:
            sock.queue = list(frame.queue)
        if frame.place is not None or frame.unqueue:
            try:
                sock.queue = after_step(sock.queue, frame.place, frame.unqueue)
            except ValueError:
                sock.queue_errors += 1

    def _on_ack(self, frame: Frame, received: int) -> None:
        sent = self.pending_cids.pop(frame.cid, None)
        self.submissions.pop(frame.cid, None)
        if sent is None:
            return
        self.counts["acked"] = self.counts.get("acked", 0) + 1
        self.ack_latency.add(received - sent)
        audiences = (MODERATOR,) if self.plan.premoderated else (MODERATOR, PUBLIC)
        if frame.id:
            self.sends[frame.id] = (sent, "submit", audiences)

    def _on_done(self, frame: Frame) -> None:
        pending = self.pending_refs.pop(frame.ref, None)
        if pending is None:
            return
        if frame.id:
            self.sends[frame.id] = pending
            self.counts["done"] = self.counts.get("done", 0) + 1
        else:
            self.counts["done_no_change"] = self.counts.get("done_no_change", 0) + 1

    def _on_error(self, frame: Frame) -> None:
        self.errors[frame.code] = self.errors.get(frame.code, 0) + 1
        if not frame.cid and not frame.ref:
            # A vote has neither: the server refused it (`unavailable` when Redis did not answer in time: it may
            # still have been applied). The tallies are checked against Redis, so this is backpressure, not loss.
            self.vote_refusals[frame.code] = self.vote_refusals.get(frame.code, 0) + 1
        if frame.cid:
            if frame.code in RETRY_CODES and self.plan.protocol == "liveqa" and frame.cid in self.pending_cids:
                # Backpressure: sent again with the same cid, as the page does (it stays pending meanwhile).
                self.submit_refusals[frame.code] = self.submit_refusals.get(frame.code, 0) + 1
                self._retry_later(frame.cid, frame.retry_after_ms or RETRY_AFTER_MS)
            else:
                self.pending_cids.pop(frame.cid, None)
                self.submissions.pop(frame.cid, None)
        if frame.ref:
            self.pending_refs.pop(frame.ref, None)

    def _retry_later(self, cid: str, after_ms: float) -> None:
        """Resend a refused submission after `after_ms`, or give it up (no attempts or no time left)."""
        if cid in self.retrying:
            return  # a resend is already waiting (two answers to one submission: a resume sent it again too)
        sock = self.submitted_on.get(cid)
        delay_ns = int(after_ms * 1e6)
        if sock is None or cid not in self.submissions or self.retried.get(cid, 0) >= SUBMIT_RETRIES:
            self._give_up(cid)
        elif now() + delay_ns > self.resend_until:
            self._give_up(cid)
        else:
            task = asyncio.create_task(self._resend(sock, cid, delay_ns))
            self.retrying[cid] = task
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _resend(self, sock: Sock, cid: str, delay_ns: int) -> None:
        await asyncio.sleep(delay_ns / 1e9)
        self.retrying.pop(cid, None)
        message = self.submissions.get(cid)
        if cid not in self.pending_cids or message is None:
            return  # answered meanwhile (a resume sent it again)
        if now() > self.resend_until:
            self._give_up(cid)
            return
        self.retried[cid] = self.retried.get(cid, 0) + 1
        if await self._send(sock, message):
            self.counts["submits_retried"] = self.counts.get("submits_retried", 0) + 1
        elif not sock.reconnecting:  # closed for good (a reconnecting socket sends it again once resumed)
            self._give_up(cid)

    def _give_up(self, cid: str) -> None:
        if self.pending_cids.pop(cid, None) is None:
            return
        self.submissions.pop(cid, None)
        self.counts["submits_given_up"] = self.counts.get("submits_given_up", 0) + 1

    # --- the load ---------------------------------------------------------------------------------------

    async def _send(self, sock: Sock, message: dict[str, Any]) -> bool:
        if sock.ws is None or sock.close_code is not None:
            self.counts["send_skipped_closed"] = self.counts.get("send_skipped_closed", 0) + 1
            return False
        if sock.reconnecting:
            self.counts["send_skipped_reconnecting"] = self.counts.get("send_skipped_reconnecting", 0) + 1
            return False
        if ref := message.get("ref"):
            sock.refs.add(ref)
        if message.get("type") == "submit":
            sock.cids.add(message["cid"])
            self.submissions[message["cid"]] = message
            self.submitted_on[message["cid"]] = sock
        try:
            await sock.ws.send(_encode(message).decode())
            if self.plan.dump_frames:
                key = message.get("ref") or message.get("cid") or message.get("qid") or ""
                self.sent_log.append((now(), sock.role, sock.index, str(message.get("type") or message.get("op")), key))
        except ConnectionClosed:
            self.counts["send_failed"] = self.counts.get("send_failed", 0) + 1
            return False
        return True

    async def _moves(self, deadline: int) -> None:
        mod = self.driver_sock
        assert mod is not None
        queue = list(mod.queue)
        async for i in pace(self.plan.driver_rate, self.plan.driver_count, deadline):
            if len(queue) < 2:
                self.counts["moves_impossible"] = self.counts.get("moves_impossible", 0) + 1
                return
            first, last = queue[0], queue[-1]
            ref = f"mv{i}"
            self.pending_refs[ref] = (now(), "move", (PUBLIC, MODERATOR))
            if await self._send(mod, {"type": "move", "qid": first, "after": last, "ref": ref}):
                self.counts["moves_sent"] = self.counts.get("moves_sent", 0) + 1
            else:
                self.pending_refs.pop(ref, None)
            queue = [*queue[1:], first]

    async def _floor_ops(self, deadline: int) -> None:
        driver = self.driver_sock
        assert driver is not None
        audiences = (MODERATOR,) if self.plan.driver == "lua" else (PUBLIC,)
        async for i in pace(self.plan.driver_rate, self.plan.driver_count, deadline):
            ref = f"op{i}"
            self.pending_refs[ref] = (now(), "floor", audiences)
            if await self._send(driver, {"op": self.plan.driver, "ref": ref, "payload": self.plan.payload}):
                self.counts["ops_sent"] = self.counts.get("ops_sent", 0) + 1
            else:
                self.pending_refs.pop(ref, None)

    def _question_text(self, i: int) -> str:
        words = " ".join(self.rng.sample(WORDS, 12))
        return f"Question {self.plan.worker}-{i}: what will you do about {words}?"

    async def _submits(self, deadline: int) -> None:
        submitters = self.participants[: self.plan.submitters]
        if not submitters:
            return
        tag = f"{self.plan.worker}x{self.rng.randrange(1 << 30):x}"
        async for i in pace(self.plan.submit_rate, self.plan.submit_count, deadline):
            sock = submitters[i % len(submitters)]
            cid = f"bench{tag}n{i}"
            message = {
                "type": "submit",
                "cid": cid,
                "text": self._question_text(i),
                "name": f"Participant {sock.index}",
                "organisation": "Benchmark Civil Society Network",
                "country": "KE",
            }
            sent = now()
            self.pending_cids[cid] = sent
            if await self._send(sock, message):
                self.counts["submits_sent"] = self.counts.get("submits_sent", 0) + 1
                self._span(self.submit_span, sent)
            else:
                self.pending_cids.pop(cid, None)

    @staticmethod
    def _span(span: list[int], at: int) -> None:
        if not span:
            span.extend((at, at))
        span[1] = at

    async def _votes(self, deadline: int) -> None:
        first = self.plan.submitters
        voters = self.participants[first : first + self.plan.voters]
        qids = self.plan.vote_qids
        if not voters or not qids:
            return
        position = [0] * len(voters)
        async for i in pace(self.plan.vote_rate, self.plan.vote_count, deadline):
            v = i % len(voters)
            turn = position[v]
            position[v] += 1
            qid = qids[turn % len(qids)]
            up = (turn // len(qids)) % 2 == 0  # round 1 up on every question, round 2 down, …
            sent = now()
            if await self._send(voters[v], {"type": "upvote" if up else "unvote", "qid": qid}):
                self.votes_net[qid] = self.votes_net.get(qid, 0) + (1 if up else -1)
                self.counts["votes_sent"] = self.counts.get("votes_sent", 0) + 1
                self._span(self.vote_span, sent)

    async def _approver(self, deadline: int) -> None:
        mod = self.moderators[0]
        sent = 0
        while sent < self.plan.approve_count:
            remaining = (deadline - now()) / 1e9
            if remaining <= 0:
                return
            try:
                async with asyncio.timeout(remaining):
                    qid = await self.approvals.get()
            except TimeoutError:
                return
            if qid in self.approved:
                continue
            self.approved.add(qid)
            ref = f"ap{sent}"
            self.pending_refs[ref] = (now(), "approve", (PUBLIC, MODERATOR))
            if await self._send(mod, {"type": "approve", "qid": qid, "ref": ref}):
                self.counts["approves_sent"] = self.counts.get("approves_sent", 0) + 1
            sent += 1

    async def _shows(self, deadline: int) -> None:
        mod = self.moderators[2 % len(self.moderators)]
        qids = self.plan.show_qids
        async for i in pace(self.plan.show_rate, self.plan.show_count, deadline):
            ref = f"sh{i}"
            self.pending_refs[ref] = (now(), "show", (PUBLIC, MODERATOR, SCREEN))
            if await self._send(mod, {"type": "show", "qid": qids[i % len(qids)], "ref": ref}):
                self.counts["shows_sent"] = self.counts.get("shows_sent", 0) + 1

    async def run_load(self) -> dict[str, Any]:
        plan = self.plan
        for sock in self.sockets:
            sock.baseline = dict(sock.tallies)
        self.go_ns = now()
        self.phase = True
        deadline = self.go_ns + int(plan.max_load_s * 1e9)
        # A refused submission's last resend leaves half the reply timeout for its answer.
        answer_ns = int(plan.reply_timeout_s * 1e9 / 2)
        self.resend_until = deadline + answer_ns
        jobs: list[Coroutine[Any, Any, None]] = []
        if plan.driver == "moves" and self.driver_sock is not None:
            jobs.append(self._moves(deadline))
        elif plan.driver in ("raw", "stream", "lua"):
            jobs.append(self._floor_ops(deadline))
        if plan.submit_count:
            jobs.append(self._submits(deadline))
        if plan.vote_count:
            jobs.append(self._votes(deadline))
        if plan.approve_count and self.moderators:
            jobs.append(self._approver(deadline + int(plan.reply_timeout_s * 1e9)))
        if plan.show_count and self.moderators and plan.show_qids:
            jobs.append(self._shows(deadline))
        await asyncio.gather(*jobs)
        self.load_end_ns = now()
        self.resend_until = min(self.resend_until, self.load_end_ns + answer_ns)
        # Every action sent gets its reply (ack, done or error) before the worker says it has sent everything.
        for _ in range(int(plan.reply_timeout_s * 100)):
            if not (self.pending_refs or self.pending_cids):
                break
            await asyncio.sleep(0.01)
        # Nothing is sent again now: a resend still waiting is given up (out of time), not unanswered.
        self.resend_until = 0
        for cid, task in list(self.retrying.items()):
            task.cancel()
            self._give_up(cid)
        self.retrying.clear()
        return {
            "sends": {log_id: [sent, kind, list(aud)] for log_id, (sent, kind, aud) in self.sends.items()},
            "votes_net": self.votes_net,
            "unanswered": len(self.pending_refs) + len(self.pending_cids),
        }

    # --- settling and reporting ---------------------------------------------------------------------------

    def _tallies_right(self, sock: Sock, votes_net: dict[str, int], truth: dict[str, int] | None) -> bool:
        """Whether the socket shows the final tallies: the counts stored in Redis when the coordinator could read
        them, else its tallies before the load plus the votes sent (right only when no vote was refused)."""
        if self.plan.protocol != "liveqa" or sock.audience not in (PUBLIC, MODERATOR):
            return True
        if truth is not None:
            return all(sock.tallies.get(q, 0) == n for q, n in truth.items())
        return all(sock.tallies.get(q, 0) == sock.baseline.get(q, 0) + n for q, n in votes_net.items())

    async def settle(
        self,
        expected: dict[str, list[str]],
        votes_net: dict[str, int],
        within_s: float,
        truth: dict[str, int] | None = None,
    ) -> dict[str, Any]:
        """Wait until every open socket has the newest acknowledged id of its audience and the final tallies."""
        targets = {aud: max((log_id_key(i) for i in ids), default=(-1, -1)) for aud, ids in expected.items()}
        started = now()
        deadline = started + int(within_s * 1e9)

        def settled(sock: Sock) -> bool:
            if sock.close_code is not None or sock.ws is None:
                return True  # it will be reported as closed; nothing more will come
            if sock.reconnecting or sock.last < targets.get(sock.audience, (-1, -1)):
                return False
            return self._tallies_right(sock, votes_net, truth)

        waiting = [s for s in self.sockets if not settled(s)]
        while waiting and now() < deadline:
            await asyncio.sleep(0.02)
            waiting = [s for s in waiting if not settled(s)]
        return {"unsettled": len(waiting), "settle_ns": now() - started}

    def report(
        self,
        expected: dict[str, list[str]],
        sends: dict[str, list[Any]],
        votes_net: dict[str, int],
        truth: dict[str, int] | None = None,
        queue: list[str] | None = None,
    ) -> dict[str, Any]:
        """What every socket received against what was sent; `truth` and `queue` are the vote tallies and the
        queue order stored in Redis after the load, when the coordinator could read them."""
        expected_sets = {aud: set(ids) for aud, ids in expected.items()}
        latency: dict[str, Histogram] = {}
        delivered: dict[str, int] = {}
        received_chars: dict[str, int] = {}
        sockets_by_audience: dict[str, int] = {}
        missing = 0
        missing_examples: list[str] = []
        tally_mismatch = 0
        queue_mismatch = 0
        queue_errors = 0
        closed: dict[str, int] = {}
        reconnects: dict[str, int] = {}
        resume_failures: dict[str, int] = {}
        duplicates = 0
        covered = 0
        superseded = 0
        violations = 0
        violation_examples: list[str] = []
        decode_errors = 0
        join = Histogram()
        handshake = Histogram()
        for sock in self.sockets:
            delivered[sock.audience] = delivered.get(sock.audience, 0) + sock.phase_frames
            received_chars[sock.audience] = received_chars.get(sock.audience, 0) + sock.phase_chars
            sockets_by_audience[sock.audience] = sockets_by_audience.get(sock.audience, 0) + 1
            seen: set[str] = set()
            updates: list[tuple[tuple[int, int], int]] = []  # (log id, received) of the `update` frames
            for received, log_id, kind in sock.records:
                if kind in REPLIES or not log_id:
                    continue  # an ack or done carries the id of the sender's own change: not its delivery
                seen.add(log_id)
                if kind == "update":
                    updates.append((log_id_key(log_id), received))
                send = sends.get(log_id)
                if send is not None:  # a participant's own question's frames are "own/…", not the audience's
                    key = f"{'own' if kind == 'own' else sock.audience}/{send[1]}"
                    latency.setdefault(key, Histogram()).add(received - int(send[0]))
            want = expected_sets.get(sock.audience, set())
            lost = want - seen
            if lost and sock.audience == PUBLIC and updates:
                # The server sends the audience only the latest queue order and screen of a read batch: a move
                # or show followed by a later update arrived with it, and its latency is that update's.
                updates.sort()
                for log_id in sorted(lost, key=log_id_key):
                    send = sends[log_id]
                    if send[1] not in STATE_ONLY:
                        continue
                    at = bisect.bisect_right(updates, (log_id_key(log_id), sys.maxsize))
                    if at < len(updates):
                        lost.discard(log_id)
                        superseded += 1
                        latency.setdefault(f"{PUBLIC}/{send[1]}", Histogram()).add(updates[at][1] - int(send[0]))
            if lost and sock.snapshot_gaps:
                # Resumed by a snapshot (screens always are): what it covers arrived as state, not as frames.
                skipped = {i for i in lost if any(a < log_id_key(i) <= b for a, b in sock.snapshot_gaps)}
                covered += len(skipped)
                lost -= skipped
            if lost and sock.ws is not None:
                missing += len(lost)
                if len(missing_examples) < 5:
                    missing_examples.append(f"{sock.role}#{sock.index}: {len(lost)} ids, e.g. {min(lost)}")
            if (truth or votes_net) and sock.ws is not None and not self._tallies_right(sock, votes_net, truth):
                tally_mismatch += 1
            liveqa_view = self.plan.protocol == "liveqa" and sock.audience in (PUBLIC, MODERATOR)
            open_now = sock.ws is not None and sock.close_code is None  # a closed socket is reported as closed
            if queue is not None and liveqa_view and open_now and sock.queue != queue:
                queue_mismatch += 1
            queue_errors += sock.queue_errors
            if sock.close_code is not None:
                closed[str(sock.close_code)] = closed.get(str(sock.close_code), 0) + 1
            for code, n in sock.reconnects.items():
                reconnects[code] = reconnects.get(code, 0) + n
            for code, n in sock.resume_failures.items():
                resume_failures[code] = resume_failures.get(code, 0) + n
            if sock.reconnecting:  # still trying when the phase ended: not back
                resume_failures[sock.resume_cause] = resume_failures.get(sock.resume_cause, 0) + 1
            duplicates += sock.duplicates
            violations += len(sock.violations)
            violation_examples.extend(f"{sock.role}#{sock.index}: {v}" for v in sock.violations if v)
            decode_errors += sock.decode_errors
            if sock.ready_ns and sock.start_ns:
                join.add(sock.ready_ns - sock.start_ns)
            if sock.open_ns and sock.start_ns:
                handshake.add(sock.open_ns - sock.start_ns)
        result: dict[str, Any] = {
            "worker": self.plan.worker,
            "sockets": len(self.sockets),
            "delivered": delivered,
            "received_chars": received_chars,
            "sockets_by_audience": sockets_by_audience,
            "latency": {key: h.to_json() for key, h in latency.items()},
            "ack_latency": self.ack_latency.to_json(),
            "join_latency": join.to_json(),
            "handshake_latency": handshake.to_json(),
            "missing": missing,
            "missing_examples": missing_examples,
            "tally_mismatches": tally_mismatch,
            "queue_mismatches": queue_mismatch if queue is not None else None,
            "queue_errors": queue_errors,
            "closed": closed,
            "reconnects": reconnects,
            "resume_failures": resume_failures,
            "duplicates": duplicates,
            "covered_by_snapshot": covered,
            "superseded": superseded,
            "vote_refusals": self.vote_refusals,
            "submit_refusals": self.submit_refusals,
            "order_violations": violations,
            "order_examples": violation_examples[:5],
            "decode_errors": decode_errors,
            "counts": self.counts,
            "errors": self.errors,
            "vote_span_ns": self.vote_span,
            "submit_span_ns": self.submit_span,
            "go_ns": self.go_ns,
            "load_end_ns": self.load_end_ns,
            "cpu_us": self_cpu_us(),
        }
        if self.plan.dump_frames:
            # One JSON array per line: ["recv", role, socket, receive ns, type, log id] for every frame received
            # during the load, ["sent", role, socket, send ns, type, ref|cid|qid] for every action sent.
            with open(self.plan.dump_frames, "w") as out:
                for sock in self.sockets:
                    for received, log_id, kind in sock.records:
                        out.write(json.dumps(["recv", sock.role, sock.index, received, kind, log_id]) + "\n")
                for sent in self.sent_log:
                    out.write(json.dumps(["sent", *sent]) + "\n")
        return result

    async def close(self) -> None:
        self.closing = True  # no reconnecting now
        self.resend_until = 0
        for task in self.retrying.values():
            task.cancel()

        async def one(sock: Sock) -> None:
            if sock.ws is not None:
                with contextlib.suppress(Exception):
                    await sock.ws.close()

        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                await asyncio.gather(*(one(s) for s in self.sockets))
        for sock in self.sockets:
            if sock.reader is not None:
                sock.reader.cancel()


async def pace(rate: float, count: int, deadline: int) -> AsyncIterator[int]:
    """Yield 0 … count-1 at `rate` per second from now (catching up in bursts when late), stopping at `deadline`."""
    if rate <= 0 or count <= 0:
        return
    interval = 1e9 / rate
    start = now()
    for i in range(count):
        due = start + int(i * interval)
        current = now()
        if current >= deadline:
            return
        if due > current:
            await asyncio.sleep((due - current) / 1e9)
        elif i % 32 == 0:
            await asyncio.sleep(0)  # late: still let the readers run
        yield i


def emit(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


async def main(plan_path: str) -> None:
    plan = msgspec.json.decode(await asyncio.to_thread(Path(plan_path).read_bytes), type=Plan)
    worker = Worker(plan)
    loop = asyncio.get_running_loop()
    commands = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(commands), sys.stdin)
    emit("started", pid=os.getpid())
    settle_info: dict[str, Any] = {"expected": {}, "sends": {}, "votes_net": {}}
    try:
        while line := await commands.readline():
            command = json.loads(line)
            match command["cmd"]:
                case "join":
                    emit("ready", **await worker.join_all())
                case "go":
                    sent = await worker.run_load()
                    path = command["path"]
                    await asyncio.to_thread(Path(path).write_text, json.dumps(sent))
                    emit("sent", path=path)
                case "settle":
                    settle_info = json.loads(await asyncio.to_thread(Path(command["path"]).read_text))
                    settling = worker.settle(
                        settle_info["expected"], settle_info["votes_net"], command["timeout"], settle_info.get("truth")
                    )
                    emit("settled", **await settling)
                case "report":
                    truth = command.get("truth", settle_info.get("truth"))  # read again after settling
                    report = worker.report(
                        settle_info["expected"],
                        settle_info["sends"],
                        settle_info["votes_net"],
                        truth,
                        command.get("queue"),
                    )
                    await asyncio.to_thread(Path(command["path"]).write_text, json.dumps(report))
                    emit("done", path=command["path"])
                case "quit":
                    break
    finally:
        await worker.close()


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plan", required=True, help="a Plan as JSON (the coordinator writes it)")
    args = parser.parse_args()
    asyncio.run(main(args.plan))


if __name__ == "__main__":
    cli()
