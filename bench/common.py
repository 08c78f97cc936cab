"""Shared pieces of the harness: /proc readings, environment info, latency histograms, and the processes a run
starts (redis-server, a Redis Cluster, LiveQA servers, the floor server), all on loopback and all stopped by
the run that started them."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import importlib.metadata
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis

from liveqa.embedded import durable_args, free_port, redis_server_binary

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")
TICK_US = 1_000_000 // CLK_TCK
LOOPBACK = "127.0.0.1"

# Rate limits out of the way: all load comes from one address (see the configuration table in README.md).
UNLIMITED = {
    "LIVEQA_JOIN_BURST": "1000000",
    "LIVEQA_SUBMIT_BURST": "1000000",
    "LIVEQA_VOTE_BURST": "1000000",
    "LIVEQA_LOGIN_BURST": "1000000",
}


# --- /proc ----------------------------------------------------------------------------------------------


def cpu_us(pid: int) -> int:
    """utime + stime of a process (all its threads, living and exited), in µs; resolution one clock tick."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * TICK_US


def cpu_reading(pid: int) -> tuple[int, int, list[int]]:
    """(utime + stime in µs from /proc/PID/stat, time on CPU in ns summed over /proc/PID/task/*/schedstat, the
    thread ids read). The first has clock-tick resolution (10 ms), too coarse for a smoke-sized phase."""
    stat = cpu_us(pid)
    on_cpu = 0
    tids: list[int] = []
    for entry in os.scandir(f"/proc/{pid}/task"):
        try:
            with open(f"{entry.path}/schedstat") as f:
                on_cpu += int(f.read().split()[0])
            tids.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    return stat, on_cpu, sorted(tids)


def cpu_between_us(a: Sequence[Any], b: Sequence[Any]) -> tuple[int, int]:
    """CPU a process used between two `cpu_reading`s, in µs: (precise, from stat). Precise is the schedstat
    figure when no thread ended in between (an ended thread's time leaves the task list), else stat's."""
    from_stat = int(b[0]) - int(a[0])
    if set(a[2]) <= set(b[2]) and b[1] >= a[1]:
        return (int(b[1]) - int(a[1])) // 1000, from_stat
    return from_stat, from_stat


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def machine_busy_us() -> int:
    """CPU time every core of the machine spent not idle (user, nice, system, irq, softirq, steal), in µs."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) * TICK_US


def loadavg() -> list[float]:
    with open("/proc/loadavg") as f:
        return [float(v) for v in f.read().split()[:3]]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


# --- environment ----------------------------------------------------------------------------------------


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def environment() -> dict[str, Any]:
    """What the figures were measured on: CPU, cores, memory, versions, and the machine's load at the time."""
    try:
        redis_server = subprocess.run(
            [redis_server_binary(), "--version"], capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        redis_server = f"unknown ({exc!r})"
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)),
        "memory_mib": mem_kib // 1024,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "versions": {
            name: _version(name)
            for name in ("uvicorn", "starlette", "websockets", "redis", "hiredis", "msgspec", "httpx", "liveqa")
        },
        "redis_server": redis_server,
        "server_ws": "uvicorn websockets-sansio, per-message deflate off (as `liveqa serve`)",
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--", "liveqa", "static")),
        "clock": "time.monotonic_ns (CLOCK_MONOTONIC, shared by every process on the machine)",
        "cpu_tick_us": TICK_US,
        "loadavg": loadavg(),
    }


# --- processes ------------------------------------------------------------------------------------------


class Managed:
    """A process this run started (never anything else): its pid for /proc readings, its log, and a stop."""

    def __init__(self, name: str, process: asyncio.subprocess.Process, log_path: Path) -> None:
        self.name = name
        self.process = process
        self.log_path = log_path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    async def stop(self, grace_s: float = 15.0) -> int | None:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), grace_s)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                await self.process.wait()
        return self.process.returncode


try:  # looked up once here: between fork and exec, the child only calls it
    _PRCTL: Any = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):
    _PRCTL = None


def die_with_parent() -> None:
    """In a child, before exec: the kernel sends it SIGTERM when the process that started it dies, so a run that
    is killed (a timeout, kill -9) leaves no server, Redis or load generator behind (Linux; elsewhere a no-op)."""
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


async def spawn(
    name: str, command: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None, cwd: Path = ROOT
) -> Managed:
    await asyncio.to_thread(log_path.parent.mkdir, parents=True, exist_ok=True)
    log = await asyncio.to_thread(log_path.open, "ab")
    try:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            preexec_fn=die_with_parent,
        )
    finally:
        log.close()
    return Managed(name, process, log_path)


async def wait_http(managed: Managed, url: str, within_s: float = 30.0) -> None:
    """Until `url` answers 200, or raise with the process's log when it exits or the time is up."""
    deadline = time.monotonic() + within_s
    async with httpx.AsyncClient(timeout=1.0, trust_env=False) as http:
        while time.monotonic() < deadline:
            if managed.process.returncode is not None:
                raise RuntimeError(f"{managed.name} exited ({managed.process.returncode}): {managed.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{managed.name} was not ready within {within_s:.0f} s: {managed.log_tail()}")


def data_root() -> Path:
    """Where benchmark Redis data lives: tmpfs when there is one, so the disk's fsync latency (milliseconds on a
    shared VM) stays out of the figures while Redis still does the append-only work of production."""
    shm = Path("/dev/shm")
    base = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
    return Path(tempfile.mkdtemp(prefix="liveqa-bench-", dir=base))


class RedisNode:
    def __init__(self, managed: Managed, port: int) -> None:
        self.managed = managed
        self.port = port

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"

    @property
    def pid(self) -> int:
        return self.managed.pid


async def _ping(port: int, managed: Managed, within_s: float = 15.0) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if managed.process.returncode is not None:
            tail = managed.log_tail().strip()
            raise RuntimeError(f"redis-server exited: {tail.splitlines()[-1] if tail else ''}\n{tail}")
        client = aioredis.Redis(host=LOOPBACK, port=port, socket_timeout=0.5)
        try:
            if await client.ping():
                return
        except (aioredis.RedisError, OSError):
            await asyncio.sleep(0.05)
        finally:
            await client.aclose()
    raise RuntimeError(f"redis-server on {port} did not start: {managed.log_tail()}")


async def start_redis(
    data_dir: Path, *, persistence: str = "always", cluster: bool = False, port: int | None = None
) -> RedisNode:
    """A redis-server on a free loopback port (never 6379): append-only file with `appendfsync <persistence>`
    (LiveQA's production setting is `always`), or no persistence with `none`."""
    port = port or free_port()
    await asyncio.to_thread(data_dir.mkdir, parents=True, exist_ok=True)
    if persistence == "none":
        persist = ["--dir", str(data_dir), "--save", "", "--appendonly", "no"]
    else:
        persist = [
            arg if arg != "always" else persistence for arg in durable_args(data_dir)
        ]  # durable_args: --appendfsync always
    command = [
        redis_server_binary(),
        "--port", str(port),
        "--bind", LOOPBACK,
        *persist,
        *(["--cluster-enabled", "yes", "--cluster-config-file", str(data_dir / "nodes.conf")] if cluster else []),
        "--logfile", str(data_dir / "redis.log"),
    ]  # fmt: skip
    managed = await spawn(f"redis:{port}", command, data_dir / "stdout.log")
    managed.log_path = data_dir / "redis.log"
    try:
        await _ping(port, managed)
    except BaseException:
        await managed.stop()
        raise
    return RedisNode(managed, port)


async def _command(client: aioredis.Redis, *args: object) -> Any:
    """A raw command (redis-py leaves execute_command untyped)."""
    return await client.execute_command(*args)  # type: ignore[no-untyped-call]


def cluster_port() -> int:
    """A free port for a cluster node: Redis Cluster also listens on port + 10000, so both must be free, and
    both are taken below the kernel's ephemeral range (32768 and up) so no outgoing connection takes them."""
    for _ in range(200):
        port = random.randrange(20000, 22767)
        try:
            for candidate in (port, port + 10000):
                with socket.socket() as sock:
                    sock.bind((LOOPBACK, candidate))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair for a Redis Cluster node")


async def start_cluster(data_dir: Path, *, masters: int = 3, persistence: str = "always") -> list[RedisNode]:
    """A local Redis Cluster of `masters` masters on loopback ports, slots split evenly, no replicas. Built
    with CLUSTER ADDSLOTS / MEET (no redis-cli needed)."""
    nodes: list[RedisNode] = []
    for i in range(masters):
        for attempt in range(3):  # a port found free can be taken before redis-server binds it
            try:
                node_dir = data_dir / f"node{i}-{attempt}"
                nodes.append(await start_redis(node_dir, persistence=persistence, cluster=True, port=cluster_port()))
                break
            except RuntimeError:
                if attempt == 2:
                    for node in nodes:
                        await node.managed.stop()
                    raise
    slots = 16384
    for i, node in enumerate(nodes):
        client = aioredis.Redis(host=LOOPBACK, port=node.port)
        try:
            await _command(client, "CLUSTER", "ADDSLOTS", *range(i * slots // masters, (i + 1) * slots // masters))
            if i:
                await _command(client, "CLUSTER", "MEET", LOOPBACK, nodes[0].port)
        finally:
            await client.aclose()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        states = []
        for node in nodes:
            client = aioredis.Redis(host=LOOPBACK, port=node.port, decode_responses=True)
            try:
                info = str(await _command(client, "CLUSTER", "INFO"))
            finally:
                await client.aclose()
            states.append("cluster_state:ok" in info and f"cluster_known_nodes:{masters}" in info)
        if all(states):
            return nodes
        await asyncio.sleep(0.1)
    raise RuntimeError("the local Redis Cluster did not reach cluster_state:ok")


async def redis_info(port: int) -> dict[str, Any]:
    client = aioredis.Redis(host=LOOPBACK, port=port, decode_responses=True)
    try:
        info: dict[str, Any] = await client.info()
    finally:
        await client.aclose()
    return info


class Server:
    """A LiveQA server (`python -m liveqa serve --no-demo`) or the floor server, on a free loopback port."""

    def __init__(self, managed: Managed, port: int) -> None:
        self.managed = managed
        self.port = port

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def pid(self) -> int:
        return self.managed.pid


async def start_liveqa(redis_url: str, log_dir: Path, env: Mapping[str, str] | None = None) -> Server:
    port = free_port()
    full_env = {
        "LIVEQA_REDIS_URL": redis_url,
        "LIVEQA_PORT": str(port),
        "LIVEQA_HOST": LOOPBACK,
        "LIVEQA_LOG_LEVEL": "warning",
        "LIVEQA_STATIC_DIR": str(ROOT / "static"),
        **UNLIMITED,
        **(env or {}),
    }
    managed = await spawn(
        f"liveqa:{port}", [PYTHON, "-m", "liveqa", "serve", "--no-demo"], log_dir / f"liveqa-{port}.log", full_env
    )
    server = Server(managed, port)
    try:
        await wait_http(managed, f"{server.url}/readyz")
    except BaseException:
        await managed.stop()
        raise
    return server


async def start_floor(redis_url: str, log_dir: Path) -> Server:
    port = free_port()
    command = [PYTHON, "-m", "bench.floor_server", "--port", str(port), "--redis-url", redis_url]
    managed = await spawn(f"floor:{port}", command, log_dir / f"floor-{port}.log")
    server = Server(managed, port)
    try:
        await wait_http(managed, f"{server.url}/ready")
    except BaseException:
        await managed.stop()
        raise
    return server


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def merge_counts(items: Iterable[Mapping[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for item in items:
        for key, value in item.items():
            total[key] = total.get(key, 0) + value
    return total
