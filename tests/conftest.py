"""Fixtures: a real redis-server, events in it, and the app served by uvicorn in the test's own loop."""

from __future__ import annotations

import asyncio
import os
import secrets
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
import uvicorn
from starlette.applications import Starlette

from liveqa import operations
from liveqa.app import create_app
from liveqa.embedded import free_port
from liveqa.settings import Settings
from liveqa.store import RedisStore
from liveqa.store.redis import Client, connect
from tests.helpers import EventFixture, close_all
from tests.processes import ServerProcess
from tests.redis_server import RedisProcess

MODERATOR_PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
async def _close_clients() -> AsyncIterator[None]:
    yield
    await close_all()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """LIVEQA_TEST_REDIS_URL if set, else a throwaway redis-server on a free loopback port (never skipped)."""
    if url := os.environ.get("LIVEQA_TEST_REDIS_URL"):
        yield url
        return
    server = RedisProcess(tmp_path_factory.mktemp("redis"), persistent=False).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[Client]:
    client = connect(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def store(redis_client: Client) -> RedisStore:
    return RedisStore(redis_client)


@pytest.fixture
async def event(store: RedisStore) -> AsyncIterator[EventFixture]:
    """A fresh event with a unique slug (tests share one Redis), deleted afterwards."""
    slug = f"t-{secrets.token_hex(5)}"
    token = await operations.create_event(store, slug, "Test dialogue", password=MODERATOR_PASSWORD)
    yield EventFixture(slug=slug, screen_token=token, password=MODERATOR_PASSWORD)
    await store.delete_event(slug)


@pytest.fixture
async def anonymous_event(store: RedisStore) -> AsyncIterator[EventFixture]:
    slug = f"a-{secrets.token_hex(5)}"
    token = await operations.create_event(
        store, slug, "Open dialogue", password=MODERATOR_PASSWORD, anonymous_allowed=True
    )
    yield EventFixture(slug=slug, screen_token=token, password=MODERATOR_PASSWORD)
    await store.delete_event(slug)


async def serve(settings: Settings, app: Starlette | None = None, /, **options: Any) -> AsyncIterator[str]:
    """Run the app (one made from `settings` unless given) with uvicorn in this loop on a free port; yields its
    base URL. `options` go to uvicorn."""
    port = free_port()
    config = uvicorn.Config(
        app or create_app(settings),
        **{
            "host": "127.0.0.1",
            "port": port,
            "ws": "websockets-sansio",
            "ws_max_size": settings.max_message_bytes,
            "ws_per_message_deflate": False,
            "log_level": "warning",
            "lifespan": "on",
            **options,
        },
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await close_all()
        server.should_exit = True
        await task


@pytest.fixture
def settings(redis_url: str) -> Settings:
    """Test settings: rate limits out of the way (tests of the limits set their own)."""
    return Settings(
        redis_url=redis_url,
        static_dir=str(Path(__file__).parent.parent / "static"),
        submit_burst=1000,
        vote_burst=1000,
        join_burst=10_000,
    )


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[str]:
    """The app on a free loopback port; yields http://127.0.0.1:<port>."""
    async for url in serve(settings):
        yield url


@pytest.fixture
def threaded_server(settings: Settings) -> Iterator[str]:
    """The app in a thread of its own, for synchronous test code (Hypothesis, schemathesis). Yields its URL."""
    port = free_port()
    app = create_app(msgspec.structs.replace(settings, invalid_limit=1000))
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, ws="websockets-sansio", ws_max_size=settings.max_message_bytes,
            log_level="warning",
        )
    )  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        threading.Event().wait(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def two_servers(redis_url: str, tmp_path: Path) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Two `liveqa serve` processes on the test Redis, for what must hold across processes."""
    first = ServerProcess(redis_url, tmp_path / "a.log").start()
    second = ServerProcess(redis_url, tmp_path / "b.log").start()
    try:
        yield first, second
    finally:
        first.stop()
        second.stop()
