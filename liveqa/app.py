"""create_app(settings): routes, middleware and the lifespan that owns the Redis clients and the hub."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.convertors import Convertor, register_url_convertor
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute

from liveqa import dedup, logs, migrations, retention, tasks, webhooks, wire
from liveqa.domain import screening
from liveqa.domain.errors import Unavailable
from liveqa.domain.rules import SLUG
from liveqa.hub import BLOCK_MS, Hub
from liveqa.settings import Settings
from liveqa.store import RedisStore
from liveqa.store.redis import connect
from liveqa.web import admin, pages, sockets
from liveqa.web.assets import Assets
from liveqa.web.headers import SecurityHeaders
from liveqa.web.services import Organisations, Services

logger = logging.getLogger(__name__)


class SlugConvertor(Convertor[str]):
    """Event slugs in paths: anything else is a 404 before a handler or a Redis key sees it."""

    regex = SLUG.pattern

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("slug", SlugConvertor())


def create_app(settings: Settings | None = None) -> Starlette:
    """The ASGI app. With no settings, they are read from LIVEQA_* variables (as `uvicorn --factory` does)."""
    settings = settings or Settings.from_env()
    logs.install()
    if not settings.redis_url:
        raise SystemExit("LIVEQA_REDIS_URL is not set (`liveqa serve` starts an embedded Redis and sets it)")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        client = connect(settings.redis_url)
        # One blocking XREAD per active event: a pool of its own, never waited for, and never retried silently (a
        # lost connection makes the hub check whether Redis came back without the event).
        reader = connect(
            settings.redis_url, timeout=BLOCK_MS / 1000 + 5, max_connections=10_000, blocking=False, retry=False
        )
        store = RedisStore(client, log_maxlen=settings.log_maxlen)
        try:
            await migrations.check(store)
        except migrations.SchemaTooNew as exc:
            logger.critical("%s", exc)
            await client.aclose()
            await reader.aclose()
            raise SystemExit(str(exc)) from None
        try:
            durability = await store.durability()
            if durability not in ("always", "everysec"):
                logger.warning(
                    "Redis is not persisting with the append-only file (appendfsync=%s): acknowledged questions "
                    "can be lost if Redis restarts",
                    durability,
                )
        except Exception as exc:  # Redis may be starting; /readyz tells the truth later
            logger.warning("could not read Redis persistence settings: %r", exc)
        try:
            if settings.dedup:  # load the embedding model now rather than on the first question
                preload = asyncio.get_running_loop().run_in_executor(None, dedup.default_embedder().load)
                preload.add_done_callback(lambda f: f.exception())  # a failure is logged when it is used
            async with Hub(store, reader, grouping=settings.dedup) as hub:
                words = screening.load(settings.wordlist_dir)
                app.state.services = Services(
                    settings=settings, store=store, hub=hub, words=words, organisations=Organisations(store)
                )
                janitor = asyncio.create_task(retention.run_periodically(store), name="retention")
                dispatcher = webhooks.Dispatcher(
                    store, retries=settings.webhook_retries, backoff_s=settings.webhook_backoff
                )
                courier = asyncio.create_task(dispatcher.run(), name="webhooks")
                try:
                    yield
                finally:
                    await tasks.stop(janitor)
                    await tasks.stop(courier)
        finally:
            await client.aclose()
            await reader.aclose()

    slug = "{slug:slug}"
    return Starlette(
        routes=[
            Route("/", pages.index),
            Route("/favicon.ico", pages.favicon),
            Route("/livez", pages.livez),
            Route("/healthz", pages.livez),
            Route("/readyz", pages.readyz),
            Route(f"/e/{slug}", pages.participant_page),
            Route(f"/e/{slug}/moderate", pages.moderator_page),
            Route(f"/e/{slug}/floor", pages.floor_page),
            Route(f"/e/{slug}/screen", pages.screen_page),
            Route(f"/e/{slug}/login", pages.login, methods=["POST"]),
            Route(f"/e/{slug}/logout", pages.logout, methods=["POST"]),
            Route(f"/e/{slug}/qr.svg", pages.qr_code),
            Route(f"/e/{slug}/report", pages.public_report),
            Route(f"/e/{slug}/report.{{kind:str}}", pages.public_report),
            Route(f"/e/{slug}/export.{{kind:str}}", pages.export),
            Route(f"/api/events/{slug}", pages.event_info),
            Route("/api/organisations", pages.organisations),
            WebSocketRoute(f"/ws/e/{slug}/participant", sockets.participant),
            WebSocketRoute(f"/ws/e/{slug}/moderator", sockets.moderator),
            WebSocketRoute(f"/ws/e/{slug}/screen", sockets.screen),
            Mount("/static", Assets(directory=settings.static_dir), name="static"),
            Route("/metrics", pages.metrics),
            Route("/openapi.json", pages.openapi),
            Route("/asyncapi.json", pages.asyncapi),
            *(
                Route(op.path.replace("{slug}", slug), op.endpoint, methods=[op.method])
                for op in [*admin.OPERATIONS, admin.INTAKE]
            ),
        ],
        middleware=[Middleware(wire.Capture), Middleware(SecurityHeaders)],
        exception_handlers={Unavailable: _unavailable},
        lifespan=lifespan,
    )


async def _unavailable(request: Request, exc: Exception) -> Response:
    """Redis did not answer (restarting, failing over): a plain 503 to retry, never a 500."""
    logger.warning("store unavailable for an HTTP request", extra={"path": request.url.path})
    return PlainTextResponse("The service is briefly unavailable; try again.", 503, headers={"retry-after": "1"})
