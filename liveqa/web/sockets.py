"""The three WebSocket endpoints: participant, moderator, screen. Decode, act, reply; the hub does fan-out.

Every socket starts with `hello`; state reaches the client through the event log (via the hub), and
direct replies (ack, done, error) go only to the sender. Rule violations come back as `error` frames and
the socket stays open; only connection-level abuse closes it, with a documented code.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable

import msgspec
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from liveqa import auth, metrics, protocol as p, submissions, wire
from liveqa.connection import Connection
from liveqa.domain import errors, rules, text as texts
from liveqa.domain.floor import FloorAction
from liveqa.domain.model import Status
from liveqa.domain.rules import Action
from liveqa.hub import EventFeed
from liveqa.store.redis import Act
from liveqa.views import Audience
from liveqa.web.services import Services

logger = logging.getLogger(__name__)

# Close codes (see docs/protocol.md).
UNSUPPORTED_DATA = 1003  # a binary frame: this protocol is text only
POLICY = 1008  # bad credentials, or too many invalid messages
TRY_LATER = 1013  # the store is unavailable at connect
LOGIN_REQUIRED = 4001  # moderator session missing, expired or ended
PASSCODE = 4003  # the event asks new participants for its passcode
UNKNOWN_EVENT = 4004
RATE_LIMITED = 4029
UNSUPPORTED_VERSION = 4400

HELLO_TIMEOUT_S = 10.0
# A console's frames handled at once: its actions queue in Redis's order and go together when Redis is slower than
# the moderator (one round trip for many); beyond this many, the socket is not read until one is done.
MODERATOR_AHEAD = 100
HINT_WINDOW_S = 5.0
HINTS_PER_WINDOW = 10
TRANSFER_TTL_S = 600
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_CID = re.compile(r"[A-Za-z0-9_-]{8,64}")


def _describe(exc: msgspec.MsgspecError) -> tuple[str, str]:
    """An error code and a detail that says where the message is wrong without echoing what it contained."""
    if isinstance(exc, msgspec.ValidationError):
        return "invalid_message", _QUOTED.sub("…", str(exc))
    return "malformed_json", "the frame is not valid JSON"


class Session:
    """One accepted socket: its connection (writer), its feed, and the invalid-message budget."""

    def __init__(
        self,
        websocket: WebSocket,
        services: Services,
        feed: EventFeed,
        conn: Connection,
        *,
        sid: str = "",
        role: str = "",
    ) -> None:
        self.websocket = websocket
        self.role = role  # a moderator's: 'moderator', or 'answerer' (may only reply)
        self.sid = sid  # a moderator's session id, checked again on every action
        self.services = services
        self.feed = feed
        self.conn = conn
        self.slug = feed.slug
        # Lists, not deques: they hold a few times at most, and an empty deque costs 760 bytes on every socket.
        self._invalid: list[float] = []  # when this socket's invalid messages came, in the last minute
        self.hints: list[float] = []  # when this socket last asked for similar questions
        self.invited = ""  # the organisation an invite code marked this participant as, if any

    def reply(self, frame: p.Outbound) -> None:
        if isinstance(frame, p.Error):
            metrics.ERRORS.labels(frame.code).inc()
        self.conn.offer(p.encode(frame))

    def invalid(self, code: str, detail: str, *, cid: str = "") -> None:
        """Report an invalid message; too many in a minute close the socket (1008)."""
        now = time.monotonic()
        self._invalid.append(now)
        while self._invalid and now - self._invalid[0] > 60:
            del self._invalid[0]
        self.reply(p.Error(code=code, detail=detail, cid=cid))
        if len(self._invalid) >= self.services.settings.invalid_limit:
            self.conn.shut(POLICY, "too many invalid messages")


async def _refuse_handshake(websocket: WebSocket, services: Services) -> bool:
    """Refuse (HTTP 403) a handshake from a foreign origin or one offering only other subprotocols."""
    origin = websocket.headers.get("origin")
    scheme = websocket.scope.get("scheme", "ws")  # not websocket.url: building it cost 2 % of a join's CPU
    if not auth.origin_allowed(origin, websocket.headers.get("host"), scheme, services.allowed_origins()):
        logger.warning("websocket refused: origin not allowed", extra={"path": websocket.url.path})
        await websocket.close(POLICY)
        return True
    offered = websocket.scope.get("subprotocols") or []
    if offered and p.SUBPROTOCOL not in offered:
        await websocket.close(POLICY)
        return True
    return False


async def _accept(websocket: WebSocket) -> None:
    offered = websocket.scope.get("subprotocols") or []
    await websocket.accept(subprotocol=p.SUBPROTOCOL if p.SUBPROTOCOL in offered else None)


async def _receive_text(session: Session) -> str | None:
    """The next text frame, or None when the client left or must be closed."""
    message = await session.websocket.receive()
    if message["type"] == "websocket.disconnect":
        return None
    if message.get("text") is None:
        session.conn.shut(UNSUPPORTED_DATA, "text frames only")
        return None
    return str(message["text"])


async def _await_hello(websocket: WebSocket) -> p.Hello | None:
    """The first frame must be a valid hello, within HELLO_TIMEOUT_S; otherwise the socket is closed."""
    try:
        async with asyncio.timeout(HELLO_TIMEOUT_S):
            message = await websocket.receive()
    except TimeoutError:
        await websocket.close(POLICY, "hello expected")
        return None
    if message["type"] == "websocket.disconnect":
        return None
    if message.get("text") is None:
        await websocket.close(UNSUPPORTED_DATA, "text frames only")
        return None
    try:
        hello = msgspec.json.decode(message["text"], type=p.Hello)
    except msgspec.MsgspecError as exc:
        code, detail = _describe(exc)
        await websocket.send_text(p.encode(p.Error(code="hello_expected", detail=f"{code}: {detail}")))
        await websocket.close(POLICY, "hello expected")
        return None
    if hello.v != p.VERSION:
        await websocket.send_text(
            p.encode(p.Error(code="unsupported_version", detail=f"this server speaks v{p.VERSION}"))
        )
        await websocket.close(UNSUPPORTED_VERSION, "unsupported protocol version")
        return None
    return hello


async def _serve(session: Session, hello: p.Hello, welcome: p.Welcome, handle: Handler, *, ahead: int = 1) -> None:
    """Welcome, attach to the feed (replay or snapshot), then read frames until the client leaves. Up to `ahead`
    frames are handled at once (each started in the order it came: see `_moderator_frame`); the socket is read
    meanwhile, so its pings are answered however long its backlog takes."""
    conn = session.conn
    conn.offer(p.encode(welcome))
    handling: list[asyncio.Task[None]] = []  # a list: an empty deque is 760 bytes, on every socket
    try:
        try:
            await session.feed.attach(conn, hello.epoch, hello.last_id)
        except errors.Unavailable:
            conn.shut(TRY_LATER, "store unavailable")
        while not conn.close_code:
            text = await _receive_text(session)
            if text is None:
                break
            metrics.FRAMES_IN.labels(conn.audience).inc()
            if ahead == 1:
                await _handle(session, handle, text)
                continue
            handling.append(asyncio.create_task(_handle(session, handle, text)))
            while handling and (handling[0].done() or len(handling) >= ahead):
                await handling.pop(0)
    except WebSocketDisconnect:
        pass
    finally:
        # What was read is handled (its actions were sent): the client that left finds them in its next snapshot.
        await asyncio.gather(*handling, return_exceptions=True)
        session.feed.detach(conn)
        await conn.finish()


async def _handle(session: Session, handle: Handler, text: str) -> None:
    try:
        await handle(session, text)
    except Exception:  # a bug of ours: say so to this client, log it, keep serving everyone
        logger.exception("unexpected error handling a frame", extra={"event": session.slug})
        session.reply(p.Error(code="internal_error", detail="the server failed to handle that; retry"))


Handler = Callable[[Session, str], Awaitable[None]]


async def _open(websocket: WebSocket, audience: Audience) -> tuple[Services, EventFeed] | None:
    services: Services = websocket.app.state.services
    if await _refuse_handshake(websocket, services):
        return None
    slug = websocket.path_params["slug"]
    try:
        feed = await services.hub.feed(slug)
    except errors.UnknownEvent:
        await _accept(websocket)
        await websocket.close(UNKNOWN_EVENT, "unknown event")
        return None
    except errors.Unavailable:
        await _accept(websocket)
        await websocket.close(TRY_LATER, "store unavailable")
        return None
    await _accept(websocket)
    return services, feed


def _connection(
    websocket: WebSocket, services: Services, audience: Audience, pid: str = "", name: str = "", sid: str = ""
) -> Connection:
    async def close(code: int, reason: str) -> None:
        if websocket.application_state is WebSocketState.CONNECTED:
            await websocket.close(code, reason)

    return Connection(
        websocket.send_text,
        close,
        audience,
        pid=pid,
        name=name,
        sid=sid,
        max_frames=services.settings.max_frames_queued,
        max_bytes=services.settings.max_bytes_queued,
        send_timeout=services.settings.send_timeout,
        direct=wire.direct(),
    )


# --- participant -------------------------------------------------------------------------------------


async def participant(websocket: WebSocket) -> None:
    opened = await _open(websocket, Audience.PUBLIC)
    if opened is None:
        return
    services, feed = opened
    hello = await _await_hello(websocket)
    if hello is None:
        return
    settings = services.settings
    address = websocket.client.host if websocket.client else "unknown"
    fresh = False  # a new identity: no invite was redeemed for it yet
    try:
        pid = await services.store.participant(feed.slug, hello.token)
        token = hello.token
        if not pid and hello.transfer:
            await services.store.take(
                feed.slug, "transfer", address, rate=(settings.login_burst, settings.login_per_minute / 60)
            )
            pid, token = await services.store.redeem_transfer(feed.slug, hello.transfer)
            if not pid:
                await websocket.send_text(p.encode(p.Error(code="bad_transfer_code", detail="unknown or used code")))
        if not pid:
            if feed.state.info.passcode_required:
                # Passcodes are short and often shown on the stream: friction against spam, not secrecy.
                # Guesses are limited per address like logins.
                await services.store.take(
                    feed.slug, "passcode", address, rate=(settings.login_burst, settings.login_per_minute / 60)
                )
                expected = await services.store.event_secret(feed.slug, "passcode")
                if not auth.same_secret(expected, hello.passcode.strip()):
                    code = "wrong_passcode" if hello.passcode else "passcode_required"
                    await websocket.send_text(p.encode(p.Error(code=code, detail="this event asks for its passcode")))
                    await websocket.close(PASSCODE, "passcode required")
                    return
            # New identities are rate-limited per address (votes are per identity); venues share addresses,
            # so the default allows a room full of people joining at once.
            pid, token = await services.store.new_participant(
                feed.slug, address, rate=(settings.join_burst, settings.join_per_minute / 60)
            )
            fresh = True
    except errors.Unavailable:
        await websocket.close(TRY_LATER, "store unavailable")
        return
    except errors.RateLimited as exc:
        await websocket.send_text(
            p.encode(p.Error(code=exc.code, detail=exc.detail, retry_after_ms=exc.retry_after_ms))
        )
        await websocket.close(RATE_LIMITED, "too many attempts from this address")
        return
    conn = _connection(websocket, services, Audience.PUBLIC, pid)
    session = Session(websocket, services, feed, conn)
    organisation = ""
    try:
        org_id = await services.store.redeem_invite(feed.slug, hello.invite, pid) if hello.invite else ""
        if hello.invite and not org_id:
            await websocket.send_text(p.encode(p.Error(code="bad_invite", detail="unknown invite code")))
        if not org_id and not fresh:
            org_id = await services.store.invited_org(feed.slug, pid)
        session.invited = org_id  # read once per socket, not once per question
        listed = (await services.organisations.directory()).get(org_id) if org_id else None
        organisation = listed.name if listed is not None else ""
    except errors.Unavailable:
        await websocket.close(TRY_LATER, "store unavailable")
        return
    info = p.EventView.of(feed.state.info)
    welcome = p.Welcome(
        role="participant",
        event=info,
        epoch=feed.state.epoch,
        pid=pid,
        token=token,
        now=_now_ms(),
        organisation=organisation,
    )
    await _serve(session, hello, welcome, _participant_frame)


async def _participant_frame(session: Session, text: str) -> None:
    try:
        message = p.decode_participant(text)
    except msgspec.MsgspecError as exc:
        session.invalid(*_describe(exc), cid=_salvage_cid(text))
        return
    store, slug, pid = session.services.store, session.slug, session.conn.pid
    settings = session.services.settings
    cid = message.cid if isinstance(message, p.Submit | p.RequestFloor) else ""
    qid = getattr(message, "qid", "")
    try:
        match message:
            case p.Submit():
                draft = submissions.Draft(
                    cid=message.cid,
                    text=message.text,
                    name=message.name,
                    organisation=message.organisation,
                    country=message.country,
                    show_name=message.show_name,
                    show_organisation=message.show_organisation,
                    show_country=message.show_country,
                )
                info = session.feed.state.info
                directory = await session.services.organisations.directory()
                invited = directory.get(session.invited)
                stored = await submissions.submit(
                    store,
                    info,
                    session.services.words_for(info),
                    pid,
                    draft,
                    rate=(settings.submit_burst, settings.submit_per_minute / 60),
                    directory=directory,
                    invited=invited,
                )
                session.reply(p.Ack(cid=message.cid, qid=stored.qid, id=stored.log_id, text=stored.text))
                metrics.SUBMISSIONS.labels("held" if stored.held else "stored").inc()
            case p.Edit():
                body = texts.clean(message.text, max_length=session.feed.state.info.max_length)
                await store.edit(slug, message.qid, body, by="", owner=pid, editable=_names(rules.ASKER_EDITABLE))
            case p.Withdraw():
                await store.transition(slug, message.qid, Action.WITHDRAW, by="", owner=pid)
            case p.Upvote() | p.Unvote():
                rate = (settings.vote_burst, settings.vote_per_minute / 60)
                await store.vote(slug, pid, message.qid, up=isinstance(message, p.Upvote), rate=rate)
            case p.TransferRequest():
                code = await store.transfer_code(slug, pid, ttl_s=TRANSFER_TTL_S)
                session.reply(p.TransferCode(code=code, expires_in_s=TRANSFER_TTL_S))
            case p.FindSimilar():
                session.reply(await _similar(session, message))
            case p.RequestFloor():
                info = session.feed.state.info
                author = rules.check_author(
                    message.name, message.organisation, message.country, anonymous_allowed=info.anonymous_allowed
                )
                topic = texts.clean(message.topic, max_length=200)
                fid, _ = await store.request_floor(
                    slug, pid, message.cid, author, topic, message.lang,
                    rate=(settings.submit_burst, settings.submit_per_minute / 60),
                )  # fmt: skip
                session.reply(p.FloorAck(cid=message.cid, fid=fid))
            case p.WithdrawFloor():
                await store.floor(slug, message.fid, FloorAction.WITHDRAW, by="", owner=pid)
            case p.Ping():
                session.reply(p.Pong())
            case p.Hello():
                session.invalid("unexpected_hello", "hello is only the first frame")
    except errors.Rejected as exc:
        session.reply(_error(exc, cid=cid, qid=qid))


async def _similar(session: Session, message: p.FindSimilar) -> p.Outbound:
    """Hints while typing: a few a second per socket at most (each costs an embedding); more are refused."""
    grouping = session.feed.grouping
    if grouping is None:
        return p.Similar(ref=message.ref, questions=[])
    now = time.monotonic()
    hints = session.hints
    while hints and now - hints[0] > HINT_WINDOW_S:
        del hints[0]
    if len(hints) >= HINTS_PER_WINDOW:
        raise errors.RateLimited(int((HINT_WINDOW_S - (now - hints[0])) * 1000) + 1)
    hints.append(now)
    try:
        draft = texts.clean(message.text, max_length=session.feed.state.info.max_length)
    except errors.InvalidText:
        return p.Similar(ref=message.ref, questions=[])
    found = await grouping.hints(draft)
    return p.Similar(
        ref=message.ref, questions=[p.SimilarQuestion(id=h.id, text=h.text, score=round(h.score, 3)) for h in found]
    )


def _now_ms() -> int:
    return int(time.time() * 1000)


def _names(statuses: frozenset[Status]) -> frozenset[str]:
    return frozenset(str(s) for s in statuses)


def _salvage_cid(text: str) -> str:
    """The cid of a submission the decoder refused, when one can be read: so the sender's outbox knows which."""
    try:
        raw = msgspec.json.decode(text)
    except msgspec.DecodeError:
        return ""
    cid = raw.get("cid") if isinstance(raw, dict) else None
    return cid if isinstance(cid, str) and _CID.fullmatch(cid) else ""


def _error(exc: errors.Rejected, *, cid: str = "", ref: str = "", qid: str = "") -> p.Error:
    retry = (
        exc.retry_after_ms
        if isinstance(exc, errors.RateLimited)
        else 1000
        if isinstance(exc, errors.Unavailable)
        else 0
    )
    if isinstance(exc, errors.Unavailable):
        logger.warning("store unavailable: %r", exc.__cause__, extra={"error": exc.detail})
    return p.Error(code=exc.code, detail=exc.detail, cid=cid, ref=ref, qid=qid, retry_after_ms=retry)


# --- moderator ---------------------------------------------------------------------------------------


async def moderator(websocket: WebSocket) -> None:
    opened = await _open(websocket, Audience.MODERATOR)
    if opened is None:
        return
    services, feed = opened
    sid = websocket.cookies.get(auth.SESSION_COOKIE, "")
    try:
        name = await services.store.session(feed.slug, sid)
    except errors.Unavailable:
        await websocket.close(TRY_LATER, "store unavailable")
        return
    if not name:
        await websocket.close(LOGIN_REQUIRED, "login required")
        return
    hello = await _await_hello(websocket)
    if hello is None:
        return
    conn = _connection(websocket, services, Audience.MODERATOR, name=name, sid=sid)
    role = await services.store.session_role(feed.slug, sid)
    session = Session(websocket, services, feed, conn, sid=sid, role=role)
    welcome = p.Welcome(
        role="moderator", event=p.EventView.of(feed.state.info), epoch=feed.state.epoch, moderator=name, now=_now_ms()
    )
    await feed.moderator_present(conn, True)
    try:
        await _serve(session, hello, welcome, _moderator_frame, ahead=MODERATOR_AHEAD)
    finally:
        await feed.moderator_present(conn, False)


async def _moderator_frame(session: Session, text: str) -> None:
    """One console's frames are handled together when they come faster than Redis answers (`_serve`'s `ahead`),
    and their actions go to Redis in the order they came: everything up to the store's call is synchronous (no
    `await` before it), so each frame's action is queued (`RedisStore._act_batch`) before the next frame's."""
    try:
        message = p.decode_moderator(text)
    except msgspec.MsgspecError as exc:
        session.invalid(*_describe(exc))
        return
    if isinstance(message, p.Ping):
        session.reply(p.Pong())
        return
    if isinstance(message, p.Hello):
        session.invalid("unexpected_hello", "hello is only the first frame")
        return
    ref = message.ref
    try:
        if session.role == "answerer" and not isinstance(message, p.Reply):
            raise errors.Forbidden("this login may only answer questions in writing")
        # The action's script checks the session (a logout elsewhere or an expiry ends this socket at once) and
        # writes the audit entry with the change: one round trip.
        tag = str(type(message).__struct_config__.tag)
        act = Act(session.slug, session.sid, session.conn.name, tag, _detail(message, _before(session, message)))
        log_id = await _moderate(session, message, act)
    except errors.SessionEnded:
        session.conn.shut(LOGIN_REQUIRED, "login required")
        return
    except errors.Rejected as exc:
        session.reply(_error(exc, ref=ref))
        return
    session.reply(p.Done(ref=ref, id=log_id))


def _before(session: Session, message: p.ModeratorMessage) -> tuple[str, str]:
    """What the action changes, as it was: for the audit log."""
    question = session.feed.state.questions.get(getattr(message, "qid", ""))
    if question is None:
        return "", ""
    if isinstance(message, p.ModeratorEdit):
        return "text_before", question.text
    if isinstance(message, p.SetTags):
        return "tags_before", ", ".join(question.tags)
    return "status_before", str(question.status)


def _detail(message: p.ModeratorMessage, before: tuple[str, str]) -> dict[str, str]:
    names = ("qid", "into", "fid", "action", "mode", "pid", "before", "after", "reason", "open")
    detail = {name: str(getattr(message, name)) for name in names if getattr(message, name, "") not in ("", None)}
    if isinstance(message, p.Move):
        detail["position"] = "before " + message.before if message.before else "after " + message.after
        detail.pop("before", None)
        detail.pop("after", None)
    if isinstance(message, p.ModeratorEdit):
        detail["text_after"] = message.text
    if isinstance(message, p.SetTags):
        detail["tags_after"] = ", ".join(message.tags)
    if before[0]:
        detail[before[0]] = before[1]
    return detail


async def _moderate(session: Session, message: p.ModeratorMessage, act: Act) -> str:
    store, slug, name = session.services.store, session.slug, act.who
    match message:
        case p.Approve():
            return await store.transition(slug, message.qid, Action.APPROVE, by=name, before=message.before, act=act)
        case p.Archive() | p.Restore() | p.Answer() | p.Reopen():
            action = Action(str(type(message).__struct_config__.tag))
            return await store.transition(slug, message.qid, action, by=name, act=act)
        case p.Reject():
            reason = " ".join(message.reason.split())
            if not reason:
                raise errors.BadTransition("a rejection needs a reason")
            return await store.transition(slug, message.qid, Action.REJECT, by=name, reason=reason, act=act)
        case p.ModeratorEdit():
            body = texts.clean(message.text, max_length=max(session.feed.state.info.max_length, 2000))
            return await store.edit(
                slug,
                message.qid,
                body,
                by=name,
                owner="",
                editable=_names(rules.MODERATOR_EDITABLE),
                rev=message.rev,
                act=act,
            )
        case p.SetTags():
            return await store.set_tags(slug, message.qid, rules.check_tags(message.tags), by=name, act=act)
        case p.Move():
            if bool(message.before) == bool(message.after):
                raise errors.BadTransition("name exactly one of before and after")
            return await store.move(slug, message.qid, before=message.before, after=message.after, act=act)
        case p.Pin() | p.Unpin():
            return await store.pin(slug, message.qid, pinned=isinstance(message, p.Pin), by=name, act=act)
        case p.Show():
            return await store.show(slug, message.qid, act=act)
        case p.ClearScreen():
            return await store.show(slug, "", act=act)
        case p.SetOpen():
            return await store.set_event(
                slug, "open" if message.open else "close", act, open="1" if message.open else "0"
            )
        case p.Reply():
            answer = texts.clean(message.text, max_length=4000) if message.text.strip() else ""
            return await store.annotate(slug, message.qid, "reply", by=name, answer=answer, act=act)
        case p.Translate():
            display = texts.clean(message.text, max_length=2000) if message.text.strip() else ""
            return await store.annotate(
                slug,
                message.qid,
                "translate",
                by=name,
                display=display,
                display_lang=message.lang if display else "",
                act=act,
            )
        case p.Announce():
            return await store.announce(slug, texts.clean(message.text, max_length=280), by=name, act=act)
        case p.Ban() | p.Unban():
            return await store.ban(slug, message.pid, banned=isinstance(message, p.Ban), act=act)
        case p.Merge():
            return await store.merge(slug, message.qid, message.into, by=name, act=act)
        case p.Unmerge():
            return await store.unmerge(slug, message.qid, by=name, act=act)
        case p.Distinct():
            return await store.annotate(slug, message.qid, "distinct", by=name, similar="", similarity="", act=act)
        case p.Floor():
            reason = " ".join(message.reason.split())
            if message.action == "decline" and not reason:
                raise errors.BadTransition("a decline needs a reason")
            return await store.floor(slug, message.fid, FloorAction(message.action), by=name, reason=reason, act=act)
        case p.MoveSpeaker():
            if bool(message.before) == bool(message.after):
                raise errors.BadTransition("name exactly one of before and after")
            return await store.move(
                slug, message.fid, before=message.before, after=message.after, speakers=True, act=act
            )
        case p.SetScreenMode():
            return await store.screen_mode(slug, message.mode, act=act)
    raise errors.Rejected("unsupported action")


# --- screen ------------------------------------------------------------------------------------------


async def screen(websocket: WebSocket) -> None:
    opened = await _open(websocket, Audience.SCREEN)
    if opened is None:
        return
    services, feed = opened
    hello = await _await_hello(websocket)
    if hello is None:
        return
    try:
        expected = await services.store.event_secret(feed.slug, "screen_token")
    except errors.Unavailable:
        await websocket.close(TRY_LATER, "store unavailable")
        return
    if not auth.same_secret(expected, hello.token):
        await websocket.close(POLICY, "invalid screen token")
        return
    conn = _connection(websocket, services, Audience.SCREEN)
    session = Session(websocket, services, feed, conn)
    welcome = p.Welcome(role="screen", event=p.EventView.of(feed.state.info), epoch=feed.state.epoch, now=_now_ms())
    await _serve(session, hello, welcome, _screen_frame)


async def _screen_frame(session: Session, text: str) -> None:
    try:
        message = p.decode_screen(text)
    except msgspec.MsgspecError as exc:
        session.invalid(*_describe(exc))
        return
    if isinstance(message, p.Ping):
        session.reply(p.Pong())
    else:
        session.invalid("unexpected_hello", "hello is only the first frame")
