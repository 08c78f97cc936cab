"""HTTP routes: the three pages, moderator login and logout, the join QR code, and health checks."""

from __future__ import annotations

import asyncio
import functools
import io
import json
import logging
from pathlib import Path

import prometheus_client
import segno
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)

from liveqa import apidocs, auth, export as exports, protocol, report
from liveqa.domain import errors
from liveqa.store import keys
from liveqa.web import i18n
from liveqa.web.assets import compact_html
from liveqa.web.services import Services

logger = logging.getLogger(__name__)


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


TRANSLATED = {"participant.html", "moderator.html", "login.html", "index.html", "screen.html", "floor.html"}


def _page(request: Request, name: str, status_code: int = 200) -> Response:
    static_dir = _services(request).settings.static_dir
    path = Path(static_dir) / name
    html = _compacted(path, path.stat().st_mtime_ns)
    headers = {"cache-control": "no-cache"}
    if name in TRANSLATED:
        html = i18n.localize(html, static_dir, name.removesuffix(".html"), i18n.choose(request))
        headers["vary"] = "Cookie, Accept-Language"
    return HTMLResponse(html, status_code, headers=headers)


@functools.lru_cache(maxsize=64)
def _compacted(path: Path, mtime_ns: int) -> str:
    """A page as served: compacted (liveqa.web.assets), made again when the file changes."""
    return compact_html(path.read_text("utf-8"))


async def _event_exists(request: Request) -> bool:
    return await _services(request).store.event_info(request.path_params["slug"]) is not None


async def favicon(request: Request) -> Response:
    path = Path(_services(request).settings.static_dir) / "favicon.svg"
    return FileResponse(path, media_type="image/svg+xml", headers={"cache-control": "max-age=86400"})


async def index(request: Request) -> Response:
    return _page(request, "index.html")


async def floor_page(request: Request) -> Response:
    """In the room: ask for the floor, and follow the request."""
    if not await _event_exists(request):
        return _page(request, "not-found.html", 404)
    return _page(request, "floor.html")


async def participant_page(request: Request) -> Response:
    if not await _event_exists(request):
        return _page(request, "not-found.html", 404)
    return _page(request, "participant.html")


async def moderator_page(request: Request) -> Response:
    services, slug = _services(request), request.path_params["slug"]
    if not await _event_exists(request):
        return _page(request, "not-found.html", 404)
    if await services.store.session(slug, request.cookies.get(auth.SESSION_COOKIE, "")):
        return _page(request, "moderator.html")
    return _page(request, "login.html")


async def screen_page(request: Request) -> Response:
    services, slug = _services(request), request.path_params["slug"]
    if not await _event_exists(request):
        return _page(request, "not-found.html", 404)
    expected = await services.store.event_secret(slug, "screen_token")
    if not auth.same_secret(expected, request.query_params.get("token", "")):
        return _page(request, "forbidden.html", 403)
    return _page(request, "screen.html")


def client_address(request: Request) -> str:
    """The client's address (uvicorn resolves X-Forwarded-For from trusted proxies)."""
    return request.client.host if request.client else "unknown"


def _same_origin(request: Request) -> bool:
    """CSRF defence for every state-changing request (with SameSite=Strict cookies behind it): the browser says
    where the form came from (Origin, else Referer); it must be here, and a request that says nothing is refused."""
    origin = request.headers.get("origin")
    if origin is None and (referer := request.headers.get("referer")):
        origin = "/".join(referer.split("/", 3)[:3])
    if origin is None:
        return False
    return auth.origin_allowed(
        origin, request.headers.get("host"), request.url.scheme, _services(request).allowed_origins()
    )


async def login(request: Request) -> Response:
    services, slug = _services(request), request.path_params["slug"]
    target = f"/e/{slug}/moderate"
    if not _same_origin(request):
        return PlainTextResponse("cross-site login refused", status_code=403)
    settings = services.settings
    try:
        await services.store.take(
            slug, "login", client_address(request), rate=(settings.login_burst, settings.login_per_minute / 60)
        )
    except errors.RateLimited:
        logger.warning("moderator login rate-limited", extra={"event": slug})
        return RedirectResponse(f"{target}?failed=limited", status_code=303)
    form = await request.form()
    name = " ".join(str(form.get("name", "")).split())[:40]
    password = str(form.get("password", ""))
    # A name with a personal login uses only its own password (and role); other names use the event's.
    stored, role = await services.store.moderator_account(slug, name)
    if not stored:
        stored, role = await services.store.event_secret(slug, "password"), "moderator"
    # Argon2 takes tens of milliseconds of CPU on purpose: off the event loop, so sockets don't wait.
    if not name or not await asyncio.to_thread(auth.check_password, stored, password):
        logger.info("moderator login failed", extra={"event": slug})
        return RedirectResponse(f"{target}?failed=1", status_code=303)
    sid = await services.store.create_session(slug, name, role)
    logger.info("moderator logged in", extra={"event": slug})
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        auth.SESSION_COOKIE,
        sid,
        max_age=12 * 3600,
        path="/",
        httponly=True,
        samesite="strict",
        secure=services.settings.https,
    )
    return response


async def logout(request: Request) -> Response:
    services, slug = _services(request), request.path_params["slug"]
    if not _same_origin(request):
        return PlainTextResponse("cross-site logout refused", status_code=403)
    if sid := request.cookies.get(auth.SESSION_COOKIE):
        await services.store.end_session(slug, sid)
        if (feed := services.hub.running(slug)) is not None:
            feed.end_session(sid)  # other processes notice within PRESENCE_REFRESH_S
    response = RedirectResponse(f"/e/{slug}/moderate", status_code=303)
    response.delete_cookie(auth.SESSION_COOKIE, path="/")
    return response


async def export(request: Request) -> Response:
    """The event's questions as CSV or XLSX, for a logged-in moderator, at any time."""
    services, slug, kind = _services(request), request.path_params["slug"], request.path_params["kind"]
    if kind not in ("csv", "xlsx"):
        return PlainTextResponse("export.csv or export.xlsx", status_code=404)
    if not await services.store.session(slug, request.cookies.get(auth.SESSION_COOKIE, "")):
        return PlainTextResponse("log in as a moderator first", status_code=403)
    state = await services.store.load_state(slug)
    name = f"{slug}-questions.{kind}"
    disposition = {"content-disposition": f'attachment; filename="{name}"', "cache-control": "no-store"}
    if kind == "csv":
        return Response(exports.to_csv(state), media_type="text/csv; charset=utf-8", headers=disposition)
    return Response(
        exports.to_xlsx(state),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers=disposition,
    )


async def public_report(request: Request) -> Response:
    """The public report (HTML, CSV or JSON), once the event has ended."""
    services, slug = _services(request), request.path_params["slug"]
    kind = request.path_params.get("kind", "html")
    info = await services.store.event_info(slug)
    if info is None or kind not in ("html", "csv", "json"):
        return _page(request, "not-found.html", 404)
    if not info.ended:
        return PlainTextResponse("The report is published when the event ends.", status_code=404)
    stored = await services.store.client.hget(keys.report(slug), "figures")
    if stored:  # erased: only the figures remain
        numbers, answered = json.loads(stored), []
    else:
        state = await services.store.load_state(slug)
        numbers, answered = report.figures(state), report.answered(state)
    cache = {"cache-control": "public, max-age=60"}
    if kind == "json":
        return Response(report.to_json(info, numbers, answered), media_type="application/json", headers=cache)
    if kind == "csv":
        return Response(report.to_csv(numbers), media_type="text/csv; charset=utf-8", headers=cache)
    return HTMLResponse(report.to_html(info, numbers, answered, erased=bool(stored)), headers=cache)


async def qr_code(request: Request) -> Response:
    """An SVG QR code of the participant link, for the projector page."""
    services, slug = _services(request), request.path_params["slug"]
    if not await _event_exists(request):
        return PlainTextResponse("unknown event", status_code=404)
    buffer = io.BytesIO()
    segno.make(f"{services.settings.base_url()}/e/{slug}", error="m").save(
        buffer, kind="svg", scale=8, border=2, xmldecl=False
    )  # a standalone SVG document (with its namespace), so that <img> can show it
    return Response(buffer.getvalue(), media_type="image/svg+xml", headers={"cache-control": "max-age=3600"})


async def event_info(request: Request) -> Response:
    """Public facts about an event, for pages before their socket opens."""
    info = await _services(request).store.event_info(request.path_params["slug"])
    if info is None:
        return JSONResponse({"error": "unknown_event"}, status_code=404)
    return Response(protocol.encode_json(protocol.EventView.of(info)), media_type="application/json")


async def organisations(request: Request) -> Response:
    """Search the organisation directory (public: names, acronyms, countries, accreditation): ?q=…&limit=…"""
    query = request.query_params.get("q", "")[:100]
    try:
        limit = min(max(int(request.query_params.get("limit", "8")), 1), 25)
    except ValueError:
        limit = 8
    directory = await _services(request).organisations.directory()
    found = [
        {"name": org.name, "acronym": org.acronym, "country": org.country, "accreditation": org.accreditation}
        for org in directory.search(query, limit)
    ]
    return JSONResponse({"organisations": found}, headers={"cache-control": "max-age=60"})


async def metrics(request: Request) -> Response:
    """Prometheus exposition of this process's liveqa_* metrics (no personal data in any of them)."""
    return Response(prometheus_client.generate_latest(), media_type=prometheus_client.CONTENT_TYPE_LATEST)


async def openapi(request: Request) -> Response:
    """OpenAPI 3.1 of the operators' API."""
    return JSONResponse(apidocs.openapi())


async def asyncapi(request: Request) -> Response:
    """AsyncAPI 3 of the WebSocket protocol."""
    return JSONResponse(apidocs.asyncapi())


async def livez(request: Request) -> Response:
    """The process is alive (no dependency checked)."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready to serve: Redis answers and accepts writes; also says how durable an acknowledged question is."""
    services = _services(request)
    if getattr(request.app.state, "draining", False):
        return JSONResponse({"status": "draining"}, status_code=503)
    try:
        await services.store.writable()
        durability = await services.store.durability()
    except errors.Unavailable as exc:
        return JSONResponse({"status": "unavailable", "detail": exc.detail}, status_code=503)
    return JSONResponse({"status": "ready", "appendfsync": durability})
