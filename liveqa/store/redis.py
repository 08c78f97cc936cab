"""RedisStore: async methods in, domain values out. Script replies become domain errors here and nowhere else."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
from redis.asyncio import BlockingConnectionPool, ConnectionPool, Redis, RedisCluster, connection as redis_connection
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import (
    BusyLoadingError,
    ClusterError,
    ConnectionError as RedisConnectionError,
    NoScriptError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisClusterException,
    RedisError,
    ResponseError,
    TimeoutError as RedisTimeoutError,
    TryAgainError,
)

from liveqa import metrics
from liveqa.batching import Batcher
from liveqa.domain import errors
from liveqa.domain.floor import FloorAction, FloorRequest, ScreenMode, floor_table
from liveqa.domain.model import Announcement, EventInfo, Question
from liveqa.domain.organisations import Organisation
from liveqa.domain.rules import SHOWABLE, VOTABLE, Action, transition_table
from liveqa.domain.state import EventState, LogEntry
from liveqa.store import keys
from liveqa.store.scripts import Scripts

if TYPE_CHECKING:
    from redis.commands.core import AsyncScript

_ERRORS: dict[str, type[errors.Rejected]] = {
    cls.code: cls
    for cls in (
        errors.UnknownEvent,
        errors.UnknownQuestion,
        errors.BadTransition,
        errors.NotYours,
        errors.AlreadyVoted,
        errors.NotVoted,
        errors.NotVotable,
        errors.Conflict,
        errors.QuestionsClosed,
        errors.NotQueued,
        errors.Banned,
        errors.Stale,
        errors.UnknownRequest,
        errors.SessionEnded,
    )
}
_STRINGS = msgspec.json.Decoder(list[str])
_FLATS = msgspec.json.Decoder(list[list[str]])
# Meta fields a restored event starts afresh with (its epoch is new; its screen and presence empty).
_NOT_RESTORED = frozenset({"epoch", "screen", "moderators", "created", "schema"})

logger = logging.getLogger(__name__)

SESSION_IDLE_S = 30 * 60
TRANSFER_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L
SESSION_ABSOLUTE_MS = 12 * 3600 * 1000
CLUSTER_CONNECTIONS = 1024
POOL_WAIT_S = 5.0


Client = Redis | RedisCluster
"""A client of one Redis or of a Redis Cluster: the store uses only what both offer (one-slot scripts and
transactions; every key of an event shares the hash tag {slug})."""

# A URL with one of these schemes names one node of a Redis Cluster (`redis+cluster://host:7000`); the client
# discovers the others.
CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}


def connect(
    url: str, *, timeout: float | None = 1.0, max_connections: int = 64, blocking: bool = True, retry: bool = True
) -> Client:
    """A client for `url`. Commands time out after `timeout` seconds, so a client hears `unavailable` quickly when
    Redis is frozen; a lost connection is retried once (every script is safe to run twice: submissions carry
    their client id, and votes and moderators' actions a request key under which Redis keeps their reply for a
    repeat to get; other rules refuse a repeat). A timed-out command may still run later, which is why
    submissions are idempotent. Without `retry`, a lost connection is reported at once: the hub's log reader
    needs to know, because Redis may have come back without its data.

    With `blocking`, at most `max_connections` commands are in flight and the rest wait (up to `POOL_WAIT_S`) for
    a connection instead of failing: a burst of requests queues here rather than erroring. (A frozen
    Redis still answers each command with a timeout after `timeout`, which frees its connection.)

    A `redis+cluster://` (or `rediss+cluster://`) URL gives a Redis Cluster client, which opens connections to
    each master as needed, up to `CLUSTER_CONNECTIONS` per master (redis-py's cluster client has no waiting
    pool), and follows MOVED and ASK replies when slots move.
    """
    options: dict[str, Any] = {
        "decode_responses": True,
        "socket_timeout": timeout,
        "socket_connect_timeout": 1.0,
        "health_check_interval": 5,
        # Only a lost connection is retried: a timeout is not (it would double the wait of a frozen Redis).
        "retry": Retry(
            ExponentialWithJitterBackoff(cap=0.2, base=0.05),
            1 if retry else 0,
            supported_errors=(RedisConnectionError,),
        ),
    }
    scheme, _, rest = url.partition("://")
    if scheme in CLUSTER_SCHEMES:
        return RedisCluster.from_url(
            f"{CLUSTER_SCHEMES[scheme]}://{rest}", max_connections=max(max_connections, CLUSTER_CONNECTIONS), **options
        )
    if blocking:
        pool: ConnectionPool = BlockingConnectionPool.from_url(
            url, timeout=POOL_WAIT_S, max_connections=max_connections, **options
        )
    else:
        pool = ConnectionPool.from_url(url, max_connections=max_connections, **options)
    client = Redis(connection_pool=pool)
    client.auto_close_connection_pool = True  # aclose() closes the pool too
    return client


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _pairs(flat: Sequence[str]) -> dict[str, str]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _iso(log_id: str) -> str:
    ms = int(log_id.split("-", 1)[0])
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


def parse_entry(log_id: str, fields: dict[str, str]) -> LogEntry:
    """One stream entry as written by the scripts (see lua/_lib.lua) into a domain LogEntry."""
    entry = LogEntry(id=log_id)
    if (q := fields.get("q")) is not None:
        entry.question = Question.from_flat(_STRINGS.decode(q))
    if (g := fields.get("g")) is not None:
        entry.group = Question.from_flat(_STRINGS.decode(g))
    if (r := fields.get("r")) is not None:
        entry.also = [Question.from_flat(flat) for flat in _FLATS.decode(r)]
    if (f := fields.get("f")) is not None:
        entry.floor = [FloorRequest.from_flat(flat) for flat in _FLATS.decode(f)]
    if (ls := fields.get("l")) is not None:
        entry.speakers = [] if ls == "{}" else _STRINGS.decode(ls)
    if (k := fields.get("k")) is not None:
        entry.speaking = k
    if (y := fields.get("y")) is not None:
        entry.screen_mode = ScreenMode(y)
    if (o := fields.get("o")) is not None:
        entry.queue = [] if o == "{}" else _STRINGS.decode(o)
    if (s := fields.get("s")) is not None:
        entry.screen = s
    if (v := fields.get("v")) is not None:
        qid, _, votes = v.partition(" ")
        entry.votes = (qid, int(votes))
    if (e := fields.get("e")) is not None:
        entry.event = EventInfo.from_flat(_pairs(_STRINGS.decode(e)))
    if (m := fields.get("m")) is not None:
        entry.moderators = _STRINGS.decode(m)
    if (b := fields.get("b")) is not None:
        entry.banned = _STRINGS.decode(b)
    if (n := fields.get("n")) is not None:
        entry.announcement = msgspec.json.decode(n, type=Announcement)
    if (a := fields.get("a")) is not None:
        entry.action = a
    if fields.get("x") == "deleted":
        entry.deleted = True
    return entry


def _unpack(reply: list[Any]) -> list[Any]:
    """A script's reply: its values after 'ok', or the matching domain error for a refusal."""
    code = reply[0]
    if code == "ok":
        return reply[1:]
    if code == "rate_limited":
        raise errors.RateLimited(int(reply[1]))
    raise _ERRORS.get(code, errors.Rejected)(str(reply[1]) if len(reply) > 1 else code)


def _unavailable(exc: Exception) -> errors.Unavailable | None:
    """The domain error for a Redis failure that a retry may outlive (a lost connection, a timeout, a store that
    refuses writes for now, a cluster changing), or None for the others (a bug: a script error, a wrong type)."""
    if isinstance(exc, (RedisConnectionError, RedisTimeoutError)):
        return errors.Unavailable("the store is not answering; retry shortly")
    if isinstance(exc, (OutOfMemoryError, BusyLoadingError, ReadOnlyError)):
        return errors.Unavailable("the store refuses writes right now; retry shortly")
    if isinstance(exc, (ClusterError, TryAgainError, RedisClusterException)):
        # A Redis Cluster node is down or failing over, or the slots are moving (CLUSTERDOWN, TRYAGAIN, a slot not
        # covered): the client finds the new layout on its next command.
        return errors.Unavailable("the store's cluster is changing; retry shortly")
    if isinstance(exc, ResponseError) and str(exc).startswith(("OOM", "MISCONF", "LOADING", "READONLY", "BUSY")):
        return errors.Unavailable("the store refuses writes right now; retry shortly")
    if isinstance(exc, (AttributeError, RuntimeError, TypeError)) and _in_redis_write(exc):
        # redis-py writes on a connection the event loop has just closed (a peer reset, a concurrent disconnect:
        # redis/redis-py#4287) and lets the transport's own error out instead of a ConnectionError. It has dropped
        # the connection by then; the next command opens another.
        return errors.Unavailable("the store is not answering; retry shortly")
    return None


_REDIS_CONNECTION = str(Path(redis_connection.__file__))


def _in_redis_write(exc: BaseException) -> bool:
    """Whether `exc` was raised while redis-py wrote a command to its connection."""
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename == _REDIS_CONNECTION and code.co_name in ("_send_packed_command", "send_packed_command"):
            return True
        tb = tb.tb_next
    return False


def _refusal(reply: list[Any]) -> Exception | None:
    """The domain error of one reply of a batch, or None when it is 'ok'."""
    try:
        _unpack(reply)
    except errors.Rejected as exc:
        return exc
    return None


@dataclass(frozen=True)
class Act:
    """Who does a moderator's action, and what the audit log says of it. The action's script checks the session
    (`SessionEnded` when it is over, and nothing is done) and appends the audit entry with the change itself."""

    slug: str
    sid: str
    who: str
    action: str
    detail: dict[str, str]

    def keys(self) -> list[str]:
        return [keys.session(self.slug, digest(self.sid)), keys.audit(self.slug)]

    def args(self) -> list[str]:
        fields = [item for pair in self.audit().items() for item in pair]
        return [str(SESSION_IDLE_S), str(SESSION_ABSOLUTE_MS), *fields, str(len(fields))]

    def audit(self) -> dict[str, str]:
        return _audit_fields(self.who, self.action, self.detail)


def _audit_fields(who: str, action: str, detail: dict[str, str]) -> dict[str, str]:
    return {"who": who, "action": action, **{k: v for k, v in detail.items() if v}}


class RedisStore:
    """The event data in Redis. One instance per process, shared by every connection."""

    def __init__(self, client: Client, *, log_maxlen: int = 100_000) -> None:
        self.client = client
        self._scripts = Scripts(client)
        self._maxlen = str(log_maxlen)
        self._votes: Batcher[tuple[str, tuple[int, float]], tuple[str, str, bool], str] = Batcher(self._vote_batch)
        self._joins: Batcher[tuple[str, tuple[int, float]], tuple[str, str, str], None] = Batcher(self._join_batch)
        self._actions: Batcher[str, tuple[AsyncScript, list[str], list[Any]], list[Any]] = Batcher(self._act_batch)

    async def _call(self, operation: Callable[[], Awaitable[Any]]) -> Any:
        try:
            return await operation()
        except (RedisError, RedisClusterException, AttributeError, RuntimeError, TypeError) as exc:
            if (unavailable := _unavailable(exc)) is None:
                raise
            raise unavailable from exc

    async def _run(self, name: str, keys_: list[str], args: list[Any], act: Act | None = None) -> list[Any]:
        """Run one script; a refusal becomes the matching domain error. With `act`, a moderator's action: see `Act`."""
        if act is None:
            with metrics.REDIS_SECONDS.labels(name).time():
                reply: list[Any] = await self._call(lambda: self._scripts[name](keys=keys_, args=args))
        else:
            request = keys.request(act.slug, secrets.token_hex(8))  # a retry of this call is answered, not redone
            call = (self._scripts.acting(name), [*keys_, request, *act.keys()], [*args, *act.args()])
            reply = await self._actions.submit(act.slug, call)
        values = _unpack(reply)
        if act is not None and (unwritten := values.pop()):
            # The action is done; its moderator is told so once. The operators are told of the gap in the log.
            logger.error("audit entry not written: %s", unwritten, extra={"event": act.slug, "moderator": act.who})
        return values

    async def _act_batch(
        self, slug: str, calls: list[tuple[AsyncScript, list[str], list[Any]]]
    ) -> list[list[Any] | Exception]:
        """The moderators' actions of one event that arrived together (a console's backlog, when the server is
        behind), in one pipeline: Redis runs them in the order they came, one round trip for all (on a Redis
        Cluster too: the event's keys share a slot, so it goes to the event's master). Alone, each is one call.

        The pipeline does not load the scripts first (redis-py's cluster pipeline cannot; the other would spend a
        round trip asking): on a Redis that has not seen them (new, restarted, just failed over) the actions are
        refused NOSCRIPT, and the ones from the first refused on are sent again one at a time, which loads the
        scripts. An action among them that did run answers from its request key (see _lib.lua, kept_reply) and
        is not done twice."""
        metrics.BATCH_SIZE.labels("actions").observe(len(calls))
        with metrics.REDIS_SECONDS.labels("actions").time():
            if len(calls) == 1:
                return await self._one_by_one(calls)
            pipe = self.client.pipeline() if isinstance(self.client, RedisCluster) else self.client.pipeline(False)
            for script, keys_, args in calls:
                # Not `pipe.evalsha`: the cluster pipeline refuses it (a script's keys could span slots); these
                # share the event's slot, and the command is routed by them like any other.
                pipe.execute_command("EVALSHA", script.sha, len(keys_), *keys_, *args)
            replies: list[Any] = await self._call(lambda: pipe.execute(raise_on_error=False))
            refused = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
            if refused:
                replies[refused[0] :] = await self._one_by_one(calls[refused[0] :])
        return [(_unavailable(r) or r) if isinstance(r, Exception) else r for r in replies]

    async def _one_by_one(self, calls: list[tuple[AsyncScript, list[str], list[Any]]]) -> list[list[Any] | Exception]:
        results: list[list[Any] | Exception] = []
        for script, keys_, args in calls:
            try:
                results.append(await self._call(functools.partial(script, keys=keys_, args=args)))
            except Exception as exc:  # this action's own failure; the next ones still run, in order
                results.append(exc)
        return results

    async def _run_batch(self, name: str, size: int, keys_: list[str], args: list[Any]) -> list[list[Any]]:
        """Run one script that handles a batch of `size` requests: one reply per request, each 'ok…' or a refusal
        (see `_refusal`)."""
        metrics.BATCH_SIZE.labels(name).observe(size)
        with metrics.REDIS_SECONDS.labels(name).time():
            replies: list[list[Any]] = await self._call(lambda: self._scripts[name](keys=keys_, args=args))
        return replies

    # --- events -------------------------------------------------------------------------------------

    async def create_event(
        self,
        slug: str,
        title: str,
        *,
        anonymous_allowed: bool,
        max_length: int,
        password_hash: str,
        screen_token: str = "",
        settings: dict[str, str] | None = None,
    ) -> str:
        """Create an event; returns its screen token. Raises EventExists if the slug is taken. `settings` are
        further meta fields (moderation, retention_days…)."""
        token = screen_token or secrets.token_urlsafe(24)
        reply: list[Any] = await self._call(
            lambda: self._scripts["create_event"](
                keys=[keys.meta(slug), keys.log(slug), keys.secrets(slug)],
                args=[
                    self._maxlen,
                    slug,
                    title,
                    "1" if anonymous_allowed else "0",
                    max_length,
                    secrets.token_hex(16),
                    password_hash,
                    token,
                    keys.SCHEMA_VERSION,
                    *[item for pair in (settings or {}).items() for item in pair],
                ],
            )
        )
        if reply[0] == "exists":
            raise errors.EventExists(f"event {slug!r} exists already")
        await self.client.sadd(keys.events(), slug)
        await self.client.delete(keys.deleted(slug))
        return token

    async def event_seed(self, slug: str) -> dict[str, str]:
        """What it takes to recreate an event as it is (its meta and secrets), or {} if it is gone."""
        meta: dict[str, str] = await self._call(lambda: self.client.hgetall(keys.meta(slug)))
        if not meta:
            return {}
        secret: dict[str, str] = await self._call(lambda: self.client.hgetall(keys.secrets(slug)))
        return {**meta, **{f"secret:{k}": v for k, v in secret.items()}}

    async def restore_event(self, slug: str, seed: dict[str, str]) -> bool:
        """Recreate a vanished event from its seed, with a new epoch; False if it exists or was deleted."""
        if await self._call(lambda: self.client.exists(keys.deleted(slug))):
            return False
        info = EventInfo.from_flat(seed)
        kept = {k: v for k, v in seed.items() if not k.startswith("secret:") and k not in _NOT_RESTORED}
        try:
            await self.create_event(
                slug,
                info.title,
                anonymous_allowed=info.anonymous_allowed,
                max_length=info.max_length,
                password_hash=seed.get("secret:password", ""),
                screen_token=seed.get("secret:screen_token", ""),
                settings=kept,
            )
        except errors.EventExists:
            return False
        if passcode := seed.get("secret:passcode"):
            await self.set_secret(slug, "passcode", passcode)
        return True

    async def is_deleted(self, slug: str) -> bool:
        return bool(await self._call(lambda: self.client.exists(keys.deleted(slug))))

    async def event_slugs(self) -> list[str]:
        return sorted(str(slug) for slug in await self.client.smembers(keys.events()))

    async def event_info(self, slug: str) -> EventInfo | None:
        fields: dict[str, str] = await self._call(lambda: self.client.hgetall(keys.meta(slug)))
        return EventInfo.from_flat(fields) if fields else None

    async def event_secret(self, slug: str, field: str) -> str:
        """'password' (argon2 hash) or 'screen_token'; '' when the event doesn't exist."""
        value: str | None = await self._call(lambda: self.client.hget(keys.secrets(slug), field))
        return value or ""

    async def set_secret(self, slug: str, field: str, value: str) -> None:
        await self._call(lambda: self.client.hset(keys.secrets(slug), field, value))

    async def set_event(self, slug: str, action: str = "settings", act: Act | None = None, /, **fields: str) -> str:
        """Change public settings (e.g. open='0'); returns the log id. `action` names the change in the log; `act`
        is a moderator's (positional, so that any name can be a field)."""
        flat = [item for pair in fields.items() for item in pair]
        reply = await self._run("set_event", [keys.meta(slug), keys.log(slug)], [self._maxlen, action, *flat], act)
        return str(reply[0])

    async def delete_event(self, slug: str) -> int:
        """Remove every key of the event; returns how many were removed. Running servers close its sockets."""
        await self.client.set(keys.deleted(slug), "1", ex=30 * 86400)
        with contextlib.suppress(ResponseError):  # tell running servers at once (the log is removed below)
            await self.client.xadd(keys.log(slug), {"x": "deleted"})
        removed = 0
        async for key in self.client.scan_iter(match=keys.event_keys_pattern(slug), count=500):
            removed += await self.client.unlink(key)
        await self.client.srem(keys.events(), slug)
        return removed

    # --- state and log ------------------------------------------------------------------------------

    async def load_state(self, slug: str) -> EventState:
        """The event's whole state and the log id it is the state at, read atomically."""
        meta, head, queue, questions, banned, requests, speakers = await self._run(
            "snapshot",
            [
                keys.meta(slug),
                keys.log(slug),
                keys.questions(slug),
                keys.queue(slug),
                keys.question_prefix(slug),
                keys.banned(slug),
                keys.floor_requests(slug),
                keys.floor_prefix(slug),
                keys.speakers(slug),
            ],
            [],
        )
        fields = _pairs(meta)
        state = EventState(EventInfo.from_flat(fields), fields.get("epoch", ""), head)
        for flat in questions:
            if flat:
                question = Question.from_flat(flat)
                state.put(question)
        state.queue = list(queue)
        state.screen = fields.get("screen", "")
        for flat in requests:
            if flat:
                request = FloorRequest.from_flat(flat)
                state.floor[request.id] = request
        state.speakers = list(speakers)
        state.speaking = fields.get("speaking", "")
        state.screen_mode = ScreenMode(fields.get("screen_mode", "question") or "question")
        state.moderators = _STRINGS.decode(fields["moderators"]) if fields.get("moderators") else []
        state.banned = sorted(banned)
        if fields.get("announcements", "{}") not in ("", "{}"):
            state.announcements = msgspec.json.decode(fields["announcements"], type=list[Announcement])
        return state

    async def read_log(self, reader: Client, slug: str, after: str, *, block_ms: int, count: int) -> list[LogEntry]:
        """Entries after `after`, waiting up to block_ms for the first one. `reader` is a dedicated client."""
        reply: Any = await reader.xread({keys.log(slug): after}, block=block_ms, count=count)
        if not reply:
            return []
        return [parse_entry(log_id, fields) for log_id, fields in reply[0][1]]

    async def range_log(self, slug: str, after: str, *, count: int) -> list[LogEntry]:
        """Up to `count` entries strictly after `after`."""
        reply: Any = await self._call(lambda: self.client.xrange(keys.log(slug), f"({after}", "+", count=count))
        return [parse_entry(log_id, fields) for log_id, fields in reply]

    async def first_log_id(self, slug: str) -> str:
        """The oldest entry still in the log, or '' when it is empty."""
        reply = await self._call(lambda: self.client.xrange(keys.log(slug), "-", "+", count=1))
        return str(reply[0][0]) if reply else ""

    # --- participants ---------------------------------------------------------------------------------

    async def participant(self, slug: str, token: str) -> str:
        """The participant id behind a token, or ''."""
        if not token:
            return ""
        pid: str | None = await self._call(lambda: self.client.hget(keys.participant_tokens(slug), digest(token)))
        return pid or ""

    async def transfer_code(self, slug: str, pid: str, *, ttl_s: int = 600) -> str:
        """A one-time code (8 letters and digits, easy to read aloud and type) carrying `pid` to another device."""
        code = "".join(secrets.choice(TRANSFER_ALPHABET) for _ in range(8))
        await self._call(lambda: self.client.set(keys.transfer(slug, code), pid, ex=ttl_s))
        return code

    async def redeem_transfer(self, slug: str, code: str) -> tuple[str, str]:
        """Use a transfer code once: (participant id, a new token for this device), or ('', '')."""
        normalized = code.strip().upper().replace("-", "").replace(" ", "")
        pid: str | None = await self._call(lambda: self.client.getdel(keys.transfer(slug, normalized)))
        if not pid:
            return "", ""
        token = secrets.token_urlsafe(24)
        await self._call(lambda: self.client.hset(keys.participant_tokens(slug), digest(token), pid))
        return pid, token

    async def create_invite(self, slug: str, org_id: str) -> str:
        """A code (8 letters and digits) that marks whoever uses it as the organisation, for this event."""
        code = "".join(secrets.choice(TRANSFER_ALPHABET) for _ in range(8))
        await self._call(lambda: self.client.hset(keys.invites(slug), code, org_id))
        return code

    async def redeem_invite(self, slug: str, code: str, pid: str) -> str:
        """Mark the participant as the code's organisation (a code may be used by several people of it); returns
        the organisation id, or '' for an unknown code."""
        normalized = code.strip().upper().replace("-", "").replace(" ", "")
        org_id: str | None = await self._call(lambda: self.client.hget(keys.invites(slug), normalized))
        if org_id:
            await self._call(lambda: self.client.hset(keys.invited(slug), pid, org_id))
        return org_id or ""

    async def invited_org(self, slug: str, pid: str) -> str:
        return str(await self._call(lambda: self.client.hget(keys.invited(slug), pid)) or "")

    async def take(self, slug: str, action: str, who: str, *, rate: tuple[int, float]) -> None:
        """Take a token from the (event, action, who) bucket or raise RateLimited. `who` is hashed first."""
        await self._run("rate", [keys.rate(slug, digest(who)[:16], action)], [rate[0], rate[1]])

    async def new_participant(self, slug: str, who: str, *, rate: tuple[int, float]) -> tuple[str, str]:
        """A new participant: (id, token), or RateLimited when `who` (a client address, hashed first) has made
        too many lately. Only a digest of the token is stored. Participants joining together are made in one
        call (`batching.Batcher`)."""
        pid, token = secrets.token_hex(6), secrets.token_urlsafe(24)
        await self._joins.submit((slug, rate), (digest(who)[:16], digest(token), pid))
        return pid, token

    async def _join_batch(
        self, key: tuple[str, tuple[int, float]], joins: list[tuple[str, str, str]]
    ) -> list[None | Exception]:
        slug, rate = key
        replies = await self._run_batch(
            "new_participant",
            len(joins),
            [keys.participant_tokens(slug), *(keys.rate(slug, who, "join") for who, _, _ in joins)],
            [rate[0], rate[1], *(item for _, token, pid in joins for item in (token, pid))],
        )
        return [_refusal(reply) for reply in replies]

    async def submit(
        self,
        slug: str,
        pid: str,
        cid: str,
        text: str,
        author: tuple[str, str, str],
        shown: tuple[bool, bool, bool],
        *,
        rate: tuple[int, float],
        held: str = "",
        publish: bool = False,
        source: str = "web",
        lang: str = "",
        listed: str = "",
    ) -> tuple[str, str, str, bool]:
        """Store a question once per (pid, cid): pending, or approved at once when `publish` and not `held`.
        Returns (qid, log id, stored text, was it new)."""
        qid, log_id, stored, kind = await self._run(
            "submit",
            [
                keys.meta(slug),
                keys.log(slug),
                keys.seq(slug),
                keys.submissions(slug),
                keys.questions(slug),
                keys.rate(slug, pid, "submit"),
                keys.question_prefix(slug),
                keys.queue(slug),
                keys.banned(slug),
            ],
            [
                self._maxlen,
                pid,
                cid,
                text,
                *author,
                *("1" if s else "0" for s in shown),
                rate[0],
                rate[1],
                held,
                "1" if publish else "0",
                source,
                lang,
                listed,
            ],  # fmt: skip
        )
        return str(qid), str(log_id), str(stored), kind == "new"

    async def vote(self, slug: str, pid: str, qid: str, *, up: bool, rate: tuple[int, float]) -> str:
        """Record or take back one participant's vote; returns the log id of the question's new tally. The votes
        of one event arriving together go to Redis in one call (`batching.Batcher`)."""
        return await self._votes.submit((slug, rate), (pid, qid, up))

    async def _vote_batch(
        self, key: tuple[str, tuple[int, float]], votes: list[tuple[str, str, bool]]
    ) -> list[str | Exception]:
        slug, rate = key
        replies = await self._run_batch(
            "vote",
            len(votes),
            [
                keys.meta(slug),
                keys.log(slug),
                keys.question_prefix(slug),
                keys.banned(slug),
                keys.request(slug, secrets.token_hex(8)),  # a retry of this batch is answered, not redone
                *(keys.rate(slug, pid, "vote") for pid, _, _ in votes),
            ],
            [
                self._maxlen,
                ",".join(VOTABLE),
                rate[0],
                rate[1],
                *(item for pid, qid, up in votes for item in (pid, qid, "up" if up else "down")),
            ],
        )
        return [_refusal(reply) or str(reply[2]) for reply in replies]

    # --- moderation -----------------------------------------------------------------------------------

    async def transition(
        self,
        slug: str,
        qid: str,
        action: Action,
        *,
        by: str,
        owner: str = "",
        reason: str = "",
        before: str = "",
        act: Act | None = None,
    ) -> str:
        """Apply a moderation action (or the asker's withdrawal) by the domain's table; returns the log id. A question
        entering the queue goes at its end, or just before `before` when that is in the queue."""
        reply = await self._run(
            "transition",
            [keys.meta(slug), keys.log(slug), keys.question(slug, qid), keys.queue(slug)],
            [self._maxlen, qid, by, owner, reason, str(action), before, *transition_table(action)],
            act,
        )
        return str(reply[0])

    async def edit(
        self,
        slug: str,
        qid: str,
        text: str,
        *,
        by: str,
        owner: str,
        editable: frozenset[str],
        rev: int = 0,
        act: Act | None = None,
    ) -> str:
        reply = await self._run(
            "edit",
            [keys.meta(slug), keys.log(slug), keys.question(slug, qid)],
            [self._maxlen, qid, by, owner, text, rev, ",".join(sorted(editable))],
            act,
        )
        return str(reply[0])

    async def annotate(
        self, slug: str, qid: str, action: str, *, by: str, act: Act | None = None, **fields: str
    ) -> str:
        """Set moderator-owned fields (tags, answer, display, display_lang) of a question; returns the log id."""
        flat = [item for pair in fields.items() for item in pair]
        reply = await self._run(
            "annotate",
            [keys.meta(slug), keys.log(slug), keys.question(slug, qid)],
            [self._maxlen, qid, by, action, *flat],
            act,
        )
        return str(reply[0])

    async def set_tags(self, slug: str, qid: str, tags: list[str], *, by: str, act: Act | None = None) -> str:
        return await self.annotate(slug, qid, "tag", by=by, act=act, tags=json.dumps(tags))

    async def announce(self, slug: str, text: str, *, by: str, keep: int = 5, act: Act | None = None) -> str:
        reply = await self._run("announce", [keys.meta(slug), keys.log(slug)], [self._maxlen, text, by, keep], act)
        return str(reply[0])

    async def move(
        self,
        slug: str,
        qid: str,
        *,
        before: str = "",
        after: str = "",
        speakers: bool = False,
        act: Act | None = None,
    ) -> str:
        """Move a queued question (or, with `speakers`, a listed request for the floor) before or after another."""
        where, other = ("BEFORE", before) if before else ("AFTER", after)
        order, field = (keys.speakers(slug), "l") if speakers else (keys.queue(slug), "o")
        reply = await self._run(
            "move", [keys.meta(slug), keys.log(slug), order], [self._maxlen, qid, where, other, field], act
        )
        return str(reply[0])

    # --- the floor ----------------------------------------------------------------------------------------

    async def request_floor(
        self,
        slug: str,
        pid: str,
        cid: str,
        author: tuple[str, str, str],
        topic: str,
        lang: str,
        *,
        rate: tuple[int, float],
    ) -> tuple[str, str]:
        """Ask for the floor once per (pid, cid); returns (request id, log id or '' when asked before)."""
        reply = await self._run(
            "floor_request",
            [
                keys.meta(slug),
                keys.log(slug),
                keys.floor_seq(slug),
                keys.floor_cids(slug),
                keys.floor_requests(slug),
                keys.floor_prefix(slug),
                keys.rate(slug, pid, "floor"),
                keys.banned(slug),
            ],
            [self._maxlen, pid, cid, *author, topic, lang, rate[0], rate[1]],
        )
        return str(reply[0]), str(reply[1])

    async def floor(
        self,
        slug: str,
        fid: str,
        action: FloorAction,
        *,
        by: str,
        owner: str = "",
        reason: str = "",
        act: Act | None = None,
    ) -> str:
        """List, decline, call, finish, relist or withdraw a request for the floor; returns the log id."""
        reply = await self._run(
            "floor",
            [keys.meta(slug), keys.log(slug), keys.floor_prefix(slug), keys.speakers(slug)],
            [self._maxlen, str(action), fid, by, owner, reason, *floor_table(action)],
            act,
        )
        return str(reply[0])

    async def screen_mode(self, slug: str, mode: ScreenMode, *, act: Act | None = None) -> str:
        reply = await self._run("screen_mode", [keys.meta(slug), keys.log(slug)], [self._maxlen, str(mode)], act)
        return str(reply[0])

    async def pin(self, slug: str, qid: str, *, pinned: bool, by: str, act: Act | None = None) -> str:
        reply = await self._run(
            "pin",
            [keys.meta(slug), keys.log(slug), keys.question(slug, qid), keys.queue(slug)],
            [self._maxlen, qid, by, "1" if pinned else "0"],
            act,
        )
        return str(reply[0])

    async def show(self, slug: str, qid: str, *, act: Act | None = None) -> str:
        """Put a question on the screen ('' clears it); returns the log id, '' if nothing changed."""
        reply = await self._run(
            "screen",
            [keys.meta(slug), keys.log(slug), keys.question_prefix(slug)],
            [self._maxlen, qid, ",".join(SHOWABLE)],
            act,
        )
        return str(reply[0])

    # --- the organisation directory (per deployment) -------------------------------------------------------

    async def organisations(self) -> tuple[int, list[Organisation]]:
        """(version, every listed organisation)."""
        pipe = self.client.pipeline(transaction=True)
        pipe.get(keys.organisations_version())
        pipe.hvals(keys.organisations())
        version, entries = await self._call(pipe.execute)
        return int(version or 0), [msgspec.json.decode(entry, type=Organisation) for entry in entries]

    async def organisations_version(self) -> int:
        return int(await self._call(lambda: self.client.get(keys.organisations_version())) or 0)

    async def put_organisations(self, organisations: Sequence[Organisation], *, replace: bool = False) -> int:
        """Add or update organisations (all of them replaced with `replace`); returns the directory's size."""
        entries = [item for org in organisations for item in (org.id, msgspec.json.encode(org).decode())]
        pipe = self.client.pipeline(transaction=True)
        if replace:
            pipe.delete(keys.organisations())
        if entries:
            pipe.hset(keys.organisations(), items=entries)
        pipe.incr(keys.organisations_version())
        pipe.hlen(keys.organisations())
        reply = await self._call(pipe.execute)
        return int(reply[-1])

    # --- grouping -----------------------------------------------------------------------------------------

    async def vectors(self, slug: str, qids: Sequence[str]) -> dict[str, str]:
        """Stored embeddings (`dedup.to_text`) of the given questions; missing ones are left out."""
        if not qids:
            return {}
        values = await self._call(lambda: self.client.hmget(keys.vectors(slug), list(qids)))
        return {qid: value for qid, value in zip(qids, values, strict=True) if value}

    async def store_vectors(self, slug: str, vectors: dict[str, str]) -> None:
        if vectors:
            flat = [item for pair in vectors.items() for item in pair]
            await self._call(lambda: self.client.hset(keys.vectors(slug), items=flat))

    async def grouped(self, slug: str) -> int:
        """The last question number the grouping step decided on."""
        return int(await self._call(lambda: self.client.get(keys.grouped(slug))) or 0)

    async def lease(self, slug: str, owner: str, *, ttl_ms: int) -> bool:
        """Take or keep the event's grouping lease; False while another process holds it."""
        reply = await self._run("lease", [keys.grouper(slug)], [owner, ttl_ms])
        return bool(int(reply[0]))

    async def group(self, slug: str, qid: str, after: int, outcome: str, target: str, score: float) -> str | None:
        """Record the grouping step's decision on question `qid` (merge, suggest or new), made when `after` was the
        last question decided. Returns what was done, or None when another process decided meanwhile."""
        try:
            reply = await self._run(
                "group",
                [keys.meta(slug), keys.log(slug), keys.question_prefix(slug), keys.grouped(slug), keys.queue(slug)],
                [self._maxlen, qid, str(after), outcome, target, f"{score:.3f}"],
            )
        except errors.Stale:
            return None
        return str(reply[1])

    async def merge(self, slug: str, qid: str, into: str, *, by: str, act: Act | None = None) -> str:
        """Merge a question (and its group) into another's group; returns the log id."""
        reply = await self._run(
            "merge",
            [keys.meta(slug), keys.log(slug), keys.question_prefix(slug), keys.queue(slug)],
            [self._maxlen, "merge", qid, into, by],
            act,
        )
        return str(reply[0])

    async def unmerge(self, slug: str, qid: str, *, by: str, act: Act | None = None) -> str:
        """Split a question off the group it was merged into; returns the log id."""
        reply = await self._run(
            "merge",
            [keys.meta(slug), keys.log(slug), keys.question_prefix(slug), keys.queue(slug)],
            [self._maxlen, "unmerge", qid, "", by],
            act,
        )
        return str(reply[0])

    async def presence(self, slug: str, changes: list[tuple[bool, str, str]], *, ttl_ms: int) -> str:
        """Mark consoles (console id, moderator name) here or gone; returns the log id if the names changed."""
        flat = [item for here, console, name in changes for item in ("here" if here else "gone", console, name)]
        reply = await self._run(
            "presence", [keys.meta(slug), keys.log(slug), keys.presence(slug)], [self._maxlen, ttl_ms, *flat]
        )
        return str(reply[0])

    async def erase_participant(self, slug: str, pid: str) -> int:
        """Erase a participant's identity from the event (questions keep their text, now anonymous); returns how
        many questions were changed. Older log entries naming them are removed: a client resuming from before
        gets the erased versions instead."""
        count, first = await self._run(
            "erase_participant",
            [
                keys.meta(slug),
                keys.log(slug),
                keys.questions(slug),
                keys.question_prefix(slug),
                keys.participant_tokens(slug),
                keys.floor_requests(slug),
                keys.floor_prefix(slug),
            ],
            [self._maxlen, pid],
        )
        if first:
            stale = []
            entries: Any = await self._call(lambda: self.client.xrange(keys.log(slug), "-", f"({first}"))
            named = f'"pid","{pid}"'
            for entry_id, fields in entries:
                if any(named in fields.get(field, "") for field in ("q", "g", "r", "f")):
                    stale.append(entry_id)
            for chunk in range(0, len(stale), 500):
                await self._call(lambda c=chunk: self.client.xdel(keys.log(slug), *stale[c : c + 500]))  # type: ignore[misc]
            if stale:  # a client resuming from before gets a snapshot: the entries removed may have said more
                await self._call(lambda: self.client.hset(keys.meta(slug), "resync_before", first))
        return int(count)

    async def resync_before(self, slug: str) -> str:
        """Clients holding a log id before this one get a snapshot rather than a replay ('' for none)."""
        return str(await self._call(lambda: self.client.hget(keys.meta(slug), "resync_before")) or "")

    async def ban(self, slug: str, pid: str, *, banned: bool, act: Act | None = None) -> str:
        """Bar a participant from submitting and voting (or lift it); returns the log id, '' if unchanged."""
        reply = await self._run(
            "ban",
            [keys.meta(slug), keys.log(slug), keys.banned(slug)],
            [self._maxlen, pid, "1" if banned else "0"],
            act,
        )
        return str(reply[0])

    async def audit(self, slug: str, who: str, action: str, **detail: str) -> None:
        """Append to the event's audit log (kept, and erased, with the event's personal data). A moderator's
        actions write theirs in their own scripts (`Act`)."""
        fields = _audit_fields(who, action, detail)
        await self._call(lambda: self.client.xadd(keys.audit(slug), fields))  # type: ignore[arg-type]

    async def audit_log(self, slug: str) -> list[dict[str, str]]:
        """The whole audit log, oldest first, each entry with its time ('at', UTC ISO)."""
        raw: Any = await self._call(lambda: self.client.xrange(keys.audit(slug)))
        return [{"at": _iso(entry_id), **fields} for entry_id, fields in raw]

    # --- intake channels ----------------------------------------------------------------------------------

    async def add_channel(self, slug: str, name: str) -> str:
        """A token for a new intake channel of the event (shown once; only its digest is kept)."""
        token = "lqc_" + secrets.token_urlsafe(32)
        await self._call(lambda: self.client.hset(keys.channels(slug), digest(token), name))
        return token

    async def channel(self, slug: str, token: str) -> str:
        if not token:
            return ""
        name: str | None = await self._call(lambda: self.client.hget(keys.channels(slug), digest(token)))
        return name or ""

    async def channels(self, slug: str) -> list[str]:
        names: dict[str, str] = await self._call(lambda: self.client.hgetall(keys.channels(slug)))
        return sorted(set(names.values()))

    async def remove_channel(self, slug: str, name: str) -> int:
        names: dict[str, str] = await self._call(lambda: self.client.hgetall(keys.channels(slug)))
        gone = [d for d, n in names.items() if n == name]
        if gone:
            await self._call(lambda: self.client.hdel(keys.channels(slug), *gone))
        return len(gone)

    # --- operators ------------------------------------------------------------------------------------

    async def create_operator_token(self, name: str) -> str:
        """A new API token for an operator; only its digest is stored. Shown once."""
        token = "lqo_" + secrets.token_urlsafe(32)
        await self._call(lambda: self.client.hset(keys.operators(), digest(token), name))
        return token

    async def operator(self, token: str) -> str:
        """The operator's name for a token, or ''."""
        if not token:
            return ""
        name: str | None = await self._call(lambda: self.client.hget(keys.operators(), digest(token)))
        return name or ""

    async def operators(self) -> list[str]:
        names: dict[str, str] = await self._call(lambda: self.client.hgetall(keys.operators()))
        return sorted(set(names.values()))

    async def revoke_operator(self, name: str) -> int:
        """Revoke every token of an operator; returns how many."""
        names: dict[str, str] = await self._call(lambda: self.client.hgetall(keys.operators()))
        gone = [d for d, n in names.items() if n == name]
        if gone:
            await self._call(lambda: self.client.hdel(keys.operators(), *gone))
        return len(gone)

    # --- moderator sessions -------------------------------------------------------------------------

    async def create_session(self, slug: str, moderator: str, role: str = "moderator") -> str:
        """A new session id for a moderator (or answerer) who just logged in; only its digest is a key."""
        sid = secrets.token_urlsafe(32)
        value = json.dumps({"name": moderator, "role": role, "created": int(time.time() * 1000)})
        await self._call(lambda: self.client.set(keys.session(slug, digest(sid)), value, ex=SESSION_IDLE_S))
        return sid

    async def session(self, slug: str, sid: str, *, extend: bool = True) -> str:
        """The moderator's name for a live session (extending its idle expiry unless told not to), or ''."""
        if not sid:
            return ""
        key = keys.session(slug, digest(sid))
        value: str | None = await self._call(
            lambda: self.client.getex(key, ex=SESSION_IDLE_S) if extend else self.client.get(key)
        )
        if not value:
            return ""
        data = json.loads(value)
        if int(time.time() * 1000) - int(data["created"]) > SESSION_ABSOLUTE_MS:
            await self.client.delete(key)
            return ""
        return str(data["name"])

    async def moderator_account(self, slug: str, name: str) -> tuple[str, str]:
        """(argon2 hash, role) of a personal login, or ('', '') when the name has none."""
        value: str | None = await self._call(lambda: self.client.hget(keys.moderator_accounts(slug), name.casefold()))
        if not value:
            return "", ""
        account = json.loads(value)
        return str(account["hash"]), str(account.get("role", "moderator"))

    async def set_moderator_account(self, slug: str, name: str, password_hash: str, role: str = "moderator") -> None:
        value = json.dumps({"name": name, "hash": password_hash, "role": role})
        await self._call(lambda: self.client.hset(keys.moderator_accounts(slug), name.casefold(), value))

    async def moderator_accounts(self, slug: str) -> list[str]:
        raw: dict[str, str] = await self._call(lambda: self.client.hgetall(keys.moderator_accounts(slug)))
        return sorted(json.loads(v)["name"] for v in raw.values())

    async def remove_moderator_account(self, slug: str, name: str) -> bool:
        return bool(await self._call(lambda: self.client.hdel(keys.moderator_accounts(slug), name.casefold())))

    async def end_sessions_of(self, slug: str, name: str) -> int:
        """End every session of one moderator name (their consoles close within PRESENCE_REFRESH_S)."""
        ended = 0
        async for key in self.client.scan_iter(match=keys.sessions_pattern(slug), count=500):
            value = await self.client.get(key)
            if value and json.loads(value)["name"].casefold() == name.casefold():
                ended += await self.client.delete(key)
        return ended

    async def session_role(self, slug: str, sid: str) -> str:
        """'moderator' or 'answerer' (an invited official who may only answer in writing); '' without a session."""
        value: str | None = await self._call(lambda: self.client.get(keys.session(slug, digest(sid)))) if sid else None
        return str(json.loads(value).get("role", "moderator")) if value else ""

    async def end_session(self, slug: str, sid: str) -> None:
        await self._call(lambda: self.client.delete(keys.session(slug, digest(sid))))

    # --- durability -----------------------------------------------------------------------------------

    async def writable(self) -> None:
        """Raise Unavailable unless Redis accepts a write now (it refuses when out of memory, for instance)."""
        await self._call(lambda: self.client.set(f"{keys.PREFIX}:probe", "1", px=10_000))

    async def durability(self) -> str:
        """How durable an acknowledged write is on this Redis: 'always', 'everysec', 'no', 'off' or 'unknown'."""
        try:
            config = await self._call(lambda: self.client.config_get("append*"))
        except ResponseError:
            return "unknown"  # CONFIG is disabled on managed Redis
        if config.get("appendonly") != "yes":
            return "off"
        return str(config.get("appendfsync", "unknown"))
