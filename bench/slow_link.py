"""The participant page on a slow link: how long until a person can read the questions and ask, and until their
question is acknowledged.

The link is a TCP proxy on loopback that holds every chunk for half the round-trip time in each direction and
lets bytes through at the given rate, for the page's HTTP requests and its WebSocket alike (Chromium's own
network emulation leaves WebSocket frames unthrottled).

    python -m bench.slow_link [--redis-url URL] [--kbps 400] [--latency-ms 400] [--runs 5]

Starts `liveqa serve` on a free port (against the given Redis, flushed first; or its embedded one), creates an
event with 30 approved questions, then for each run opens the participant page in a fresh browser context (an
empty cache, as a first visit) through the slow link and measures: `ready_ms` — from navigation to the page
saying Live with the questions shown; `bytes` — what was downloaded; `ack_ms` — from pressing Send to the
question shown as sent (acknowledged by the server). Prints one JSON object with every run and the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Response, async_playwright

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery"


class SlowLink:
    """A loopback TCP proxy: each direction delays every chunk by latency/2 and sends at most `kbps`."""

    def __init__(self, target_port: int, kbps: int, latency_ms: int) -> None:
        self.target_port = target_port
        self.rate = kbps * 125  # bytes per second
        self.delay = latency_ms / 2000
        self.port = 0

    async def start(self) -> asyncio.Server:
        server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        return server

    async def _connection(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):  # the run ends with sockets open
            await asyncio.gather(self._pump(client_r, server_w), self._pump(server_r, client_w), return_exceptions=True)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def send() -> None:
            free_at = 0.0  # when the link has sent what it was given
            while True:
                arrived, chunk = await queue.get()
                if not chunk:
                    writer.close()
                    return
                start = max(arrived + self.delay, free_at)
                free_at = start + len(chunk) / self.rate
                await asyncio.sleep(max(0.0, free_at - loop.time()))
                writer.write(chunk)
                await writer.drain()

        sender = asyncio.create_task(send())
        try:
            while chunk := await reader.read(4096):
                queue.put_nowait((loop.time(), chunk))
        finally:
            queue.put_nowait((loop.time(), b""))
            await sender


async def measure(port: int, slug: str, kbps: int, latency_ms: int, runs: int) -> list[dict[str, Any]]:
    link = SlowLink(port, kbps, latency_ms)
    proxy = await link.start()
    base = f"http://127.0.0.1:{link.port}"
    results = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        for run in range(runs):
            context = await browser.new_context(viewport={"width": 390, "height": 844})
            page = await context.new_page()
            cdp = await context.new_cdp_session(page)
            await cdp.send("Network.enable")
            await cdp.send(
                "Network.emulateNetworkConditions",
                {
                    "offline": False,
                    "latency": latency_ms,
                    "downloadThroughput": kbps * 125,
                    "uploadThroughput": kbps * 125,
                },
            )
            downloaded = 0

            async def count(response: Response) -> None:
                nonlocal downloaded
                if "/ws/" not in response.url:
                    downloaded += len(await response.body())

            page.on("response", count)
            start = time.perf_counter()
            await page.goto(f"{base}/e/{slug}", wait_until="commit")
            await page.wait_for_selector(".status.live", timeout=120_000)
            await page.wait_for_selector("#queue > li", timeout=120_000)
            ready = time.perf_counter() - start
            await page.locator("#anonymous").check()
            await page.locator("#text").fill(f"Asked over a slow link, run {run + 1}?")
            await page.locator("#privacy-ok").check()
            sent = time.perf_counter()
            await page.locator("#send").click()
            await page.wait_for_selector("#mine li .badge[class*=status-]", timeout=120_000)
            acked = time.perf_counter() - sent
            results.append({"ready_ms": round(ready * 1000), "ack_ms": round(acked * 1000), "bytes": downloaded})
            await context.close()
        await browser.close()
    proxy.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redis-url", default="")
    parser.add_argument("--kbps", type=int, default=400)
    parser.add_argument("--latency-ms", type=int, default=400)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    port = 8500 + os.getpid() % 200
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "LIVEQA_PORT": str(port), "LIVEQA_STATIC_DIR": str(ROOT / "static"),
           "LIVEQA_DATA_DIR": "/tmp/liveqa-slow-link"}  # fmt: skip
    if args.redis_url:
        subprocess.run(["redis-cli", "-u", args.redis_url, "flushdb"], check=True, capture_output=True)
        env["LIVEQA_REDIS_URL"] = args.redis_url
    liveqa = [sys.executable, "-m", "liveqa"]
    slug = "slow-link"
    subprocess.run([*liveqa, "event", "create", slug, "--title", "Slow link", "--anonymous", "--post-moderation",
                    "--password", PASSWORD], env=env, capture_output=True, check=True)  # fmt: skip
    server = subprocess.Popen(
        [*liveqa, "serve", "--no-demo"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/readyz", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        asyncio.run(fill(base, slug))
        runs = asyncio.run(measure(port, slug, args.kbps, args.latency_ms, args.runs))
    finally:
        server.terminate()
        server.wait()
    print(json.dumps({
        "link": {"kbps": args.kbps, "latency_ms": args.latency_ms},
        "runs": runs,
        "ready_ms_median": statistics.median(r["ready_ms"] for r in runs),
        "ack_ms_median": statistics.median(r["ack_ms"] for r in runs),
        "bytes_median": statistics.median(r["bytes"] for r in runs),
    }))  # fmt: skip


async def fill(base: str, slug: str) -> None:
    """30 questions, public at once (post-moderation), from as many participants."""
    import uuid

    import websockets

    for n in range(30):
        url = base.replace("http", "ws") + f"/ws/e/{slug}/participant"
        async with websockets.connect(url, subprotocols=["liveqa.v1"], origin=base) as ws:  # type: ignore[list-item,arg-type]
            await ws.send(json.dumps({"type": "hello"}))
            text = f"Question {n + 1}: how will the Council follow up on the recommendations of report {n + 1}?"
            await ws.send(json.dumps({"type": "submit", "cid": uuid.uuid4().hex, "text": text}))
            while json.loads(await ws.recv())["type"] != "ack":
                pass


if __name__ == "__main__":
    main()
