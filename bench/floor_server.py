"""The floor server: the least a server can do for each of LiveQA's paths, served the way LiveQA is served
(one uvicorn process, starlette, `websockets-sansio`, per-message deflate off, pings every 20 s).

One WebSocket route, `/ws?role=listener|console|driver`. Listeners and consoles only receive; a driver sends
operations `{"op": ..., "ref": ..., "payload": [...]}` and gets `{"type": "done", "ref", "id"}` back:

- `raw`    (floor a): encode one frame `{"type": "update", "id", "queue": payload}` once, write the same text
           to every listener with `send_text` in a plain loop. Nothing else.
- `stream` (floor b): XADD the payload to a Redis stream (awaited); one reader task XREADs the stream and
           does exactly what `raw` does for each entry.
- `lua`    (floor c): one awaited Lua script (INCR + XADD, like a submission's one round trip), then the
           frame goes to every console (the moderator consoles' path).

GET /lua_loop?n=N times N sequential awaited calls of the same script inside this process (c, raw), and
GET /ready says it is up. Run: `python -m bench.floor_server --port P --redis-url redis://127.0.0.1:Q/0`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import redis.asyncio as aioredis
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

STREAM = "bench:floor:{f}:log"
COUNTER = "bench:floor:{f}:n"
SCRIPT = """
redis.call('INCR', KEYS[1])
return redis.call('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', 'p', ARGV[1])
"""


class Op(msgspec.Struct):
    op: str
    ref: str = ""
    payload: list[str] = []


class Floor:
    def __init__(self, redis_url: str) -> None:
        self.redis = aioredis.Redis.from_url(redis_url, decode_responses=True)
        self.script = self.redis.register_script(SCRIPT)
        self.listeners: set[WebSocket] = set()
        self.consoles: set[WebSocket] = set()
        self.encoder = msgspec.json.Encoder()
        self.decoder = msgspec.json.Decoder(Op)
        self.seq = 0
        self.reader: asyncio.Task[None] | None = None

    def frame(self, log_id: str, payload: list[str] | str) -> str:
        if isinstance(payload, str):  # already JSON (from the stream): wrap it, don't re-encode
            return f'{{"type":"update","id":"{log_id}","queue":{payload}}}'
        return self.encoder.encode({"type": "update", "id": log_id, "queue": payload}).decode()

    @staticmethod
    async def fan_out(sockets: set[WebSocket], text: str) -> None:
        for ws in list(sockets):
            try:
                await ws.send_text(text)
            except (WebSocketDisconnect, RuntimeError, OSError):
                sockets.discard(ws)

    async def handle(self, driver: WebSocket, raw: str) -> None:
        op = self.decoder.decode(raw)
        if op.op == "raw":
            self.seq += 1
            log_id = f"{time.time_ns() // 1_000_000}-{self.seq}"
            await driver.send_text(self.encoder.encode({"type": "done", "ref": op.ref, "id": log_id}).decode())
            await self.fan_out(self.listeners, self.frame(log_id, op.payload))
        elif op.op == "stream":
            body = self.encoder.encode(op.payload).decode()
            log_id = str(await self.redis.xadd(STREAM, {"p": body}, maxlen=10000, approximate=True))
            await driver.send_text(self.encoder.encode({"type": "done", "ref": op.ref, "id": log_id}).decode())
        elif op.op == "lua":
            body = self.encoder.encode(op.payload).decode()
            log_id = str(await self.script(keys=[COUNTER, STREAM + ":lua"], args=[body]))
            await self.fan_out(self.consoles, self.frame(log_id, body))
            await driver.send_text(self.encoder.encode({"type": "done", "ref": op.ref, "id": log_id}).decode())

    async def read_stream(self) -> None:
        last = "0-0"  # the stream is emptied at start-up; "$" would miss entries added between two reads
        while True:
            try:
                reply: Any = await self.redis.xread({STREAM: last}, block=5000, count=500)
                for _stream, entries in reply or []:
                    for entry_id, fields in entries:
                        last = entry_id
                        await self.fan_out(self.listeners, self.frame(entry_id, fields["p"]))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # say so in the floor's log, and read on
                print(f"floor stream reader: {exc!r}", file=sys.stderr, flush=True)
                await asyncio.sleep(0.1)

    async def lua_loop(self, n: int) -> dict[str, float]:
        """n sequential awaited calls of the script: wall and process CPU per call, in µs."""
        await self.script(keys=[COUNTER, STREAM + ":loop"], args=["[]"])  # loads the script
        cpu0, wall0 = time.process_time_ns(), time.monotonic_ns()
        for _ in range(n):
            await self.script(keys=[COUNTER, STREAM + ":loop"], args=['["1","2","3"]'])
        cpu1, wall1 = time.process_time_ns(), time.monotonic_ns()
        await self.redis.delete(STREAM + ":loop")
        return {"n": n, "wall_us_per_call": (wall1 - wall0) / n / 1000, "cpu_us_per_call": (cpu1 - cpu0) / n / 1000}


def create_app(redis_url: str) -> Starlette:
    floor = Floor(redis_url)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await floor.redis.delete(STREAM, STREAM + ":lua", COUNTER)
        floor.reader = asyncio.create_task(floor.read_stream())
        try:
            yield
        finally:
            floor.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, aioredis.RedisError):
                await floor.reader
            await floor.redis.aclose()

    async def endpoint(websocket: WebSocket) -> None:
        role = websocket.query_params.get("role", "listener")
        offered = websocket.scope.get("subprotocols") or []
        await websocket.accept(subprotocol=offered[0] if offered else None)
        group = floor.consoles if role == "console" else floor.listeners if role == "listener" else None
        if group is not None:
            group.add(websocket)
        try:
            while True:
                text = await websocket.receive_text()
                if role == "driver":
                    await floor.handle(websocket, text)
        except WebSocketDisconnect:
            pass
        finally:
            if group is not None:
                group.discard(websocket)

    async def ready(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def loop(request: Request) -> Response:
        return JSONResponse(await floor.lua_loop(int(request.query_params.get("n", "1000"))))

    return Starlette(
        routes=[WebSocketRoute("/ws", endpoint), Route("/ready", ready), Route("/lua_loop", loop)], lifespan=lifespan
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis-url", required=True)
    args = parser.parse_args()
    uvicorn.run(
        create_app(args.redis_url),
        host="127.0.0.1",
        port=args.port,
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        ws_ping_interval=20,
        ws_ping_timeout=20,
        log_level="warning",
        lifespan="on",
    )


if __name__ == "__main__":
    main()
