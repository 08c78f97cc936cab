"""Event-log readers and fan-out. Per process and per active event, one task reads the event's log once,
applies it to an in-memory EventState, encodes each frame once per audience and offers the same text to
every local socket of that audience without awaiting any of them. Moderators and screens get each change as it
comes; participants get at most one frame every AUDIENCE_EVERY_S, carrying every change since the last."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict

from redis.exceptions import RedisError

from liveqa import metrics, protocol as p, tasks, views, wire
from liveqa.connection import Connection
from liveqa.domain.errors import Rejected
from liveqa.domain.state import EventState, LogEntry, log_id_key
from liveqa.grouping import Grouping
from liveqa.store import RedisStore, keys
from liveqa.store.redis import Client
from liveqa.views import Audience

logger = logging.getLogger(__name__)

LOGIN_REQUIRED = 4001
UNKNOWN_EVENT = 4004

BLOCK_MS = 5000
BATCH = 500
REPLAY_PAGE = 500
IDLE_STOP_S = 30.0
VOTES_EVERY_S = 0.1  # vote tallies go out at most this often: a burst of votes is one frame per socket
AUDIENCE_EVERY_S = 0.1  # participants get at most one frame this often, whatever the rate of changes
CHUNK = 500  # participants handed their frame in one go; between chunks the event loop serves everything else
PRESENCE_REFRESH_S = 20.0
PRESENCE_TTL_MS = 60_000


class EventFeed:
    """The live view of one event in this process."""

    def __init__(self, slug: str, store: RedisStore, reader: Client, *, grouping: bool = True) -> None:
        self.slug = slug
        self._store = store
        self._reader = reader
        self.state: EventState
        self.grouping: Grouping | None = Grouping(slug, store) if grouping else None
        self._conns: dict[Audience, set[Connection]] = defaultdict(set)
        self._by_pid: dict[str, set[Connection]] = defaultdict(set)
        self._snapshots: dict[Audience, tuple[str, str]] = {}  # audience → (head, encoded)
        self._task: asyncio.Task[None] | None = None
        self._presence: asyncio.Task[None] | None = None
        self._idle_since: float | None = None
        self._seed: dict[str, str] = {}  # to restore the event if Redis loses it
        self.deleted = False
        # Tallies applied to the state but not yet sent (at most VOTES_EVERY_S after the last were), the last vote
        # entry's id, when tallies last went out, and the task that will send these.
        self._votes: dict[str, int] = {}
        self._votes_id = ""
        self._votes_sent = float("-inf")
        self._votes_timer: asyncio.Task[None] | None = None
        # What participants were not sent yet, in log order (see _queue_public): encoded frames with their log
        # ids; a queue-and-screen update still open to be superseded by a later one; each asker's own frames,
        # with where they go among the others. All of it goes out in one frame (see _flush_audience).
        self._outgoing: list[tuple[str, str]] = []
        self._public: p.PublicUpdate | None = None
        self._own: dict[str, list[tuple[int, str, str]]] = {}
        # Participants who joined while some of that waited, with the log id their snapshot or replay brought
        # them to: they get only what came after it.
        self._joined: dict[Connection, str] = {}
        self._audience_sent = float("-inf")
        self._audience_timer: asyncio.Task[None] | None = None
        self._handing: asyncio.Task[None] | None = None  # the rest of a large audience getting its frame

    def backlog(self) -> int:
        return sum(conn.backlog for conns in self._conns.values() for conn in conns)

    async def start(self) -> None:
        self.state = await self._store.load_state(self.slug)
        self._seed = await self._store.event_seed(self.slug)
        if self.grouping is not None:
            await self.grouping.start(self.state)
        self._task = asyncio.create_task(self._read(), name=f"feed:{self.slug}")
        self._presence = asyncio.create_task(self._refresh_presence(), name=f"presence:{self.slug}")

    async def stop(self) -> None:
        self._drop_pending()
        for task in (self._task, self._presence):
            await tasks.stop(task)
        if self.grouping is not None:
            await self.grouping.stop()

    async def _refresh_presence(self) -> None:
        """Keep this process's moderator consoles listed (a crashed process's entries simply expire), and close
        consoles whose session ended (logged out elsewhere, or expired) even if they send nothing."""
        while True:
            await asyncio.sleep(PRESENCE_REFRESH_S)
            consoles = list(self._conns[Audience.MODERATOR])
            with contextlib.suppress(Rejected):
                for conn in consoles:
                    if conn.sid and not await self._store.session(self.slug, conn.sid, extend=False):
                        conn.shut(LOGIN_REQUIRED, "session ended")
                here = [(True, c.id, c.name) for c in consoles if c.name and not c.close_code]
                await self._store.presence(self.slug, here, ttl_ms=PRESENCE_TTL_MS)

    def end_session(self, sid: str) -> None:
        """A moderator logged out here: close that session's consoles in this process at once."""
        for conn in self._conns[Audience.MODERATOR]:
            if conn.sid == sid:
                conn.shut(LOGIN_REQUIRED, "logged out")

    async def moderator_present(self, conn: Connection, here: bool) -> None:
        with contextlib.suppress(Rejected):
            await self._store.presence(self.slug, [(here, conn.id, conn.name)], ttl_ms=PRESENCE_TTL_MS)

    @property
    def size(self) -> int:
        return sum(len(conns) for conns in self._conns.values())

    # --- reading the log ------------------------------------------------------------------------------

    async def _read(self) -> None:
        delay = 0.1
        verify = False  # after a failure, the state is verified before reading on: Redis may have lost it
        while True:
            try:
                if verify:
                    if not await self._check_epoch():
                        return
                    verify = False
                entries = await self._store.read_log(
                    self._reader, self.slug, self.state.head, block_ms=BLOCK_MS, count=BATCH
                )
                if not entries and not await self._check_epoch():
                    return
                delay = 0.1
            except (OSError, RedisError, Rejected) as exc:
                logger.warning("event log read failed; retrying", extra={"event": self.slug, "error": repr(exc)})
                verify = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            if any(entry.deleted for entry in entries):
                self._close_all(UNKNOWN_EVENT, "event deleted")
                return
            self.publish(entries)

    def _close_all(self, code: int, reason: str) -> None:
        logger.warning("closing every socket of the event", extra={"event": self.slug, "close_code": code})
        self._drop_pending()
        for conns in self._conns.values():
            for conn in conns:
                conn.shut(code, reason)
        self.deleted = True

    async def _check_epoch(self) -> bool:
        """After an outage or a quiet spell, make sure the state is still the event's. If the event was recreated
        (new epoch) or Redis restarted without its data, reload (restoring the event itself if it vanished) and
        send every client a fresh snapshot. Returns False when the event was deleted: its sockets are closed."""
        epoch = await self._store.client.hget(keys.meta(self.slug), "epoch")
        if epoch is None:
            if await self._store.is_deleted(self.slug):
                self._close_all(UNKNOWN_EVENT, "event deleted")
                return False
            if await self._store.restore_event(self.slug, self._seed):
                logger.error("event data vanished from Redis; event restored empty", extra={"event": self.slug})
        else:
            first = await self._store.first_log_id(self.slug)
            went_back = bool(first) and log_id_key(first) > log_id_key(self.state.head)
            if epoch == self.state.epoch and not went_back and first:
                self._seed = await self._store.event_seed(self.slug) or self._seed
                return True
        logger.warning("event state reset; resyncing clients", extra={"event": self.slug})
        self.state = await self._store.load_state(self.slug)
        self._seed = await self._store.event_seed(self.slug) or self._seed
        if self.grouping is not None:
            await self.grouping.stop()
            self.grouping = Grouping(self.slug, self._store)
            await self.grouping.start(self.state)
        self._snapshots.clear()
        self._drop_pending()
        for audience, conns in self._conns.items():
            for conn in conns:
                conn.held = None
                conn.offer(self._snapshot_text(audience, conn.pid))
        return True

    def publish(self, entries: list[LogEntry]) -> None:
        """Apply entries to the state and fan them out. Vote tallies are coalesced: they go out at once when none
        went out in the last VOTES_EVERY_S, else together when that time is up, and always before any other entry
        (so frames keep the log's order). The audience's share waits for its next frame (see _audience_due)."""
        for entry in entries:
            if log_id_key(entry.id) <= log_id_key(self.state.head):
                continue
            if entry.votes is not None:
                self.state.apply(entry)
                self._votes[entry.votes[0]] = entry.votes[1]
                self._votes_id = entry.id
                continue
            self._send_votes()
            self._fan_entry(entry)
        if self._votes and self._votes_timer is None:
            loop = asyncio.get_running_loop()
            wait = self._votes_sent + VOTES_EVERY_S - loop.time()
            if wait <= 0:
                self._send_votes()
            else:
                self._votes_timer = asyncio.create_task(self._send_votes_after(wait), name=f"votes:{self.slug}")
        self._audience_due()
        self._snapshots.clear()
        metrics.LOG_ENTRIES.inc(len(entries))

    async def _send_votes_after(self, wait: float) -> None:
        """In a task, not a timer callback: a socket's send may need a current task (timeouts, locks)."""
        await asyncio.sleep(wait)
        self._votes_timer = None
        self._send_votes()
        self._audience_due()

    def _send_votes(self) -> None:
        """Moderators get the tallies now; participants with their next frame."""
        if self._votes_timer is not None:
            self._votes_timer.cancel()
            self._votes_timer = None
        if not self._votes:
            return
        text = p.encode(p.Votes(id=self._votes_id, votes=self._votes))
        self._votes = {}
        self._votes_sent = asyncio.get_running_loop().time()
        self._fan(Audience.MODERATOR, self._votes_id, text)
        self._seal()
        self._outgoing.append((self._votes_id, text))

    def _drop_pending(self) -> None:
        """Tallies and the audience's changes not sent are dropped: every socket is about to get a snapshot, or
        the feed stops."""
        for timer in (self._votes_timer, self._audience_timer, self._handing):
            if timer is not None:
                timer.cancel()
        self._votes_timer = self._audience_timer = self._handing = None
        self._votes = {}
        self._outgoing, self._public, self._own, self._joined = [], None, {}, {}

    def _fan_entry(self, entry: LogEntry) -> None:
        """Moderators first, then screens, the audience and the asker: frames are sent as they are offered
        (see Connection.offer), so the few who act on them never wait behind thousands of participants."""
        before = self.state.questions.get(entry.question.id) if entry.question is not None else None
        screen_before, queue_before = self.state.screen, self.state.queue
        self.state.apply(entry)
        framed = views.frames(entry, before, known=True, queue_before=queue_before)
        if (moderator := framed.get(Audience.MODERATOR)) is not None:
            self._fan(Audience.MODERATOR, entry.id, p.encode(moderator))
        if (screen := views.screen_frame(entry, screen_before, self.state)) is not None:
            self._fan(Audience.SCREEN, entry.id, p.encode(screen))
        if (public := framed.get(Audience.PUBLIC)) is not None:
            self._queue_public(entry.id, public)
        for pid, own in views.own_frames(entry):
            if pid in self._by_pid:
                self._seal()  # the asker's frame goes after what the audience got before it
                self._own.setdefault(pid, []).append((len(self._outgoing), entry.id, p.encode(own)))
        if self.grouping is not None:
            for question in (entry.question, entry.group, *entry.also):
                if question is not None:
                    self.grouping.observe(question)

    def _queue_public(self, log_id: str, frame: p.Outbound) -> None:
        """The audience's frame of one entry, for its next frame. An update of only the queue order and the screen
        stays open, and a later one of the same kind just after replaces it (with what it did not change; the order
        whole if the first changed it): when moderators reorder fast, participants get the latest order, not every
        order in between."""
        if isinstance(frame, p.PublicUpdate) and frame.question is None and frame.group is None and not frame.removed:
            if (held := self._public) is not None:
                if _orders(held):  # whole: a step carried under a later id could be applied twice
                    frame.queue, frame.place, frame.unqueue = self.state.queue, None, ""
                frame.screen = held.screen if frame.screen is None else frame.screen
            self._public = frame
            return
        self._seal()
        self._outgoing.append((log_id, p.encode(frame)))

    def _seal(self) -> None:
        """The open queue-and-screen update can no longer be superseded: something else follows it."""
        if (frame := self._public) is not None:
            self._public = None
            self._outgoing.append((frame.id, p.encode(frame)))

    def _audience_due(self) -> None:
        """Send the audience what waits now if nothing went to it in the last AUDIENCE_EVERY_S, else when that time
        is up: however fast changes come, each participant gets at most one frame per AUDIENCE_EVERY_S. Not while
        the last frame is still being handed out (the next would overtake it on the sockets not served yet)."""
        if self._audience_timer is not None or self._handing is not None:
            return
        if not (self._outgoing or self._public or self._own):
            return
        wait = self._audience_sent + AUDIENCE_EVERY_S - asyncio.get_running_loop().time()
        if wait <= 0:
            self._flush_audience()
        else:
            self._audience_timer = asyncio.create_task(self._flush_audience_after(wait), name=f"audience:{self.slug}")

    async def _flush_audience_after(self, wait: float) -> None:
        await asyncio.sleep(wait)
        self._audience_timer = None
        self._send_votes()
        self._flush_audience()

    def _flush_audience(self) -> None:
        """One frame to every participant with every change waiting (a `batch` when there are several), encoded
        once; an asker whose own questions changed gets the same with their own frames in their places."""
        if self._audience_timer is not None:
            self._audience_timer.cancel()
            self._audience_timer = None
        self._seal()
        outgoing, own, joined = self._outgoing, self._own, self._joined
        self._outgoing, self._own, self._joined = [], {}, {}
        if not (outgoing or own):
            return
        self._audience_sent = asyncio.get_running_loop().time()
        askers = {conn for pid in own for conn in self._by_pid.get(pid, ())}
        if outgoing and self._conns[Audience.PUBLIC]:
            log_id, text = _batch(outgoing)
            targets = [conn for conn in self._conns[Audience.PUBLIC] if conn not in askers and conn not in joined]
            self._hand_out(targets, log_id, text)
        for conn, head in joined.items():
            if conn not in askers:
                self._deliver_since(conn, head, outgoing)
        for pid, frames in own.items():
            mine: list[tuple[str, str]] = []
            start = 0
            for at, own_id, own_text in frames:
                mine += outgoing[start:at]
                mine.append((own_id, own_text))
                start = at
            mine += outgoing[start:]
            log_id, text = _batch(mine)
            for conn in self._by_pid.get(pid, ()):
                if conn in joined:
                    self._deliver_since(conn, joined[conn], mine)
                else:
                    self._deliver(conn, log_id, text)
                    metrics.FRAMES_OUT.labels(Audience.PUBLIC).inc()

    def _hand_out(self, conns: list[Connection], log_id: str, text: str) -> None:
        """The audience's frame to `conns`, CHUNK sockets in one go and the rest from a task, a chunk per turn of
        the event loop: a moderator's action or a submission never waits for a whole large audience's frame."""
        data = wire.frame(text)  # once for every socket (see Connection.offer)
        for conn in conns[:CHUNK]:
            self._deliver(conn, log_id, text, data)
        if len(conns) > CHUNK:
            self._handing = asyncio.create_task(
                self._hand_out_rest(conns, log_id, text, data), name=f"hand:{self.slug}"
            )
        metrics.FRAMES_OUT.labels(Audience.PUBLIC).inc(len(conns))

    async def _hand_out_rest(self, conns: list[Connection], log_id: str, text: str, data: bytes) -> None:
        for start in range(CHUNK, len(conns), CHUNK):
            await asyncio.sleep(0)
            for conn in conns[start : start + CHUNK]:
                self._deliver(conn, log_id, text, data)
        self._handing = None
        self._audience_due()

    def _deliver_since(self, conn: Connection, head: str, frames: list[tuple[str, str]]) -> None:
        """To a participant who joined at `head`: the frames after it, if any."""
        after = [(log_id, text) for log_id, text in frames if log_id_key(log_id) > log_id_key(head)]
        if after:
            self._deliver(conn, *_batch(after))
            metrics.FRAMES_OUT.labels(Audience.PUBLIC).inc()

    def _fan(self, audience: Audience, log_id: str, text: str) -> None:
        conns = self._conns[audience]
        if not conns:
            return
        data = wire.frame(text)  # once for every socket (see Connection.offer)
        for conn in conns:
            self._deliver(conn, log_id, text, data)
        metrics.FRAMES_OUT.labels(audience).inc(len(conns))

    @staticmethod
    def _deliver(conn: Connection, log_id: str, text: str, data: bytes | None = None) -> None:
        if conn.held is not None:
            conn.held.append((log_id, text))
        else:
            conn.offer(text, data)

    # --- joining and resuming -----------------------------------------------------------------------

    def _snapshot_text(self, audience: Audience, pid: str = "") -> str:
        mine = any(q.pid == pid for q in self.state.questions.values()) or any(
            r.pid == pid for r in self.state.floor.values()
        )
        if pid and mine:
            return p.encode(views.snapshot(self.state, audience, pid))
        cached = self._snapshots.get(audience)
        if cached is None or cached[0] != self.state.head:
            cached = (self.state.head, p.encode(views.snapshot(self.state, audience)))
            self._snapshots[audience] = cached
        return cached[1]

    async def attach(self, conn: Connection, epoch: str, last_id: str) -> None:
        """Bring a new socket up to date, then live: replay what it missed after `last_id` when the log still
        holds it, else a snapshot. Live frames that arrive meanwhile are held and sent after, without duplicates."""
        # The sockets already here get the tallies the newcomer's snapshot or replay includes. What waits for the
        # audience's next frame is sent then, without what the newcomer has: joining never sends the others an
        # extra frame (a storm of reconnections would otherwise break the audience's rate).
        self._send_votes()
        if conn.audience is Audience.PUBLIC and (self._outgoing or self._public or self._own):
            self._joined[conn] = self.state.head
        self._idle_since = None
        self._conns[conn.audience].add(conn)
        metrics.CONNECTIONS.labels(conn.audience).inc()
        if conn.pid:
            self._by_pid[conn.pid].add(conn)
        resumable = (
            conn.audience is not Audience.SCREEN  # a screen's whole state is one question: always a snapshot
            and epoch == self.state.epoch
            and last_id
            and log_id_key(last_id) <= log_id_key(self.state.head)
        )
        if not resumable:
            conn.offer(self._snapshot_text(conn.audience, conn.pid))
            return
        if last_id == self.state.head:
            conn.offer(p.encode(p.Resumed(from_id=last_id)))
            return
        conn.held = []
        target = self.state.head
        first = await self._store.first_log_id(self.slug)
        resync = await self._store.resync_before(self.slug)
        if conn.held is None:
            return  # the event was resynced meanwhile: the connection got a fresh snapshot
        if resync and log_id_key(resync) > log_id_key(last_id):
            first = ""  # entries before an erasure were removed: what followed can't be proven complete
        if not first or log_id_key(first) > log_id_key(last_id):
            # The client's last entry was trimmed away (or the log emptied): what followed it can't be proven
            # complete, so it gets a snapshot.
            conn.held = None
            conn.offer(self._snapshot_text(conn.audience, conn.pid))
            return
        conn.offer(p.encode(p.Resumed(from_id=last_id)))
        cursor = last_id
        while log_id_key(cursor) < log_id_key(target):
            entries = await self._store.range_log(self.slug, cursor, count=REPLAY_PAGE)
            if conn.held is None:
                return
            replayable = [e for e in entries if log_id_key(e.id) <= log_id_key(target)]
            for entry in replayable:
                self._replay(conn, entry)
                cursor = entry.id
            if len(replayable) < len(entries) or not entries:
                break
        held, conn.held = conn.held, None
        for log_id, text in held:
            if not log_id or log_id_key(log_id) > log_id_key(cursor):
                conn.offer(text)

    def _replay(self, conn: Connection, entry: LogEntry) -> None:
        frame = views.frames(entry, None, known=False).get(conn.audience)
        if frame is not None:
            conn.offer(p.encode(frame))
        for pid, own in views.own_frames(entry):
            if pid == conn.pid:
                conn.offer(p.encode(own))

    def detach(self, conn: Connection) -> None:
        self._joined.pop(conn, None)
        if conn in self._conns[conn.audience]:
            metrics.CONNECTIONS.labels(conn.audience).dec()
        self._conns[conn.audience].discard(conn)
        if conn.pid:
            peers = self._by_pid.get(conn.pid)
            if peers is not None:
                peers.discard(conn)
                if not peers:
                    del self._by_pid[conn.pid]
        if self.size == 0:
            self._idle_since = asyncio.get_running_loop().time()

    def touch(self) -> None:
        """Someone is about to attach: an idle feed's clock restarts so the reaper leaves it alone."""
        if self._idle_since is not None:
            self._idle_since = asyncio.get_running_loop().time()

    def idle_for(self, now: float) -> float:
        return 0.0 if self._idle_since is None else now - self._idle_since


def _orders(frame: p.PublicUpdate) -> bool:
    """Whether an audience frame changes the queue order."""
    return frame.queue is not None or frame.place is not None or bool(frame.unqueue)


def _batch(frames: list[tuple[str, str]]) -> tuple[str, str]:
    """(log id, text) of one frame carrying `frames` (encoded, in log order): the frame itself when alone."""
    if len(frames) == 1:
        return frames[0]
    log_id = frames[-1][0]
    return log_id, f'{{"type":"batch","id":"{log_id}","frames":[{",".join(text for _, text in frames)}]}}'


class Hub:
    """Every active event's feed in this process, started on first use and stopped when idle."""

    def __init__(self, store: RedisStore, reader: Client, *, grouping: bool = True) -> None:
        self._store = store
        self._reader = reader
        self._grouping = grouping
        self._feeds: dict[str, EventFeed] = {}
        self._starting: dict[str, asyncio.Future[EventFeed]] = {}
        self._reaper: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Hub:
        self._reaper = asyncio.create_task(self._reap(), name="hub-reaper")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await tasks.stop(self._reaper)
        for feed in list(self._feeds.values()):
            await self._retire(feed)
        self._feeds.clear()

    async def feed(self, slug: str) -> EventFeed:
        """The running feed of an event, started if needed. Raises UnknownEvent for an unknown slug."""
        if (feed := self._feeds.get(slug)) is not None:
            if not feed.deleted:
                feed.touch()
                return feed
            del self._feeds[slug]
            await self._retire(feed)
        if (starting := self._starting.get(slug)) is not None:
            return await asyncio.shield(starting)
        future: asyncio.Future[EventFeed] = asyncio.get_running_loop().create_future()
        self._starting[slug] = future
        try:
            # Each feed blocks on XREAD, so it gets its own connection from a client of its own.
            feed = EventFeed(slug, self._store, self._reader, grouping=self._grouping)
            await feed.start()
            self._feeds[slug] = feed
            metrics.QUEUE_DEPTH.sources.append(feed.backlog)
            future.set_result(feed)
            return feed
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: nobody else may be waiting
            raise
        finally:
            del self._starting[slug]

    async def _retire(self, feed: EventFeed) -> None:
        await feed.stop()
        if feed.backlog in metrics.QUEUE_DEPTH.sources:
            metrics.QUEUE_DEPTH.sources.remove(feed.backlog)

    def running(self, slug: str) -> EventFeed | None:
        return self._feeds.get(slug)

    async def _reap(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(IDLE_STOP_S / 3)
            for slug, feed in list(self._feeds.items()):
                if feed.size == 0 and feed.idle_for(loop.time()) > IDLE_STOP_S:
                    del self._feeds[slug]
                    await self._retire(feed)
