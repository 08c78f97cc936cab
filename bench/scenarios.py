"""The floors (a)–(e) and the scenarios S1–S8 of issue 6, each at a `smoke` or a `full` size.

A Suite owns one run: its Redis, its temporary directories, and the floors measured so far (a floor with the
same parameters is measured once per run and shared by the scenarios that compare against it). Every scenario
starts its own LiveQA server process(es), makes its own event, measures, stops what it started, and returns a
JSON-able result whose `figures` list every figure with its floor and their ratio.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgspec
from prometheus_client.parser import text_string_to_metric_families
from redis.crc import key_slot
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin

from bench.common import (
    LOOPBACK,
    RedisNode,
    Server,
    data_root,
    environment,
    loadavg,
    redis_info,
    remove_tree,
    start_cluster,
    start_floor,
    start_liveqa,
    start_redis,
)
from bench.coordinator import PhaseError, Watch, run_phase
from bench.loadgen import SUBPROTOCOL, Plan
from bench.stats import Histogram, ratio
from liveqa import operations
from liveqa.domain.model import Moderation
from liveqa.store import RedisStore
from liveqa.store.redis import connect as redis_connect

PASSWORD = "benchmark moderator password"

# --- sizes ----------------------------------------------------------------------------------------------

# Smoke sizes prove the harness works in seconds; their figures are not performance figures. Smoke parameters
# are chosen so that scenarios share floors (same sockets, rate and count). Full sizes are issue 6's.
# fmt: off
SIZES: dict[str, dict[str, dict[str, Any]]] = {
    "smoke": {
        "S1": {"audiences": [50], "questions": 10, "rate": 10, "changes": 10},
        "S2": {"participants": 50, "moderators": 2, "questions": 10, "update_rate": 10, "updates": 10,
               "submit_rate": 10, "submits": 10},
        "S3": {"voters": 20, "questions": 10, "vote_rates": [200], "vote_seconds": 1.0,
               "submitters": 5, "question_rates": [20], "question_seconds": 1.0},
        "S4": {"participants": 50, "moderators": 2, "screens": 2, "questions": 10, "submitters": 5, "voters": 20,
               "submit_rate": 6, "vote_rate": 20, "move_rate": 3, "show_rate": 1, "seconds": 1.0},
        "S5": {"sockets": 100, "idle_s": 1.0},
        "S6": {"joins": 100, "concurrency": 20, "questions": 10},
        "S7": {"processes": [1, 2], "participants": 50, "questions": 10, "rate": 10, "changes": 10},
        "S8": {"masters": 3, "participants": 50, "moderators": 2, "screens": 2, "questions": 10, "submitters": 5,
               "voters": 20, "submit_rate": 6, "vote_rate": 20, "move_rate": 3, "show_rate": 1, "seconds": 1.0},
    },
    "full": {
        "S1": {"audiences": [1000, 5000], "questions": 20, "rate": 5, "changes": 100},
        "S2": {"participants": 5000, "moderators": 2, "questions": 20, "update_rate": 10, "updates": 200,
               "submit_rate": 5, "submits": 100},
        "S3": {"voters": 200, "questions": 50, "vote_rates": [1000, 2500, 5000, 10000, 20000, 40000, 60000],
               "vote_seconds": 5.0, "submitters": 50, "question_rates": [50, 100, 200, 400, 800],
               "question_seconds": 5.0},
        "S4": {"participants": 5000, "moderators": 20, "screens": 2, "questions": 20, "submitters": 100,
               "voters": 1000, "submit_rate": 20, "vote_rate": 180, "move_rate": 2, "show_rate": 0.2,
               "seconds": 30.0},
        "S5": {"sockets": 10000, "idle_s": 30.0},
        "S6": {"joins": 10000, "concurrency": 100, "questions": 50},
        "S7": {"processes": [1, 2, 4], "participants": 2000, "questions": 20, "rate": 5, "changes": 100},
        "S8": {"masters": 3, "participants": 5000, "moderators": 20, "screens": 2, "questions": 20,
               "submitters": 100, "voters": 1000, "submit_rate": 20, "vote_rate": 180, "move_rate": 2,
               "show_rate": 0.2, "seconds": 30.0},
    },
}
# fmt: on

TITLES = {
    "S1": "Fan-out of queue changes to N participants",
    "S2": "Submit → moderator console latency while participants receive 10 updates/s",
    "S3": "Ingest: votes, and questions, at the highest rate held without loss",
    "S4": "Composite event: participants, moderators, screens, submissions + votes, moves, shows",
    "S5": "Idle sockets: memory per socket and idle CPU",
    "S6": "Joins: handshake + identity + first snapshot",
    "S7": "K server processes on one Redis",
    "S8": "Local 3-master Redis Cluster under the composite event",
}
TARGETS = {
    "cpu_fanout": "≤ 1.2× floor a",
    "p99_audience": "≤ 1.3× floor b",
    "p50_console": "≤ 2× floor c",
    "p99_console": "≤ 3× floor c",
    "votes": "≥ 2.5× floor c capacity (≈ 10,000/s)",
    "questions": "≥ 200/s per process",
    "composite_cores": "≤ 1 core",
    "p99_composite": "≤ 1.5× floor b",
    "idle_rss": "10,000 sockets ≤ 340 MB (stretch 200 MB)",
    "idle_cpu": "≤ 2× floor e",
    "joins": "≤ 1.5× floor d",
    "k_cpu": "≤ 1.15× K=1",
    "lost": "0",
}


def figure(
    name: str, value: float | None, unit: str, floor: str = "", floor_value: float | None = None, target: str = ""
) -> dict[str, Any]:
    return {
        "name": name,
        "value": value,
        "unit": unit,
        "floor": floor,
        "floor_value": floor_value,
        "ratio": ratio(value, floor_value) if floor else None,
        "target": target,
    }


def split(total: int, workers: int, active: int = 0) -> list[int]:
    """Participants per load generator process. With one, it holds everyone. With more, worker 0 holds only the
    driver, the consoles, the screens and the `active` participants (submitters, voters), so its sending keeps
    its pace whatever the audience receives; the passive audience is shared evenly by the others."""
    if workers <= 1:
        return [total]
    rest = total - active
    others = workers - 1
    return [active] + [rest // others + (1 if i < rest % others else 0) for i in range(others)]


def per_worker(concurrency: int, counts: list[int]) -> int:
    """A join concurrency for the whole run, as a share per load generator process that joins sockets."""
    joining = sum(1 for n in counts if n) or 1
    return max(1, -(-concurrency // joining))


def latency(phase: dict[str, Any], *keys: str) -> dict[str, Any]:
    """The merged latency summary of some audience/kind keys of a phase (e.g. public/move)."""
    merged = Histogram()
    for key in keys:
        if (data := phase["latency_hist"].get(key)) is not None:
            merged.merge(Histogram.from_json(data))
    return merged.summary()


def prefixed(phase: dict[str, Any], prefix: str) -> list[str]:
    return [k for k in phase["latency_hist"] if k.startswith(prefix)]


# --- event setup through the server's own protocol --------------------------------------------------------


@dataclass
class EventSetup:
    slug: str
    screen_token: str
    sids: list[str]
    qids: list[str]  # approved, in queue order


async def _frames_until(ws: ClientConnection, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            frame: dict[str, Any] = json.loads(await ws.recv())
            if match(frame):
                return frame


async def _open(base: str, slug: str, role: str, sid: str = "", token: str = "") -> ClientConnection:
    ws = await connect(
        f"{base.replace('http://', 'ws://', 1)}/ws/e/{slug}/{role}",
        origin=Origin(base),
        subprotocols=[SUBPROTOCOL],
        additional_headers={"Cookie": f"liveqa_session={sid}"} if sid else {},
        compression=None,
        proxy=None,
    )
    await ws.send(json.dumps({"type": "hello", "v": 1, "token": token}))
    await _frames_until(ws, lambda f: f["type"] in ("snapshot", "resumed"))
    return ws


async def login(base: str, slug: str, name: str) -> str:
    async with httpx.AsyncClient(base_url=base, headers={"origin": base}, trust_env=False, timeout=30) as http:
        response = await http.post(f"/e/{slug}/login", data={"name": name, "password": PASSWORD})
        sid = response.cookies.get("liveqa_session")
        if response.status_code != 303 or not sid:
            raise PhaseError(f"moderator login failed: HTTP {response.status_code}")
        return str(sid)


async def create_event(redis_url: str, *, premoderated: bool = True, slug: str = "") -> tuple[str, str]:
    """A fresh event, made the way `liveqa event create` makes it; returns (slug, screen token)."""
    slug = slug or f"bench-{secrets.token_hex(4)}"
    client = redis_connect(redis_url)
    try:
        token = await operations.create_event(
            RedisStore(client),
            slug,
            "Benchmark dialogue",
            password=PASSWORD,
            anonymous_allowed=True,
            moderation=Moderation.PRE if premoderated else Moderation.POST,
        )
    finally:
        await client.aclose()
    return slug, token


async def make_event(
    redis_url: str,
    base: str,
    *,
    moderators: int,
    questions: int,
    premoderated: bool = True,
    created: tuple[str, str] | None = None,
) -> EventSetup:
    """A fresh event (or the one just `created`), `moderators` logged-in sessions, and `questions` approved
    questions (submitted and approved over WebSockets, as people would)."""
    slug, token = created or await create_event(redis_url, premoderated=premoderated)
    sids = list(await asyncio.gather(*(login(base, slug, f"Moderator {i + 1}") for i in range(max(1, moderators)))))
    qids: list[str] = []
    if questions:
        participant = await _open(base, slug, "participant")
        try:
            for i in range(questions):
                cid = f"seed{secrets.token_hex(6)}"
                await participant.send(
                    json.dumps(
                        {
                            "type": "submit",
                            "cid": cid,
                            "text": f"Seed question {i + 1} about the agenda of the dialogue?",
                        }
                    )
                )
                ack = await _frames_until(participant, lambda f, c=cid: f.get("cid") == c)  # type: ignore[misc]
                if ack["type"] != "ack":
                    raise PhaseError(f"seeding a question failed: {ack}")
                qids.append(ack["qid"])
        finally:
            await participant.close()
        moderator = await _open(base, slug, "moderator", sid=sids[0])
        try:
            for i, qid in enumerate(qids):
                await moderator.send(json.dumps({"type": "approve", "qid": qid, "ref": f"seed{i}"}))
                done = await _frames_until(moderator, lambda f, r=f"seed{i}": f.get("ref") == r)  # type: ignore[misc]
                if done["type"] != "done":
                    raise PhaseError(f"approving a seed question failed: {done}")
        finally:
            await moderator.close()
    return EventSetup(slug, token, sids, qids)


# --- the suite --------------------------------------------------------------------------------------------


class Suite:
    """One run of the suite at one size."""

    def __init__(
        self,
        size: str,
        out_dir: Path,
        *,
        workers: int | None = None,
        persistence: str = "always",
        server_env: dict[str, str] | None = None,
        keep: bool = False,
        share_servers: bool | None = None,
        dump: bool = False,
        overrides: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self.size = size
        self.dump = dump
        self.sizes = {name: {**params, **(overrides or {}).get(name, {})} for name, params in SIZES[size].items()}
        # Smoke runs share one LiveQA server (each scenario with its own event) and one floor server for the
        # floors a–d, to stay within seconds; full runs start fresh processes for every scenario and floor.
        self.share = size == "smoke" if share_servers is None else share_servers
        self._shared_liveqa: Server | None = None
        self._shared_floor: Server | None = None
        self.out_dir = out_dir
        self.workers = workers or (1 if size == "smoke" else 3)
        # How long sockets may take to receive everything acknowledged before what is missing counts as lost.
        self.settle_s = 10.0 if size == "smoke" else 60.0
        self.persistence = persistence
        self.server_env = server_env or {}
        self.keep = keep
        self.tmp = data_root()
        self.redis: RedisNode | None = None
        self.floors: dict[str, dict[str, Any]] = {}
        self.environment = environment()
        self.started = time.time()

    async def __aenter__(self) -> Suite:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.redis = await start_redis(self.tmp / "redis", persistence=self.persistence)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for shared in (self._shared_liveqa, self._shared_floor):
            if shared is not None:
                await shared.managed.stop()
        if self.redis is not None:
            await self.redis.managed.stop()
        if not self.keep:
            remove_tree(self.tmp)

    @property
    def redis_node(self) -> RedisNode:
        assert self.redis is not None
        return self.redis

    def workdir(self, name: str) -> Path:
        if self.dump:  # kept with the results: plans, every frame, every send (settle.json), worker reports
            return self.out_dir / "frames" / f"{name}-{secrets.token_hex(3)}"
        return self.tmp / "phases" / f"{name}-{secrets.token_hex(3)}"

    def _dumping(self, plans: list[Plan], workdir: Path) -> list[Plan]:
        if not self.dump:
            return plans
        return [msgspec.structs.replace(p, dump_frames=str(workdir / f"frames-{p.worker}.jsonl")) for p in plans]

    @contextlib.asynccontextmanager
    async def liveqa(self, count: int = 1, redis_url: str = "") -> AsyncIterator[list[Server]]:
        """`count` LiveQA server processes on the run's Redis (or on `redis_url`), stopped afterwards (except the
        shared one of a smoke run)."""
        fresh: list[Server] = []
        servers: list[Server] = []
        try:
            if self.share and not redis_url:
                if self._shared_liveqa is None or self._shared_liveqa.managed.process.returncode is not None:
                    self._shared_liveqa = await start_liveqa(self.redis_node.url, self.tmp / "logs", self.server_env)
                servers.append(self._shared_liveqa)
            while len(servers) < count:
                server = await start_liveqa(redis_url or self.redis_node.url, self.tmp / "logs", self.server_env)
                fresh.append(server)
                servers.append(server)
            yield servers
        finally:
            for server in fresh:
                await server.managed.stop()

    # --- floors -------------------------------------------------------------------------------------------

    async def _floor_phase(self, key: str, build: Callable[[Server], list[Plan]], **options: Any) -> dict[str, Any]:
        if key in self.floors:
            return self.floors[key]
        shared = self.share and not key.startswith("floor_e")  # (e) measures memory from a fresh process
        if shared and self._shared_floor is None:
            self._shared_floor = await start_floor(self.redis_node.url, self.tmp / "logs")
        if shared and self._shared_floor is not None:
            server = self._shared_floor
        else:
            server = await start_floor(self.redis_node.url, self.tmp / "logs")
        try:
            workdir = self.workdir(key)
            plans = self._dumping(build(server), workdir)
            options.setdefault("settle_timeout_s", self.settle_s)
            phase = await run_phase(key, plans, Watch([server.pid], [self.redis_node.pid]), workdir, **options)
            if key.startswith("floor_c"):
                async with httpx.AsyncClient(trust_env=False, timeout=60) as http:
                    loop = await http.get(
                        f"{server.url}/lua_loop", params={"n": 2000 if self.size == "smoke" else 20000}
                    )
                    phase["lua_loop"] = loop.json()
        finally:
            if server is not self._shared_floor:
                await server.managed.stop()
        self.floors[key] = phase
        return phase

    def _floor_plans(self, server: Server, listeners: int, consoles: int = 0, **load: Any) -> list[Plan]:
        counts = split(listeners, self.workers if listeners >= 1000 else 1)
        concurrency = per_worker(load.pop("join_concurrency", 100), counts)
        plans = []
        offset = 0
        for w, n in enumerate(counts):
            extra = load if w == 0 else {}
            plans.append(
                Plan(
                    worker=w,
                    protocol="floor",
                    targets=[server.url],
                    participants=n,
                    moderators=consoles if w == 0 else 0,
                    participant_offset=offset,
                    join_concurrency=concurrency,
                    **extra,
                )
            )
            offset += n
        return plans

    async def floor_fanout(self, kind: str, listeners: int, rate: float, count: int, payload: int) -> dict[str, Any]:
        """(a) raw fan-out, or (b) the same with a Redis stream hop, to `listeners` sockets."""
        key = f"floor_{kind}-n{listeners}-r{rate:g}-c{count}-p{payload}"
        op = "raw" if kind == "a" else "stream"
        items = [str(i + 1) for i in range(payload)]
        return await self._floor_phase(
            key,
            lambda s: self._floor_plans(
                s,
                listeners,
                driver=op,
                driver_rate=rate,
                driver_count=count,
                payload=items,
                max_load_s=count / rate + 30,
            ),
        )

    async def floor_lua(self, consoles: int, rate: float, count: int) -> dict[str, Any]:
        """(c) an awaited Redis round trip with one Lua script, from a driver's frame to the consoles."""
        key = f"floor_c-m{consoles}-r{rate:g}-c{count}"
        return await self._floor_phase(
            key,
            lambda s: self._floor_plans(
                s,
                0,
                consoles,
                driver="lua",
                driver_rate=rate,
                driver_count=count,
                payload=["1", "2", "3"],
                max_load_s=count / rate + 30,
            ),
        )

    async def floor_lua_beside_fanout(self, listeners: int, rate: float, count: int, payload: int) -> dict[str, Any]:
        """(c′) floor c while the same floor server fans out floor b's frames to `listeners` sockets at `rate`: what
        a minimal server's awaited Lua round trip costs on this machine under S2's audience, in one event loop."""
        s2 = self.sizes["S2"]
        key = f"floor_c2-m{s2['moderators']}-r{s2['submit_rate']:g}-c{s2['submits']}-n{listeners}-r{rate:g}-c{count}"

        def build(server: Server) -> list[Plan]:
            consoles = self._floor_plans(
                server,
                listeners,
                s2["moderators"],
                driver="lua",
                driver_rate=s2["submit_rate"],
                driver_count=s2["submits"],
                payload=["1", "2", "3"],
                max_load_s=s2["submits"] / s2["submit_rate"] + 30,
            )
            audience = Plan(
                worker=len(consoles),
                protocol="floor",
                targets=[server.url],
                driver="stream",
                driver_rate=rate,
                driver_count=count,
                payload=[str(i + 1) for i in range(payload)],
                max_load_s=count / rate + 30,
            )
            return [*consoles, audience]

        return await self._floor_phase(key, build)

    async def floor_console(self) -> dict[str, Any]:
        """Floor (c) at the parameters of S2 (its moderators and its submission rate), shared by S2 and S3."""
        s2 = self.sizes["S2"]
        return await self.floor_lua(s2["moderators"], s2["submit_rate"], s2["submits"])

    async def floor_handshakes(self, n: int, concurrency: int) -> dict[str, Any]:
        """(d) raw WebSocket handshakes: n sockets, `concurrency` at a time."""
        key = f"floor_d-n{n}-k{concurrency}"
        return await self._floor_phase(
            key, lambda s: self._floor_plans(s, n, join_concurrency=concurrency), mode="join"
        )

    async def floor_idle(self, n: int, idle_s: float) -> dict[str, Any]:
        """(e) idle memory per socket and idle CPU of the bare server."""
        key = f"floor_e-n{n}-t{idle_s:g}"
        return await self._floor_phase(key, lambda s: self._floor_plans(s, n), mode="idle", idle_s=idle_s)

    # --- LiveQA phases ------------------------------------------------------------------------------------

    def liveqa_plans(
        self,
        servers: list[Server],
        event: EventSetup,
        *,
        participants: int,
        moderators: int = 1,
        screens: int = 0,
        active: int = 0,
        join_concurrency: int = 100,
        **load: Any,
    ) -> list[Plan]:
        counts = split(participants, self.workers if participants >= 1000 else 1, active)
        join_concurrency = per_worker(join_concurrency, counts)
        plans = []
        offset = 0
        for w, n in enumerate(counts):
            first = w == 0
            plans.append(
                Plan(
                    worker=w,
                    protocol="liveqa",
                    targets=[s.url for s in servers],
                    slug=event.slug,
                    screen_token=event.screen_token,
                    moderator_sids=event.sids[:moderators] if first else [],
                    participants=n,
                    moderators=moderators if first else 0,
                    screens=screens if first else 0,
                    participant_offset=offset,
                    join_concurrency=join_concurrency,
                    **(load if first else {}),
                )
            )
            offset += n
        return plans

    async def liveqa_phase(
        self, name: str, servers: list[Server], plans: list[Plan], redis_pids: list[int] | None = None, **options: Any
    ) -> dict[str, Any]:
        watch = Watch([s.pid for s in servers], redis_pids or [self.redis_node.pid])
        workdir = self.workdir(name)
        options.setdefault("settle_timeout_s", self.settle_s)
        options.setdefault("redis_url", self.redis_node.url)  # where the true vote counts are read
        return await run_phase(name, self._dumping(plans, workdir), watch, workdir, **options)


# --- scenarios ------------------------------------------------------------------------------------------

Scenario = Callable[[Suite, dict[str, Any]], Awaitable[list[dict[str, Any]]]]


def _audience_p(phase: dict[str, Any], kind: str = "") -> dict[str, Any]:
    keys = [k for k in prefixed(phase, "public/") if not kind or k.endswith("/" + kind)]
    return latency(phase, *keys)


def _common_figures(phase: dict[str, Any], floor_a: dict[str, Any], floor_b: dict[str, Any]) -> list[dict[str, Any]]:
    p = phase["phase"]
    return [
        figure(
            "server CPU per delivered frame",
            p["cpu_us_per_delivered_frame"],
            "µs",
            "a",
            floor_a["phase"]["cpu_us_per_delivered_frame"],
            TARGETS["cpu_fanout"],
        ),
        figure(
            "server RSS at the end", p["server_rss_kib"] / 1024, "MiB", "a", floor_a["phase"]["server_rss_kib"] / 1024
        ),
        figure("Redis CPU", p["redis_cpu_us"] / 1000, "ms", "b", floor_b["phase"]["redis_cpu_us"] / 1000),
        figure("frames lost or out of order", phase["lost"], "", target=TARGETS["lost"]),
    ]


async def s1(suite: Suite, params: dict[str, Any]) -> list[dict[str, Any]]:
    runs = []
    for n in params["audiences"]:
        rate, changes, questions = params["rate"], params["changes"], params["questions"]
        floor_a = await suite.floor_fanout("a", n, rate, changes, questions)
        floor_b = await suite.floor_fanout("b", n, rate, changes, questions)
        async with suite.liveqa() as servers:
            event = await make_event(suite.redis_node.url, servers[0].url, moderators=1, questions=questions)
            plans = suite.liveqa_plans(
                servers,
                event,
                participants=n,
                driver="moves",
                driver_rate=rate,
                driver_count=changes,
                max_load_s=changes / rate + 30,
            )
            phase = await suite.liveqa_phase(f"S1-n{n}", servers, plans)
        audience = _audience_p(phase, "move")
        fb = latency(floor_b, "public/floor")
        fa = latency(floor_a, "public/floor")
        figures = [
            *_common_figures(phase, floor_a, floor_b),
            figure("audience latency p50", audience["p50_us"], "µs", "b", fb["p50_us"]),
            figure("audience latency p99", audience["p99_us"], "µs", "b", fb["p99_us"], TARGETS["p99_audience"]),
            figure("audience latency p99 vs raw fan-out", audience["p99_us"], "µs", "a", fa["p99_us"]),
        ]
        runs.append(
            {"label": f"{n} participants", "liveqa": phase, "floors": {"a": floor_a, "b": floor_b}, "figures": figures}
        )
    return runs


async def s2(suite: Suite, params: dict[str, Any]) -> list[dict[str, Any]]:
    n, mods, questions = params["participants"], params["moderators"], params["questions"]
    rate, updates = params["update_rate"], params["updates"]
    floor_a = await suite.floor_fanout("a", n, rate, updates, questions)
    floor_b = await suite.floor_fanout("b", n, rate, updates, questions)
    floor_c = await suite.floor_console()
    floor_c2 = await suite.floor_lua_beside_fanout(n, rate, updates, questions)
    async with suite.liveqa() as servers:
        event = await make_event(suite.redis_node.url, servers[0].url, moderators=mods, questions=questions)
        plans = suite.liveqa_plans(
            servers,
            event,
            participants=n,
            moderators=mods,
            active=1,
            driver="moves",
            driver_rate=rate,
            driver_count=updates,
            submitters=1,
            submit_rate=params["submit_rate"],
            submit_count=params["submits"],
            max_load_s=max(updates / rate, params["submits"] / params["submit_rate"]) + 30,
        )
        phase = await suite.liveqa_phase("S2", servers, plans)
    console = latency(phase, "moderator/submit")
    fc = latency(floor_c, "moderator/floor")
    fc2 = latency(floor_c2, "moderator/floor")
    audience = _audience_p(phase, "move")
    fb = latency(floor_b, "public/floor")
    figures = [
        figure("submit → console p50", console["p50_us"], "µs", "c", fc["p50_us"], TARGETS["p50_console"]),
        figure("submit → console p99", console["p99_us"], "µs", "c", fc["p99_us"], TARGETS["p99_console"]),
        figure("submit → console p50 vs c under the fan-out", console["p50_us"], "µs", "c′", fc2["p50_us"]),
        figure("submit → console p99 vs c under the fan-out", console["p99_us"], "µs", "c′", fc2["p99_us"]),
        figure("audience latency p99", audience["p99_us"], "µs", "b", fb["p99_us"], TARGETS["p99_audience"]),
        *_common_figures(phase, floor_a, floor_b),
    ]
    return [
        {
            "label": f"{n} participants, {rate:g} updates/s",
            "liveqa": phase,
            "floors": {"a": floor_a, "b": floor_b, "c": floor_c, "c′": floor_c2},
            "figures": figures,
        }
    ]


def _held(phase: dict[str, Any], offered: float, achieved: float | None) -> bool:
    """A rate is held when nothing is lost or refused, the load generator really offered it (≥ 90 %), and
    every socket had caught up within a second of the last reply."""
    return (
        phase["lost"] == 0
        and not phase["checks"]["error_replies"]
        and achieved is not None
        and achieved >= 0.9 * offered
        and phase["settle_s"] <= 1.0
    )


async def s3(suite: Suite, params: dict[str, Any]) -> list[dict[str, Any]]:
    floor_c = await suite.floor_console()
    capacity = _ops_capacity(floor_c)
    runs = []
    async with suite.liveqa() as servers:
        event = await make_event(suite.redis_node.url, servers[0].url, moderators=1, questions=params["questions"])
        steps = []
        best: float | None = None
        for offered in params["vote_rates"]:
            count = int(offered * params["vote_seconds"])
            plans = suite.liveqa_plans(
                servers,
                event,
                participants=params["voters"],
                active=params["voters"],
                voters=params["voters"],
                vote_rate=offered,
                vote_count=count,
                vote_qids=event.qids,
                max_load_s=params["vote_seconds"] + 30,
            )
            phase = await suite.liveqa_phase(f"S3-votes-{offered}", servers, plans)
            achieved = phase["vote_rate_achieved"]
            held = _held(phase, offered, achieved)
            steps.append(
                {
                    "offered_per_s": offered,
                    "achieved_per_s": achieved,
                    "held": held,
                    "phase": phase,
                    "server_cpu_us_per_vote": round(phase["phase"]["server_cpu_us"] / count, 1),
                }
            )
            if not held:
                break
            best = offered
        runs.append(
            {
                "label": "votes",
                "steps": steps,
                "liveqa": steps[-1]["phase"],
                "floors": {"c": floor_c},
                "figures": [
                    figure("votes/s held without loss", best, "/s", "c", capacity, TARGETS["votes"]),
                    figure(
                        "server CPU per vote (last step)",
                        steps[-1]["server_cpu_us_per_vote"],
                        "µs",
                        "c",
                        _op_cpu(floor_c),
                    ),
                    figure("votes lost (last step)", steps[-1]["phase"]["lost"], "", target=TARGETS["lost"]),
                ],
            }
        )
        steps = []
        best = None
        for offered in params["question_rates"]:
            count = int(offered * params["question_seconds"])
            plans = suite.liveqa_plans(
                servers,
                event,
                participants=params["submitters"],
                active=params["submitters"],
                submitters=params["submitters"],
                submit_rate=offered,
                submit_count=count,
                max_load_s=params["question_seconds"] + 30,
            )
            lag_before = await grouping_buckets(servers)
            phase = await suite.liveqa_phase(f"S3-questions-{offered}", servers, plans)
            achieved = phase["submit_rate_achieved"]
            held = _held(phase, offered, achieved)
            steps.append(
                {
                    "offered_per_s": offered,
                    "achieved_per_s": achieved,
                    "held": held,
                    "phase": phase,
                    "server_cpu_us_per_question": round(phase["phase"]["server_cpu_us"] / count, 1),
                    "grouping": await grouping_lag(servers, lag_before, phase["counts"].get("acked", 0)),
                }
            )
            if not held:
                break
            best = offered
        last = steps[-1]["phase"]
        fc = latency(floor_c, "moderator/floor")
        runs.append(
            {
                "label": "questions",
                "steps": steps,
                "liveqa": last,
                "floors": {"c": floor_c},
                "notes": "every question goes through LiveQA's duplicate detection; the grouping lag (a question "
                "reaching the log reader → its grouping decision) is read from the servers' /metrics histogram "
                "after the phase, so its percentiles are bucket bounds (≤)",
                "figures": [
                    figure("questions/s held without loss", best, "/s", "", None, TARGETS["questions"]),
                    figure("submit → ack p50 (last step)", last["ack_latency_us"]["p50_us"], "µs", "c", fc["p50_us"]),
                    figure("submit → ack p99 (last step)", last["ack_latency_us"]["p99_us"], "µs", "c", fc["p99_us"]),
                    figure(
                        "server CPU per question (last step)",
                        steps[-1]["server_cpu_us_per_question"],
                        "µs",
                        "c",
                        _op_cpu(floor_c),
                    ),
                    figure("grouping lag p99 (last step, ≤)", steps[-1]["grouping"]["p99_le_us"], "µs"),
                    figure(
                        "questions grouped (last step)",
                        steps[-1]["grouping"]["decided"],
                        "",
                        target=f"= {steps[-1]['grouping']['expected']} acknowledged",
                    ),
                    figure("questions lost (last step)", last["lost"], "", target=TARGETS["lost"]),
                ],
            }
        )
    return runs


GROUPING_LAG = "liveqa_grouping_lag_seconds"


async def grouping_buckets(servers: list[Server]) -> dict[float, float]:
    """The servers' grouping-lag histograms (cumulative count per upper bound, summed over processes), read from
    their /metrics: the lag from a question reaching a process's log reader to the grouping step's decision."""
    buckets: dict[float, float] = {}
    async with httpx.AsyncClient(timeout=10) as client:
        for server in servers:
            text = (await client.get(f"{server.url}/metrics")).text
            for family in text_string_to_metric_families(text):
                if family.name != GROUPING_LAG:
                    continue
                for sample in family.samples:
                    if sample.name == f"{GROUPING_LAG}_bucket":
                        bound = float(sample.labels["le"])
                        buckets[bound] = buckets.get(bound, 0.0) + sample.value
    return buckets


async def grouping_lag(
    servers: list[Server], before: dict[float, float], questions: int, within_s: float = 60.0, stalled_s: float = 10.0
) -> dict[str, Any]:
    """Wait (up to within_s, or until no decision came for stalled_s: grouping is off, or stuck) until the grouping
    step has decided on `questions` more questions than at `before`, then the lag's distribution over them:
    p50/p99 as the histogram's bucket bounds (an upper bound: "≤")."""
    start = time.monotonic()
    progress, last = start, -1
    while True:
        after = await grouping_buckets(servers)
        delta = {bound: after.get(bound, 0.0) - before.get(bound, 0.0) for bound in after}
        decided = int(delta.get(float("inf"), 0))
        clock = time.monotonic()
        if decided != last:
            progress, last = clock, decided
        if decided >= questions or clock > start + within_s or clock > progress + stalled_s:
            break
        await asyncio.sleep(0.5)

    def bound(q: float) -> float | None:
        for upper in sorted(delta):
            if decided and delta[upper] >= q * decided:
                return upper
        return None

    p50, p99 = bound(0.5), bound(0.99)
    return {
        "decided": decided,
        "expected": questions,
        "caught_up": decided >= questions,
        "p50_le_us": None if p50 is None or p50 == float("inf") else p50 * 1e6,
        "p99_le_us": None if p99 is None or p99 == float("inf") else p99 * 1e6,
        "buckets": {str(upper): int(n) for upper, n in sorted(delta.items())},
    }


def _op_cpu(floor_c: dict[str, Any]) -> float | None:
    """Server CPU per floor-c operation (one frame in, one awaited Lua call, frames out)."""
    ops = floor_c["acknowledged_changes"]
    return round(floor_c["phase"]["server_cpu_us"] / ops, 1) if ops else None


def _ops_capacity(floor_c: dict[str, Any]) -> float | None:
    """Operations per second one core can handle awaiting one Redis call per message (from floor c)."""
    per_op = _op_cpu(floor_c)
    return round(1e6 / per_op, 0) if per_op else None


async def _composite(
    suite: Suite,
    params: dict[str, Any],
    servers: list[Server],
    redis_url: str,
    name: str,
    redis_pids: list[int] | None = None,
    event: EventSetup | None = None,
) -> dict[str, Any]:
    if event is None:
        event = await make_event(
            redis_url, servers[0].url, moderators=params["moderators"], questions=params["questions"]
        )
    seconds = params["seconds"]
    submits = int(params["submit_rate"] * seconds)
    plans = suite.liveqa_plans(
        servers,
        event,
        participants=params["participants"],
        moderators=params["moderators"],
        screens=params["screens"],
        active=params["submitters"] + params["voters"],
        driver="moves",
        driver_rate=params["move_rate"],
        driver_count=int(params["move_rate"] * seconds),
        submitters=params["submitters"],
        submit_rate=params["submit_rate"],
        submit_count=submits,
        voters=params["voters"],
        vote_rate=params["vote_rate"],
        vote_count=int(params["vote_rate"] * seconds),
        vote_qids=event.qids,
        approve_count=submits,
        show_rate=params["show_rate"],
        show_count=max(2, int(params["show_rate"] * seconds)),
        show_qids=event.qids[:2],
        max_load_s=seconds + 30,
    )
    return await suite.liveqa_phase(name, servers, plans, redis_pids, redis_url=redis_url)


def _composite_figures(phase: dict[str, Any], floor_a: dict[str, Any], floor_b: dict[str, Any]) -> list[dict[str, Any]]:
    audience = _audience_p(phase)
    fb = latency(floor_b, "public/floor")
    console = latency(phase, "moderator/submit")
    screen = latency(phase, *prefixed(phase, "screen/"))
    return [
        figure("server CPU (cores)", phase["phase"]["server_cores"], "cores", target=TARGETS["composite_cores"]),
        figure("audience latency p50", audience["p50_us"], "µs", "b", fb["p50_us"]),
        figure("audience latency p99", audience["p99_us"], "µs", "b", fb["p99_us"], TARGETS["p99_composite"]),
        figure("submit → console p99", console["p99_us"], "µs"),
        figure("screen latency p99", screen["p99_us"], "µs", "b", fb["p99_us"]),
        figure(
            "received per participant",
            phase["phase"]["received_chars_per_socket"].get("public", 0) / 1024,
            "KiB",
            "b",
            floor_b["phase"]["received_chars_per_socket"].get("public", 0) / 1024,
        ),
        *_common_figures(phase, floor_a, floor_b),
    ]


async def _composite_floors(suite: Suite, params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    rate = params["submit_rate"] + params["move_rate"] + params["show_rate"]  # changes the audience sees per second
    count = max(2, int(rate * params["seconds"]))
    floor_a = await suite.floor_fanout("a", params["participants"], rate, count, params["questions"])
    floor_b = await suite.floor_fanout("b", params["participants"], rate, count, params["questions"])
    return floor_a, floor_b


async def s4(suite: Suite, params: dict[str, Any]) -> list[dict[str, Any]]:
    floor_a, floor_b = await _composite_floors(suite, params)
    async with suite.liveqa() as servers:
        phase = await _composite(suite, params, servers, suite.redis_node.url, "S4")
    return [
        {
            "label": f"{params['participants']} participants, {params['moderators']} moderators, "
            f"{params['screens']} screens",
            "liveqa": phase,
            "floors": {"a": floor_a, "b": floor_b},
            "figures": _composite_figures(phase, floor_a, floor_b),
        }
    ]


async def s5(suite: Suite, params: dict[str, Any]) -> list[dict[str, Any]]:
    n, idle_s = params["sockets"], params["idle_s"]
    floor_e = await suite.floor_idle(n, idle_s)
    async with suite.liveqa() as servers:
        event = await make_event(suite.redis_node.url, servers[0].url, moderators=1, questions=5)
        plans = suite.liveqa_plans(servers, event, participants=n, moderators=0)
        phase = await suite.liveqa_phase("S5", servers, plans, mode="idle", idle_s=idle_s)
    idle, fe = phase["idle"], floor_e["idle"]
    return [
        {
            "label": f"{n} idle participant sockets for {idle_s:g} s",
            "liveqa": phase,
            "floors": {"e": floor_e},
            "figures": [
                figure("RSS per socket", idle["rss_per_socket_kib"], "KiB", "e", fe["rss_per_socket_kib"]),
                figure(
                    "server RSS with every socket open",
                    idle["rss_after_idle_kib"] / 1024,
                    "MiB",
                    "e",
                    fe["rss_after_idle_kib"] / 1024,
                    TARGETS["idle_rss"],
                ),
                figure(
                    "idle server CPU",
                    idle["server_cpu_us_per_s"],
                    "µs/s",
                    "e",
                    fe["server_cpu_us_per_s"],
                    TARGETS["idle_cpu"],
                ),
                figure("sockets lost", phase["lost"], "", target=TARGETS["lost"]),
            ],
        }
    ]


async def s6(suite: Suite, params: dict[str, Any]) -> list[dict[str, Any]]:
    n, k = params["joins"], params["concurrency"]
    floor_d = await suite.floor_handshakes(n, k)
    async with suite.liveqa() as servers:
        event = await make_event(suite.redis_node.url, servers[0].url, moderators=1, questions=params["questions"])
        plans = suite.liveqa_plans(servers, event, participants=n, moderators=0, join_concurrency=k)
        phase = await suite.liveqa_phase("S6", servers, plans, mode="join")
    join, fd = phase["join"], floor_d["join"]
    return [
        {
            "label": f"{n} joins, {k} at a time",
            "liveqa": phase,
            "floors": {"d": floor_d},
            "figures": [
                figure("time for every join", join["joins_wall_s"], "s", "d", fd["joins_wall_s"], TARGETS["joins"]),
                figure("join latency p50", join["latency_us"]["p50_us"], "µs", "d", fd["latency_us"]["p50_us"]),
                figure("join latency p99", join["latency_us"]["p99_us"], "µs", "d", fd["latency_us"]["p99_us"]),
                figure("server CPU per join", join["server_cpu_us_per_join"], "µs", "d", fd["server_cpu_us_per_join"]),
                figure("joins failed", sum(join_failures(phase).values()), "", target=TARGETS["lost"]),
            ],
        }
    ]


def join_failures(phase: dict[str, Any]) -> dict[str, int]:
    failures: dict[str, int] = phase["checks"]["join_failures"]
    return failures


async def s7(suite: Suite, params: dict[str, Any]) -> list[dict[str, Any]]:
    n, rate, changes, questions = params["participants"], params["rate"], params["changes"], params["questions"]
    floor_a = await suite.floor_fanout("a", n, rate, changes, questions)
    floor_b = await suite.floor_fanout("b", n, rate, changes, questions)
    runs = []
    base: dict[str, Any] | None = None
    for k in params["processes"]:
        async with suite.liveqa(k) as servers:
            event = await make_event(suite.redis_node.url, servers[0].url, moderators=1, questions=questions)
            plans = suite.liveqa_plans(
                servers,
                event,
                participants=n,
                driver="moves",
                driver_rate=rate,
                driver_count=changes,
                max_load_s=changes / rate + 30,
            )
            phase = await suite.liveqa_phase(f"S7-k{k}", servers, plans)
        if base is None:
            base = phase
        p, b = phase["phase"], base["phase"]
        audience = _audience_p(phase, "move")
        fb = latency(floor_b, "public/floor")
        runs.append(
            {
                "label": f"K = {k}",
                "processes": k,
                "liveqa": phase,
                "floors": {"a": floor_a, "b": floor_b},
                "figures": [
                    figure(
                        "server CPU per delivered frame (all K)",
                        p["cpu_us_per_delivered_frame"],
                        "µs",
                        "K=1",
                        b["cpu_us_per_delivered_frame"],
                        TARGETS["k_cpu"],
                    ),
                    figure(
                        "server CPU per delivered frame vs raw fan-out",
                        p["cpu_us_per_delivered_frame"],
                        "µs",
                        "a",
                        floor_a["phase"]["cpu_us_per_delivered_frame"],
                    ),
                    figure(
                        "Redis CPU per change",
                        p["redis_cpu_us_per_acknowledged_change"],
                        "µs",
                        "K=1",
                        b["redis_cpu_us_per_acknowledged_change"],
                    ),
                    figure("audience latency p99", audience["p99_us"], "µs", "b", fb["p99_us"]),
                    figure("frames lost or out of order", phase["lost"], "", target=TARGETS["lost"]),
                ],
            }
        )
    return runs


async def s8(suite: Suite, params: dict[str, Any]) -> list[dict[str, Any]]:
    nodes = await start_cluster(suite.tmp / "cluster", masters=params["masters"], persistence=suite.persistence)
    cluster: dict[str, Any] = {"masters": len(nodes), "ports": [n.port for n in nodes], "state": "ok"}
    # A cluster's events spread over every master; this one is put on a slot that a master other than the one
    # in LIVEQA_REDIS_URL serves (a cluster-aware client follows the MOVED reply there).
    masters = params["masters"]
    slots = range(16384 // masters, 2 * 16384 // masters)  # node 1's slots (see start_cluster)
    slug = next(s for s in (f"bench-{secrets.token_hex(4)}" for _ in range(100_000)) if key_slot(s.encode()) in slots)
    cluster["event_slot"] = key_slot(slug.encode())
    cluster["event_node"] = 1
    cluster["server_redis_url_node"] = 0
    url = f"redis+cluster://{LOOPBACK}:{nodes[0].port}"  # LiveQA's cluster URL: one node; the client finds the rest
    cluster["url"] = url
    try:
        created = await create_event(url, slug=slug)
        async with suite.liveqa(redis_url=url) as servers:
            event = await make_event(
                url,
                servers[0].url,
                moderators=params["moderators"],
                questions=params["questions"],
                created=created,
            )
            floor_a, floor_b = await _composite_floors(suite, params)
            phase = await _composite(suite, params, servers, url, "S8", [n.pid for n in nodes], event)
        infos = [await redis_info(n.port) for n in nodes]
        cluster["keys_per_node"] = [
            int(i["db0"].get("keys", 0)) if isinstance(i.get("db0"), dict) else 0 for i in infos
        ]
    finally:
        for node in nodes:
            await node.managed.stop()
    return [
        {
            "label": f"{params['masters']}-master Redis Cluster",
            "cluster": cluster,
            "liveqa": phase,
            "notes": "Redis CPU is the sum over the cluster's masters",
            "floors": {"a": floor_a, "b": floor_b},
            "figures": _composite_figures(phase, floor_a, floor_b),
        }
    ]


SCENARIOS: dict[str, Scenario] = {"S1": s1, "S2": s2, "S3": s3, "S4": s4, "S5": s5, "S6": s6, "S7": s7, "S8": s8}


async def run_scenario(suite: Suite, name: str) -> dict[str, Any]:
    params = suite.sizes[name]
    started = time.monotonic()
    result: dict[str, Any] = {
        "scenario": name,
        "title": TITLES[name],
        "size": suite.size,
        "command": f"python -m bench.run {name} --size {suite.size}",
        "params": params,
        "environment": suite.environment,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "redis": {
            "persistence": f"appendfsync {suite.persistence}" if suite.persistence != "none" else "none",
            "data_dir": "tmpfs" if str(suite.tmp).startswith("/dev/shm") else str(suite.tmp),
        },
        "host": LOOPBACK,
    }
    try:
        result["runs"] = await SCENARIOS[name](suite, params)
        result["status"] = "ok"
    except Exception as exc:
        result["status"] = "failed"
        result["error"] = f"{type(exc).__name__}: {exc}"[:4000]
        result["runs"] = []
    result["elapsed_s"] = round(time.monotonic() - started, 1)
    result["loadavg_after"] = loadavg()
    return result
