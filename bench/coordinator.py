"""Runs one measured phase: starts the load generator's worker processes, steps them through joining, the load,
settling and reporting, reads /proc around each step, and merges what the workers measured.

Phases (each bounded in time):
  join     every socket connects (and, on LiveQA, says hello and gets its snapshot);
  load     the workers play their plans; they then wait for every reply; the coordinator reads the stored vote
           count of every question voted on from Redis (the truth: a vote the server refused as `unavailable`
           may still have been applied), and every socket waits until it has the newest acknowledged id of its
           audience and those tallies ("settled");
  idle     (instead of load) nothing is sent for `idle_s` seconds;
  report   the workers compute latencies and checks from what they recorded.
CPU, RSS and the machine's load are read at the start of the join, at the end of the join (= start of the load
or idle) and once every socket has settled.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from bench.common import (
    PYTHON,
    ROOT,
    alive,
    cpu_between_us,
    cpu_reading,
    die_with_parent,
    loadavg,
    machine_busy_us,
    merge_counts,
    rss_kib,
)
from bench.loadgen import Plan
from bench.stats import Histogram, self_cpu_us
from liveqa.store import keys
from liveqa.store.redis import connect


class PhaseError(RuntimeError):
    pass


@dataclass
class Watch:
    """The processes whose CPU and memory a phase reports."""

    servers: list[int]
    redis: list[int]
    workers: list[int] = field(default_factory=list)


def _safe(read: Any, pid: int) -> int:
    try:
        return int(read(pid))
    except (OSError, ValueError, IndexError):
        return 0


def _cpu(pid: int) -> tuple[int, int, list[int]]:
    try:
        return cpu_reading(pid)
    except (OSError, ValueError, IndexError):
        return 0, 0, []


def sample(watch: Watch) -> dict[str, Any]:
    return {
        "t_ns": time.monotonic_ns(),
        "server_cpu": [_cpu(p) for p in watch.servers],
        "server_rss": [_safe(rss_kib, p) for p in watch.servers],
        "redis_cpu": [_cpu(p) for p in watch.redis],
        "redis_rss": [_safe(rss_kib, p) for p in watch.redis],
        "loadgen_cpu": [_cpu(p) for p in watch.workers],
        "machine_busy": machine_busy_us(),
        "self_cpu": self_cpu_us(),
        "loadavg": loadavg(),
    }


def _group(a: list[Any], b: list[Any]) -> tuple[list[int], int]:
    """Per process CPU (precise) and the group's total from /proc/PID/stat, between two samples."""
    pairs = [cpu_between_us(x, y) for x, y in zip(a, b, strict=True)]
    return [p[0] for p in pairs], sum(p[1] for p in pairs)


def between(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """What happened between two samples: CPU per process group, the rest of the machine, memory at the end.
    CPU comes from schedstat (ns), and from /proc/PID/stat (utime + stime, 10 ms ticks) as `…_stat`."""
    server, server_stat = _group(a["server_cpu"], b["server_cpu"])
    redis_each, redis_stat = _group(a["redis_cpu"], b["redis_cpu"])
    redis = sum(redis_each)
    loadgen = (
        sum(_group(a["loadgen_cpu"], b["loadgen_cpu"])[0]) if len(a["loadgen_cpu"]) == len(b["loadgen_cpu"]) else 0
    )
    coordinator = b["self_cpu"] - a["self_cpu"]
    busy = b["machine_busy"] - a["machine_busy"]
    wall_s = (b["t_ns"] - a["t_ns"]) / 1e9
    return {
        "wall_s": round(wall_s, 3),
        "server_cpu_us": sum(server),
        "server_cpu_us_each": server,
        "server_cpu_us_stat": server_stat,
        "server_cores": round(sum(server) / 1e6 / wall_s, 3) if wall_s > 0 else None,
        "server_rss_kib": sum(b["server_rss"]),
        "server_rss_kib_each": b["server_rss"],
        "redis_cpu_us": redis,
        "redis_cpu_us_stat": redis_stat,
        "redis_rss_kib": sum(b["redis_rss"]),
        "loadgen_cpu_us": loadgen,
        "coordinator_cpu_us": coordinator,
        "machine_busy_us": busy,
        # CPU used on the machine by anything but the server, Redis and the harness: the other load
        "other_cpu_us": busy - sum(server) - redis - loadgen - coordinator,
        "loadavg_before": a["loadavg"],
        "loadavg_after": b["loadavg"],
    }


class WorkerProcess:
    def __init__(self, index: int, process: asyncio.subprocess.Process, log_path: Path) -> None:
        self.index = index
        self.process = process
        self.log_path = log_path

    @property
    def pid(self) -> int:
        return self.process.pid

    async def send(self, **command: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(command) + "\n").encode())
        await self.process.stdin.drain()

    async def expect(self, event: str, within_s: float) -> dict[str, Any]:
        assert self.process.stdout is not None
        try:
            async with asyncio.timeout(within_s):
                while True:
                    line = await self.process.stdout.readline()
                    if not line:
                        await self.process.wait()
                        raise PhaseError(f"load generator {self.index} exited: {self._tail()}")
                    with contextlib.suppress(ValueError):
                        message: dict[str, Any] = json.loads(line)
                        if message.get("event") == event:
                            return message
        except TimeoutError:
            raise PhaseError(f"load generator {self.index}: no {event!r} within {within_s:.0f} s") from None

    def _tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    async def stop(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError, OSError):
                await self.send(cmd="quit")
            try:
                await asyncio.wait_for(self.process.wait(), 20)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                await self.process.wait()


async def _spawn_worker(index: int, plan: Plan, workdir: Path) -> WorkerProcess:
    plan_path = workdir / f"plan-{index}.json"
    await asyncio.to_thread(plan_path.write_bytes, msgspec.json.encode(plan))
    log_path = workdir / f"loadgen-{index}.log"
    log = await asyncio.to_thread(log_path.open, "ab")
    try:
        process = await asyncio.create_subprocess_exec(
            PYTHON,
            "-m",
            "bench.loadgen",
            "--plan",
            str(plan_path),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
            cwd=ROOT,
            limit=1 << 20,
            preexec_fn=die_with_parent,
        )
    finally:
        log.close()
    return WorkerProcess(index, process, log_path)


class _RssPeak:
    """Polls the servers' RSS while a phase runs, for the peak."""

    def __init__(self, pids: Sequence[int]) -> None:
        self.pids = list(pids)
        self.peak = 0
        self._task: asyncio.Task[None] | None = None

    async def _poll(self) -> None:
        while True:
            self.peak = max(self.peak, sum(_safe(rss_kib, p) for p in self.pids if alive(p)))
            await asyncio.sleep(0.1)

    def __enter__(self) -> _RssPeak:
        self._task = asyncio.create_task(self._poll())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()


def _summaries(items: list[dict[str, Any]], key: str) -> tuple[dict[str, Any], dict[str, Any]]:
    merged = Histogram()
    for item in items:
        merged.merge(Histogram.from_json(item[key]))
    return merged.summary(), merged.to_json()


async def _read(call: Callable[[], Awaitable[Any]]) -> Any:
    """One reading from Redis, tried again shortly after a timeout under load (5 tries). Raises _Unreadable."""
    for attempt in range(5):
        try:
            return await call()
        except Exception:
            if attempt == 4:
                raise _Unreadable from None
            await asyncio.sleep(0.2)


class _Unreadable(Exception):
    pass


async def read_queue(redis_url: str, slug: str) -> list[str] | None:
    """The queue order stored for the event (what every socket's order must end as), or None when Redis cannot
    be read."""
    client = connect(redis_url)
    try:
        return list(await _read(lambda: client.lrange(keys.queue(slug), 0, -1)))
    except _Unreadable:
        return None
    finally:
        with contextlib.suppress(Exception):
            await client.aclose()


async def read_tallies(redis_url: str, slug: str, qids: Sequence[str]) -> dict[str, int] | None:
    """The vote count stored for each question (the `votes` field of its hash: what clients are shown), read with
    LiveQA's own client, one single-key command each (so it works on a cluster too). Read until two readings a
    quarter of a second apart agree (a vote whose call timed out on the server may still be applied a moment
    later). None when Redis cannot be read."""
    client = connect(redis_url)
    try:
        previous: dict[str, int] | None = None
        for _ in range(20):
            reading = {
                qid: int(await _read(functools.partial(client.hget, keys.question(slug, qid), "votes")) or 0)
                for qid in qids
            }
            if reading == previous:
                return reading
            previous = reading
            await asyncio.sleep(0.25)
        return previous
    except _Unreadable:
        return None
    finally:
        with contextlib.suppress(Exception):
            await client.aclose()


def _rate(span: list[int], count: int) -> float | None:
    if len(span) != 2 or count < 2 or span[1] <= span[0]:
        return None
    return round((count - 1) / ((span[1] - span[0]) / 1e9), 1)


async def run_phase(
    name: str,
    plans: list[Plan],
    watch: Watch,
    workdir: Path,
    *,
    mode: str = "load",
    idle_s: float = 0.0,
    settle_timeout_s: float = 10.0,
    join_timeout_s: float = 120.0,
    load_timeout_s: float = 300.0,
    redis_url: str = "",
    slug: str = "",
) -> dict[str, Any]:
    """One measured phase (see the module's docstring). Raises PhaseError if a worker fails or hangs.

    `redis_url` (the URL the LiveQA servers use) and `slug` (default: the plans' event) let the coordinator read
    the stored vote tallies after the load and check every socket against them; without them, tallies are
    checked against the votes sent, which is wrong whenever the server refused a vote."""
    slug = slug or next((p.slug for p in plans if p.protocol == "liveqa" and p.slug), "")
    marks = [time.monotonic()]  # where the harness's own time goes: start, join, load, report, stop
    await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
    workers = [await _spawn_worker(i, plan, workdir) for i, plan in enumerate(plans)]
    watch = Watch(watch.servers, watch.redis, [w.pid for w in workers])
    try:
        for w in workers:
            await w.expect("started", 30)
        marks.append(time.monotonic())
        s0 = sample(watch)
        with _RssPeak(watch.servers) as join_peak:
            for w in workers:
                await w.send(cmd="join")
            ready = [await w.expect("ready", join_timeout_s) for w in workers]
        s1 = sample(watch)
        marks.append(time.monotonic())
        sends: dict[str, list[Any]] = {}
        votes_net: dict[str, int] = {}
        unanswered = 0
        settled: list[dict[str, Any]] = []
        truth: dict[str, int] | None = None
        truth_moved = False
        queue: list[str] | None = None
        with _RssPeak(watch.servers) as load_peak:
            if mode == "load":
                for w in workers:
                    await w.send(cmd="go", path=str(workdir / f"sent-{w.index}.json"))
                for w in workers:
                    message = await w.expect("sent", load_timeout_s)
                    sent = json.loads(await asyncio.to_thread(Path(message["path"]).read_text))
                    sends.update(sent["sends"])
                    for qid, n in sent["votes_net"].items():
                        votes_net[qid] = votes_net.get(qid, 0) + n
                    unanswered += sent["unanswered"]
                expected: dict[str, list[str]] = {}
                for log_id, (_sent, _kind, audiences) in sends.items():
                    for audience in audiences:
                        expected.setdefault(audience, []).append(log_id)
                if votes_net and redis_url and slug:
                    truth = await read_tallies(redis_url, slug, sorted(votes_net))
                settle_path = workdir / "settle.json"
                settle = json.dumps({"expected": expected, "sends": sends, "votes_net": votes_net, "truth": truth})
                await asyncio.to_thread(settle_path.write_text, settle)
                for w in workers:
                    await w.send(cmd="settle", path=str(settle_path), timeout=settle_timeout_s)
                settled = [await w.expect("settled", settle_timeout_s + 30) for w in workers]
                if truth is not None:
                    after = await read_tallies(redis_url, slug, sorted(votes_net))
                    if after is not None and after != truth:
                        truth, truth_moved = after, True  # a late vote: report against the newer count
                if redis_url and slug and any(p.protocol == "liveqa" for p in plans):
                    queue = await read_queue(redis_url, slug)
            elif mode == "idle":
                await asyncio.sleep(idle_s)
        s2 = sample(watch)
        marks.append(time.monotonic())
        reports = []
        for w in workers:
            await w.send(cmd="report", path=str(workdir / f"report-{w.index}.json"), truth=truth, queue=queue)
            message = await w.expect("done", 120)
            reports.append(json.loads(await asyncio.to_thread(Path(message["path"]).read_text)))
        marks.append(time.monotonic())
    finally:
        for w in workers:
            await w.stop()
    marks.append(time.monotonic())
    result = _merge(
        name,
        mode,
        plans,
        ready,
        reports,
        settled,
        s0,
        s1,
        s2,
        join_peak.peak,
        load_peak.peak,
        unanswered,
        len(sends),
        votes_net,
        truth,
        truth_moved,
    )
    steps = ["start", "join", "load", "report", "stop"]
    result["harness_s"] = {step: round(b - a, 2) for step, a, b in zip(steps, marks, marks[1:], strict=False)}
    return result


def _merge(
    name: str,
    mode: str,
    plans: list[Plan],
    ready: list[dict[str, Any]],
    reports: list[dict[str, Any]],
    settled: list[dict[str, Any]],
    s0: dict[str, Any],
    s1: dict[str, Any],
    s2: dict[str, Any],
    join_peak: int,
    load_peak: int,
    unanswered: int,
    acknowledged: int,
    votes_net: dict[str, int],
    truth: dict[str, int] | None = None,
    truth_moved: bool = False,
) -> dict[str, Any]:
    queues_unread = any(r["queue_mismatches"] is None for r in reports)
    join_wall_ns = max(r["last_ready_ns"] for r in ready) - min(r["first_start_ns"] for r in ready)
    joined = sum(r["joined"] for r in ready)
    join_summary, join_hist = _summaries(reports, "join_latency")
    handshake_summary, _ = _summaries(reports, "handshake_latency")
    join_cpu = between(s0, s1)
    phase_cpu = between(s1, s2)
    delivered = merge_counts(r["delivered"] for r in reports)
    delivered_total = sum(delivered.values())
    sockets = merge_counts(r["sockets_by_audience"] for r in reports)
    latency_hists: dict[str, Histogram] = {}
    for report in reports:
        for key, data in report["latency"].items():
            latency_hists.setdefault(key, Histogram()).merge(Histogram.from_json(data))
    ack_summary, _ = _summaries(reports, "ack_latency")
    counts = merge_counts(r["counts"] for r in reports)
    vote_spans = [r["vote_span_ns"] for r in reports if r["vote_span_ns"]]
    submit_spans = [r["submit_span_ns"] for r in reports if r["submit_span_ns"]]

    def span(spans: list[list[int]]) -> list[int]:
        return [min(s[0] for s in spans), max(s[1] for s in spans)] if spans else []

    checks = {
        "frames_missing": sum(r["missing"] for r in reports),
        "missing_examples": [e for r in reports for e in r["missing_examples"]][:5],
        "order_violations": sum(r["order_violations"] for r in reports),
        "order_examples": [e for r in reports for e in r["order_examples"]][:5],
        "tally_mismatches": sum(r["tally_mismatches"] for r in reports),
        # sockets whose queue order (snapshot, then whole orders and single steps) is not the one stored in Redis
        # after the load; steps that did not apply to the order a socket held (both None: Redis not read)
        "queue_mismatches": None if queues_unread else sum(r["queue_mismatches"] for r in reports),
        "queue_errors": sum(r["queue_errors"] for r in reports),
        # what the tallies were checked against: "redis" (the stored counts), "votes_sent" (no Redis to read)
        "tallies_checked_against": ("redis" if truth is not None else "votes_sent") if votes_net else None,
        "tally_truth_moved_after_settling": truth_moved,
        # error replies to votes, by code: the server refusing under load (backpressure), not a loss; they are
        # among error_replies too
        "votes_refused": merge_counts(r.get("vote_refusals", {}) for r in reports),
        # error replies to submissions that the load generator sent again, as the participant page does
        # (`rate_limited`, `unavailable`: same cid, after `retry_after_ms`), by code; also among error_replies.
        # Resends are counted in submits_retried; the submissions still refused after the last of 5 resends,
        # or whose next resend would have come too late, in submissions_given_up: backpressure the person saw
        # as a failure, reported, not a loss of the harness's checks
        "submits_refused": merge_counts(r.get("submit_refusals", {}) for r in reports),
        "submits_retried": sum(r["counts"].get("submits_retried", 0) for r in reports),
        "submissions_given_up": sum(r["counts"].get("submits_given_up", 0) for r in reports),
        "sockets_closed": merge_counts(r["closed"] for r in reports),
        # sockets the server closed during the load that reconnected and resumed (by close code), and those that
        # gave up after 3 attempts (these are also in sockets_closed)
        "reconnects": merge_counts(r.get("reconnects", {}) for r in reports),
        "resume_failures": merge_counts(r.get("resume_failures", {}) for r in reports),
        "duplicates_after_resume": sum(r.get("duplicates", 0) for r in reports),
        "covered_by_snapshot": sum(r.get("covered_by_snapshot", 0) for r in reports),
        "superseded": sum(r.get("superseded", 0) for r in reports),
        "interrupted_actions": sum(r["counts"].get("interrupted", 0) for r in reports),
        "unanswered_actions": unanswered,
        "unsettled_sockets": sum(s["unsettled"] for s in settled),
        "decode_errors": sum(r["decode_errors"] for r in reports),
        "join_failures": merge_counts(r["failures"] for r in ready),
        "error_replies": merge_counts(r["errors"] for r in reports),
    }
    lost = (
        checks["frames_missing"]
        + checks["order_violations"]
        + checks["tally_mismatches"]
        + (checks["queue_mismatches"] or 0)
        + checks["queue_errors"]
        + sum(checks["sockets_closed"].values())
        + unanswered
        + sum(checks["join_failures"].values())
    )
    result: dict[str, Any] = {
        "name": name,
        "mode": mode,
        "workers": len(plans),
        "sockets": {
            "participants": sum(p.participants for p in plans),
            "moderators": sum(p.moderators for p in plans),
            "screens": sum(p.screens for p in plans),
        },
        "join": {
            **join_cpu,  # wall_s: from the join command to the last worker's "ready"
            "joined": joined,
            "joins_wall_s": round(join_wall_ns / 1e9, 3),  # first connect to last snapshot, as the workers saw it
            "joins_per_s": round(joined / (join_wall_ns / 1e9), 1) if join_wall_ns > 0 else None,
            "latency_us": join_summary,
            "handshake_latency_us": handshake_summary,
            "server_rss_peak_kib": join_peak,
            "server_cpu_us_per_join": round(join_cpu["server_cpu_us"] / joined, 1) if joined else None,
        },
        "phase": {
            **phase_cpu,
            "server_rss_peak_kib": load_peak,
            "delivered_frames": delivered_total,
            "delivered_by_audience": delivered,
            # what one socket of each audience received during the load, on average: the length of the messages
            # (JSON text, in characters: bytes for ASCII text)
            "received_chars_per_socket": {
                audience: round(chars / sockets[audience])
                for audience, chars in merge_counts(r["received_chars"] for r in reports).items()
                if sockets.get(audience)
            },
            "cpu_us_per_delivered_frame": round(phase_cpu["server_cpu_us"] / delivered_total, 2)
            if delivered_total
            else None,
            "redis_cpu_us_per_acknowledged_change": round(phase_cpu["redis_cpu_us"] / acknowledged, 2)
            if acknowledged
            else None,
        },
        "acknowledged_changes": acknowledged,
        "latency_us": {key: h.summary() for key, h in sorted(latency_hists.items())},
        "latency_hist": {key: h.to_json() for key, h in sorted(latency_hists.items())},
        "ack_latency_us": ack_summary,
        "join_latency_hist": join_hist,
        "counts": counts,
        "votes_expected_net": sum(votes_net.values()),
        "vote_tallies_stored": truth,
        "vote_rate_achieved": _rate(span(vote_spans), counts.get("votes_sent", 0)),
        "submit_rate_achieved": _rate(span(submit_spans), counts.get("submits_sent", 0)),
        "checks": checks,
        "lost": lost,
        "settle_s": round(max((s["settle_ns"] for s in settled), default=0) / 1e9, 3),
    }
    if mode == "idle":
        wall = phase_cpu["wall_s"]
        result["idle"] = {
            "server_cpu_us_per_s": round(phase_cpu["server_cpu_us"] / wall, 1) if wall else None,
            "rss_before_join_kib": sum(s0["server_rss"]),
            "rss_after_join_kib": sum(s1["server_rss"]),
            "rss_after_idle_kib": sum(s2["server_rss"]),
            "rss_per_socket_kib": round((sum(s2["server_rss"]) - sum(s0["server_rss"])) / joined, 2)
            if joined
            else None,
        }
    return result
