"""A real WebSocket client for tests, speaking liveqa.v1, and small helpers around it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

# Scale every timeout on slow machines: LIVEQA_TEST_TIMEOUT_FACTOR=3
SECOND = float(os.environ.get("LIVEQA_TEST_TIMEOUT_FACTOR", "1"))


@dataclass(frozen=True)
class EventFixture:
    slug: str
    screen_token: str
    password: str


def ws_url(base: str, slug: str, role: str) -> str:
    return f"{base.replace('http://', 'ws://', 1)}/ws/e/{slug}/{role}"


def cid() -> str:
    return uuid.uuid4().hex


async def login(base: str, slug: str, password: str, name: str = "Mod", headers: dict[str, str] | None = None) -> str:
    """Log a moderator in over HTTP; returns the session cookie's value."""
    async with httpx.AsyncClient(base_url=base, headers={"origin": base, **(headers or {})}) as http:
        for _ in range(10):  # 503 while the store is unavailable (a Redis restart): retry, as a browser user would
            response = await http.post(f"/e/{slug}/login", data={"name": name, "password": password})
            if response.status_code != 503:
                break
            await asyncio.sleep(0.2)
        assert response.status_code == 303, response.text
        sid = response.cookies.get("liveqa_session")
        assert sid, "login set no session cookie"
        return sid


async def moderator(base: str, event: EventFixture, name: str = "Mod", password: str = "") -> Client:
    """A moderator logged in (as `name`) with the console open and its first snapshot taken."""
    sid = await login(base, event.slug, password or event.password, name)
    console = await Client.open(base, event.slug, "moderator", sid=sid)
    await console.expect("snapshot")
    return console


OPEN_CLIENTS: list[Client] = []


async def close_all() -> None:
    """Close every client a test opened (the fixture in conftest calls this after each test)."""
    while OPEN_CLIENTS:
        await OPEN_CLIENTS.pop().ws.close()


@dataclass
class Client:
    """One socket. Every frame received is kept in `frames` (a `batch`'s, one by one); `messages` counts what
    arrived; `last_id` follows the log ids seen."""

    ws: ClientConnection
    frames: list[dict[str, Any]] = field(default_factory=list)
    messages: int = 0
    last_id: str = ""
    epoch: str = ""
    token: str = ""
    pid: str = ""
    _taken: set[int] = field(default_factory=set)

    @classmethod
    async def open(
        cls,
        base: str,
        slug: str,
        role: str = "participant",
        *,
        token: str = "",
        epoch: str = "",
        last_id: str = "",
        sid: str = "",
        origin: str | None = None,
        hello: bool = True,
        passcode: str = "",
        headers: dict[str, str] | None = None,
        invite: str = "",
    ) -> Client:
        headers = {**({"Cookie": f"liveqa_session={sid}"} if sid else {}), **(headers or {})}
        ws = await connect(
            ws_url(base, slug, role),
            subprotocols=["liveqa.v1"],  # type: ignore[list-item]
            additional_headers=headers,
            origin=origin,  # type: ignore[arg-type]
            open_timeout=5 * SECOND,
            close_timeout=2,
            max_queue=4096,
        )
        client = cls(ws)
        OPEN_CLIENTS.append(client)
        if hello:
            extra = {"invite": invite} if invite else {}
            await client.send("hello", token=token, epoch=epoch, last_id=last_id, passcode=passcode, **extra)
            welcome = await client.expect("welcome")
            client.epoch, client.token, client.pid = welcome["epoch"], welcome.get("token", ""), welcome.get("pid", "")
        return client

    async def send(self, type_: str, **fields: Any) -> None:
        await self.ws.send(json.dumps({"type": type_, **fields}))

    async def _read(self, timeout: float) -> dict[str, Any]:
        async with asyncio.timeout(timeout * SECOND):
            message: dict[str, Any] = json.loads(await self.ws.recv())
        self.messages += 1
        frames = _unbatched(message)
        self.frames += frames
        for frame in frames:
            if frame.get("id") and frame["type"] not in ("ack", "done"):
                self.last_id = frame["id"]
        return frames[-1]

    async def take(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 5.0) -> dict[str, Any]:
        """The first frame not yet taken that satisfies `predicate`, reading more as needed."""
        async with asyncio.timeout(timeout * SECOND):
            index = 0
            while True:
                while index < len(self.frames):
                    if index not in self._taken and predicate(self.frames[index]):
                        self._taken.add(index)
                        return self.frames[index]
                    index += 1
                await self._read(timeout)

    async def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        """The oldest frame not yet taken."""
        return await self.take(lambda frame: True, timeout)

    async def expect(self, type_: str, timeout: float = 5.0, **match: Any) -> dict[str, Any]:
        """The first frame not yet taken of `type_` whose fields include `match`."""
        return await self.take(
            lambda frame: frame["type"] == type_ and all(_matches(frame, k, v) for k, v in match.items()), timeout
        )

    async def drain(self, quiet: float = 0.3) -> list[dict[str, Any]]:
        """Read until nothing arrives for `quiet` seconds; returns the frames not yet taken (taking them)."""
        with contextlib.suppress(TimeoutError):
            while True:
                await self._read(quiet)
        got = [frame for index, frame in enumerate(self.frames) if index not in self._taken]
        self._taken.update(range(len(self.frames)))
        return got

    async def frames_of(self, type_: str) -> list[dict[str, Any]]:
        """Every frame of one type received so far (taken or not)."""
        return [frame for frame in self.frames if frame["type"] == type_]

    async def reply_to(self, client_id: str, timeout: float = 5.0) -> dict[str, Any]:
        """The ack or error answering the submission with this cid."""
        return await self.take(lambda f: f["type"] in ("ack", "error") and f.get("cid") == client_id, timeout)

    async def submit(self, text: str, **fields: Any) -> dict[str, Any]:
        """Submit and wait for the ack (or error) about it."""
        client_id = fields.pop("cid", None) or cid()
        author = {"name": "Amina", "organisation": "Voices of the Sahel", "country": "NE"}
        await self.send("submit", cid=client_id, text=text, **{**author, **fields})
        return await self.reply_to(client_id)

    async def act(self, type_: str, **fields: Any) -> dict[str, Any]:
        """A moderator action; waits for its done or error."""
        ref = uuid.uuid4().hex[:8]
        await self.send(type_, ref=ref, **fields)
        return await self.take(lambda f: f["type"] in ("done", "error") and f.get("ref") == ref)

    async def close_code(self, timeout: float = 5.0) -> int | None:
        """Wait for the server to close; returns its close code."""
        try:
            async with asyncio.timeout(timeout * SECOND):
                while True:
                    self.frames += _unbatched(json.loads(await self.ws.recv()))
        except ConnectionClosed as exc:
            return exc.rcvd.code if exc.rcvd else None

    async def close(self) -> None:
        await self.ws.close()


def _unbatched(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The frames a message carries: a `batch` carries several, in order (checked: never empty, ids rising)."""
    if message["type"] != "batch":
        return [message]
    frames: list[dict[str, Any]] = message["frames"]
    assert len(frames) >= 2 and message["id"] == frames[-1]["id"], message
    ids = [tuple(map(int, f["id"].split("-"))) for f in frames]
    assert ids == sorted(ids), message
    return frames


def _matches(frame: dict[str, Any], key: str, value: Any) -> bool:
    """`question__status="approved"` looks inside frame["question"]["status"]; `floor__0__id`, inside a list."""
    node: Any = frame
    for part in key.split("__"):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return False
    return bool(node == value)
