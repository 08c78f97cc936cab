"""The operators' HTTP API (JSON, under /api/v1), authenticated by operator API tokens. Everything the CLI does
to events goes through liveqa.operations, as here. Errors are RFC 9457 problem documents."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from liveqa import operations, retention, submissions, webhooks
from liveqa.domain import errors
from liveqa.domain.model import Moderation, Ranking
from liveqa.web.services import Services

logger = logging.getLogger(__name__)

Slug = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]
Password = Annotated[str, msgspec.Meta(min_length=8, max_length=200)]
Title = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"[^\s\x00-\x1f\x7f-\x9f]")]
Passcode = Annotated[str, msgspec.Meta(pattern=r"^(|[^\s\x00-\x1f\x7f-\x9f].{1,62}[^\s\x00-\x1f\x7f-\x9f])$")]


class NewEvent(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    slug: Slug
    title: Title
    password: Password
    anonymous_allowed: bool = False
    max_length: Annotated[int, msgspec.Meta(ge=20, le=2000)] = 500
    moderation: Moderation = Moderation.PRE
    passcode: Passcode = ""
    retention_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] = 30


class EventChanges(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Fields left out stay as they are."""

    title: Title | None = None
    anonymous_allowed: bool | None = None
    open: bool | None = None
    moderation: Moderation | None = None
    max_length: Annotated[int, msgspec.Meta(ge=20, le=2000)] | None = None
    retention_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] | None = None
    blocked_words: list[Annotated[str, msgspec.Meta(max_length=100)]] | None = None
    opens_at: Annotated[int, msgspec.Meta(ge=0)] | None = None  # ms since the epoch; 0 for no set time
    closes_at: Annotated[int, msgspec.Meta(ge=0)] | None = None
    ranking: Ranking | None = None  # the weights of the proposed order of incoming questions
    floor_seconds: Annotated[int, msgspec.Meta(ge=10, le=3600)] | None = None  # each speaker's time on the floor
    require_listed: bool | None = None  # questions from organisations not in the directory wait for a moderator


class NewPassword(msgspec.Struct, forbid_unknown_fields=True):
    password: Password


class NewPasscode(msgspec.Struct, forbid_unknown_fields=True):
    passcode: Passcode  # "" removes it


class LinksOut(msgspec.Struct, kw_only=True):
    participant: str
    moderator: str
    screen: str
    overlay: str


class EventOut(msgspec.Struct, kw_only=True):
    slug: str
    title: str
    anonymous_allowed: bool
    open: bool
    max_length: int
    moderation: Moderation
    passcode_required: bool
    retention_days: int
    blocked_words: list[str]
    ended: bool
    ranking: Ranking
    links: LinksOut


class EventList(msgspec.Struct, kw_only=True):
    events: list[EventOut]


class AuditEntry(msgspec.Struct, kw_only=True):
    at: str
    who: str
    action: str
    detail: dict[str, str]


class AuditLog(msgspec.Struct, kw_only=True):
    entries: list[AuditEntry]


class Erased(msgspec.Struct, kw_only=True):
    keys_removed: int


Country = Annotated[str, msgspec.Meta(pattern=r"^([A-Za-z]{2})?$")]
ChannelName = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]


class NewChannel(msgspec.Struct, forbid_unknown_fields=True):
    name: ChannelName


class ChannelOut(msgspec.Struct, kw_only=True):
    name: str
    token: str
    intake: str  # where the channel posts


class ChannelList(msgspec.Struct, kw_only=True):
    channels: list[str]


class IntakeQuestion(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A question from another channel. `id` is the channel's own id for it: posting it again is harmless."""

    id: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]
    author_id: Annotated[str, msgspec.Meta(max_length=200)] = ""  # who, as the channel knows them (hashed)
    name: Annotated[str, msgspec.Meta(max_length=200)] = ""
    organisation: Annotated[str, msgspec.Meta(max_length=200)] = ""
    country: Country = ""
    show_name: bool = False
    show_organisation: bool = True
    show_country: bool = True


class IntakeResult(msgspec.Struct, kw_only=True):
    qid: str
    duplicate: bool
    held: bool
    text: str


WebhookType = Annotated[
    str,
    msgspec.Meta(
        pattern="^(question\\.approved|question\\.on_screen|question\\.answered|event\\.closed|event\\.ended)$"
    ),
]


class NewWebhook(msgspec.Struct, forbid_unknown_fields=True):
    url: Annotated[str, msgspec.Meta(pattern="^https?://[^\\s]+$", max_length=2000)]
    events: Annotated[list[WebhookType], msgspec.Meta(min_length=1)]


class WebhookOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    id: str
    url: str
    events: list[str]
    secret: str = ""  # only when it is created


class WebhookList(msgspec.Struct, kw_only=True):
    webhooks: list[WebhookOut]


class Delivery(msgspec.Struct, kw_only=True):
    id: str
    webhook: str
    type: str
    entry: str
    status: str
    attempt: str
    error: str = ""


class DeliveryLog(msgspec.Struct, kw_only=True):
    deliveries: list[Delivery]


class Problem(msgspec.Struct, kw_only=True, omit_defaults=True):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str = ""


_encoder = msgspec.json.Encoder()


class ApiError(Exception):
    def __init__(self, status: int, title: str, detail: str = "") -> None:
        super().__init__(detail or title)
        self.problem = Problem(title=title, status=status, detail=detail)


def _problem(problem: Problem) -> Response:
    response = Response(_encoder.encode(problem), problem.status, media_type="application/problem+json")
    if problem.status == 401:
        response.headers["www-authenticate"] = "Bearer"
    return response


def _json(value: msgspec.Struct, status: int = 200) -> Response:
    return Response(_encoder.encode(value), status_code=status, media_type="application/json")


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def _body(request: Request, kind: type[Any]) -> Any:
    try:
        # Lax: JSON Schema counts 1085.0 as an integer, and so do we.
        return msgspec.json.decode(await request.body(), type=kind, strict=False)
    except msgspec.ValidationError as exc:
        raise ApiError(422, "invalid body", str(exc)) from None
    except msgspec.DecodeError:
        raise ApiError(400, "malformed JSON") from None


async def _require_event(request: Request) -> None:
    """404 unless the event exists (one read; _event builds the whole answer)."""
    if await _services(request).store.event_info(request.path_params["slug"]) is None:
        raise ApiError(404, "no such event", request.path_params["slug"])


async def _event(request: Request) -> EventOut:
    services, slug = _services(request), request.path_params["slug"]
    info = await services.store.event_info(slug)
    if info is None:
        raise ApiError(404, "no such event", slug)
    links = operations.links(services.settings, slug, await services.store.event_secret(slug, "screen_token"))
    return EventOut(
        slug=info.slug,
        title=info.title,
        anonymous_allowed=info.anonymous_allowed,
        open=info.open,
        max_length=info.max_length,
        moderation=info.moderation,
        passcode_required=info.passcode_required,
        retention_days=info.retention_days,
        blocked_words=list(info.blocked_words),
        ended=bool(info.ended),
        ranking=info.ranking,
        links=LinksOut(**vars(links)),
    )


Handler = Callable[[Request, str], Awaitable[Response]]


def operator_only(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Require `Authorization: Bearer <operator token>`; pass the operator's name; turn errors into problems."""

    async def endpoint(request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        try:
            operator = await _services(request).store.operator(token.strip()) if scheme.lower() == "bearer" else ""
            if not operator:
                raise ApiError(401, "an operator API token is required")
            return await handler(request, operator)
        except ApiError as exc:
            return _problem(exc.problem)
        except errors.Unavailable as exc:
            return _problem(Problem(title="store unavailable", status=503, detail=exc.detail))

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint


@operator_only
async def list_events(request: Request, operator: str) -> Response:
    """List every event."""
    events = []
    for slug in await _services(request).store.event_slugs():
        request.path_params["slug"] = slug
        try:
            events.append(await _event(request))
        except ApiError:
            continue  # deleted meanwhile
    return _json(EventList(events=events))


@operator_only
async def create_event(request: Request, operator: str) -> Response:
    """Create an event."""
    body: NewEvent = await _body(request, NewEvent)
    try:
        await operations.create_event(
            _services(request).store,
            body.slug,
            body.title,
            password=body.password,
            anonymous_allowed=body.anonymous_allowed,
            max_length=body.max_length,
            moderation=body.moderation,
            passcode=body.passcode,
            retention_days=body.retention_days,
        )
    except errors.EventExists as exc:
        raise ApiError(409, "the event exists", exc.detail) from None
    except ValueError as exc:
        raise ApiError(422, "invalid event", str(exc)) from None
    request.path_params["slug"] = body.slug
    return _json(await _event(request), 201)


@operator_only
async def get_event(request: Request, operator: str) -> Response:
    """One event's settings and links."""
    return _json(await _event(request))


@operator_only
async def update_event(request: Request, operator: str) -> Response:
    """Change an event's settings."""
    await _require_event(request)
    changes: EventChanges = await _body(request, EventChanges)
    try:
        await operations.update_event(
            _services(request).store, request.path_params["slug"], who=operator, **msgspec.structs.asdict(changes)
        )
    except ValueError as exc:
        raise ApiError(422, "invalid settings", str(exc)) from None
    return _json(await _event(request))


@operator_only
async def delete_event(request: Request, operator: str) -> Response:
    """Delete an event and all its data; its sockets are closed."""
    await _require_event(request)
    await _services(request).store.delete_event(request.path_params["slug"])
    return Response(status_code=204)


@operator_only
async def end_event(request: Request, operator: str) -> Response:
    """End an event: questions close and its retention period starts."""
    await _require_event(request)
    await operations.end_event(_services(request).store, request.path_params["slug"])
    return _json(await _event(request))


@operator_only
async def set_password(request: Request, operator: str) -> Response:
    """Set the moderators' password."""
    await _require_event(request)
    body: NewPassword = await _body(request, NewPassword)
    await operations.set_password(_services(request).store, request.path_params["slug"], body.password)
    return Response(status_code=204)


@operator_only
async def set_passcode(request: Request, operator: str) -> Response:
    """Set (or, with "", remove) the passcode new participants must give."""
    await _require_event(request)
    body: NewPasscode = await _body(request, NewPasscode)
    try:
        await operations.set_passcode(_services(request).store, request.path_params["slug"], body.passcode)
    except ValueError as exc:
        raise ApiError(422, "invalid passcode", str(exc)) from None
    return _json(await _event(request))


@operator_only
async def rotate_screen_token(request: Request, operator: str) -> Response:
    """Give the screen new links; the old ones stop working."""
    await _require_event(request)
    await operations.rotate_screen_token(_services(request).store, request.path_params["slug"])
    return _json(await _event(request))


@operator_only
async def audit_log(request: Request, operator: str) -> Response:
    """Who did what, when."""
    await _require_event(request)
    entries = await _services(request).store.audit_log(request.path_params["slug"])
    return _json(
        AuditLog(
            entries=[
                AuditEntry(
                    at=e["at"],
                    who=e["who"],
                    action=e["action"],
                    detail={k: v for k, v in e.items() if k not in ("at", "who", "action")},
                )
                for e in entries
            ]
        )
    )


@operator_only
async def erase(request: Request, operator: str) -> Response:
    """Erase the event's personal data now, keeping its aggregate figures."""
    await _require_event(request)
    removed = await retention.erase(_services(request).store, request.path_params["slug"])
    return _json(Erased(keys_removed=removed))


@operator_only
async def list_channels(request: Request, operator: str) -> Response:
    """The event's intake channels."""
    await _require_event(request)
    return _json(ChannelList(channels=await _services(request).store.channels(request.path_params["slug"])))


@operator_only
async def add_channel(request: Request, operator: str) -> Response:
    """Make an intake channel (an email bridge, a hashtag, a form) and its token (shown once)."""
    slug = request.path_params["slug"]
    await _require_event(request)
    body: NewChannel = await _body(request, NewChannel)
    services = _services(request)
    token = await services.store.add_channel(slug, body.name)
    await services.store.audit(slug, operator, "add_channel", channel=body.name)
    intake = f"{services.settings.base_url()}/api/v1/events/{slug}/intake"
    return _json(ChannelOut(name=body.name, token=token, intake=intake), 201)


@operator_only
async def remove_channel(request: Request, operator: str) -> Response:
    """Revoke an intake channel's tokens."""
    slug, name = request.path_params["slug"], request.path_params["name"]
    await _require_event(request)
    if not await _services(request).store.remove_channel(slug, name):
        raise ApiError(404, "no such channel", name)
    await _services(request).store.audit(slug, operator, "remove_channel", channel=name)
    return Response(status_code=204)


async def intake(request: Request) -> Response:
    """Take a question from another channel, authenticated by that channel's token. Same rules as the web page."""
    services, slug = _services(request), request.path_params["slug"]
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    try:
        channel = await services.store.channel(slug, token.strip()) if scheme.lower() == "bearer" else ""
        if not channel:
            raise ApiError(401, "a channel token of this event is required")
        info = await services.store.event_info(slug)
        if info is None:
            raise ApiError(404, "no such event", slug)
        body: IntakeQuestion = await _body(request, IntakeQuestion)
        draft = submissions.Draft(
            cid=hashlib.sha256(body.id.encode()).hexdigest()[:32],
            text=body.text,
            name=body.name,
            organisation=body.organisation,
            country=body.country,
            show_name=body.show_name,
            show_organisation=body.show_organisation,
            show_country=body.show_country,
        )
        settings = services.settings
        try:
            stored = await submissions.submit(
                services.store,
                info,
                services.words_for(info),
                submissions.channel_participant(channel, body.author_id),
                draft,
                rate=(settings.channel_burst, settings.channel_per_minute / 60),
                source=channel,
                directory=await services.organisations.directory(),
            )
        except errors.RateLimited as exc:
            raise ApiError(429, "too many questions from this channel", exc.detail) from None
        except errors.Unavailable:
            raise
        except errors.Rejected as exc:
            raise ApiError(422, exc.code, exc.detail) from None
        result = IntakeResult(qid=stored.qid, duplicate=not stored.new, held=bool(stored.held), text=stored.text)
        return _json(result, 201 if stored.new else 200)
    except ApiError as exc:
        return _problem(exc.problem)
    except errors.Unavailable as exc:
        return _problem(Problem(title="store unavailable", status=503, detail=exc.detail))


@operator_only
async def add_webhook(request: Request, operator: str) -> Response:
    """Register a webhook (signed with the secret returned here, once)."""
    slug = request.path_params["slug"]
    await _require_event(request)
    body: NewWebhook = await _body(request, NewWebhook)
    try:
        hook = await webhooks.add(_services(request).store, slug, body.url, list(body.events))
    except ValueError as exc:
        raise ApiError(422, "invalid webhook", str(exc)) from None
    return _json(WebhookOut(id=hook.id, url=hook.url, events=hook.events, secret=hook.secret), 201)


@operator_only
async def list_webhooks(request: Request, operator: str) -> Response:
    """The event's webhooks (without their secrets)."""
    await _require_event(request)
    found = await webhooks.hooks(_services(request).store, request.path_params["slug"])
    return _json(WebhookList(webhooks=[WebhookOut(id=h.id, url=h.url, events=h.events) for h in found]))


@operator_only
async def remove_webhook(request: Request, operator: str) -> Response:
    """Stop a webhook."""
    await _require_event(request)
    if not await webhooks.remove(_services(request).store, request.path_params["slug"], request.path_params["hook"]):
        raise ApiError(404, "no such webhook")
    return Response(status_code=204)


@operator_only
async def webhook_deliveries(request: Request, operator: str) -> Response:
    """The latest deliveries, newest first: delivered, retrying or given up, with the error."""
    await _require_event(request)
    found = await webhooks.deliveries(_services(request).store, request.path_params["slug"])
    return _json(DeliveryLog(deliveries=[msgspec.convert(d, Delivery) for d in found]))


class ParticipantErased(msgspec.Struct, kw_only=True):
    questions: int


@operator_only
async def erase_participant(request: Request, operator: str) -> Response:
    """Erase one participant's identity (name, organisation, country, tokens) from the event, on their request."""
    await _require_event(request)
    count = await operations.erase_participant(
        _services(request).store, request.path_params["slug"], request.path_params["pid"], who=operator
    )
    return _json(ParticipantErased(questions=count))


class ModeratorLogin(msgspec.Struct, forbid_unknown_fields=True):
    password: Annotated[str, msgspec.Meta(pattern=r"^(|[\s\S]{8,200})$")] = ""  # "" makes one up; else 8+
    role: Literal["moderator", "answerer"] = "moderator"  # an answerer may only answer questions in writing


class ModeratorOut(msgspec.Struct, kw_only=True):
    name: str
    password: str  # shown once


class ModeratorList(msgspec.Struct, kw_only=True):
    moderators: list[str]


@operator_only
async def list_moderators(request: Request, operator: str) -> Response:
    """The moderators with personal logins (anyone with the event password may moderate too)."""
    await _require_event(request)
    names = await _services(request).store.moderator_accounts(request.path_params["slug"])
    return _json(ModeratorList(moderators=names))


@operator_only
async def set_moderator(request: Request, operator: str) -> Response:
    """Create a moderator's personal login or give it a new password (their sessions end); the password is
    returned once."""
    await _require_event(request)
    body: ModeratorLogin = await _body(request, ModeratorLogin)
    name = request.path_params["name"]
    try:
        password = await operations.set_moderator(
            _services(request).store, request.path_params["slug"], name, body.password, role=body.role, who=operator
        )
    except ValueError as exc:
        raise ApiError(422, "invalid moderator", str(exc)) from None
    return _json(ModeratorOut(name=name, password=password))


@operator_only
async def remove_moderator(request: Request, operator: str) -> Response:
    """Revoke a moderator's personal login; their sessions end."""
    await _require_event(request)
    if not await operations.remove_moderator(
        _services(request).store, request.path_params["slug"], request.path_params["name"], who=operator
    ):
        raise ApiError(404, "no such moderator")
    return Response(status_code=204)


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    endpoint: Callable[[Request], Awaitable[Response]]
    ok: int
    response: type[msgspec.Struct] | None
    body: type[msgspec.Struct] | None = None


E = "/api/v1/events/{slug}"
OPERATIONS = [
    Operation("GET", "/api/v1/events", list_events, 200, EventList),
    Operation("POST", "/api/v1/events", create_event, 201, EventOut, NewEvent),
    Operation("GET", E, get_event, 200, EventOut),
    Operation("PATCH", E, update_event, 200, EventOut, EventChanges),
    Operation("DELETE", E, delete_event, 204, None),
    Operation("POST", f"{E}/end", end_event, 200, EventOut),
    Operation("PUT", f"{E}/password", set_password, 204, None, NewPassword),
    Operation("PUT", f"{E}/passcode", set_passcode, 200, EventOut, NewPasscode),
    Operation("POST", f"{E}/screen-token", rotate_screen_token, 200, EventOut),
    Operation("GET", f"{E}/audit", audit_log, 200, AuditLog),
    Operation("POST", f"{E}/erase", erase, 200, Erased),
    Operation("GET", f"{E}/channels", list_channels, 200, ChannelList),
    Operation("POST", f"{E}/channels", add_channel, 201, ChannelOut, NewChannel),
    Operation("DELETE", f"{E}/channels/{{name}}", remove_channel, 204, None),
    Operation("GET", f"{E}/webhooks", list_webhooks, 200, WebhookList),
    Operation("POST", f"{E}/webhooks", add_webhook, 201, WebhookOut, NewWebhook),
    Operation("DELETE", f"{E}/webhooks/{{hook}}", remove_webhook, 204, None),
    Operation("GET", f"{E}/webhooks/deliveries", webhook_deliveries, 200, DeliveryLog),
    Operation("POST", f"{E}/participants/{{pid}}/erase", erase_participant, 200, ParticipantErased),
    Operation("GET", f"{E}/moderators", list_moderators, 200, ModeratorList),
    Operation("PUT", f"{E}/moderators/{{name}}", set_moderator, 200, ModeratorOut, ModeratorLogin),
    Operation("DELETE", f"{E}/moderators/{{name}}", remove_moderator, 204, None),
]
# The intake endpoint authenticates channels, not operators; it is documented with its own security scheme.
INTAKE = Operation("POST", f"{E}/intake", intake, 201, IntakeResult, IntakeQuestion)
