"""Real `liveqa serve` processes for multi-process and crash tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from liveqa.embedded import free_port

ROOT = Path(__file__).resolve().parent.parent


class ServerProcess:
    """One `python -m liveqa serve` on a free loopback port against a given Redis."""

    def __init__(self, redis_url: str, log_path: Path, **env: str) -> None:
        self.redis_url = redis_url
        self.port = free_port()
        self.log_path = log_path
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> ServerProcess:
        env = {
            **os.environ,
            "LIVEQA_REDIS_URL": self.redis_url,
            "LIVEQA_PORT": str(self.port),
            "LIVEQA_SUBMIT_BURST": "1000",
            "LIVEQA_VOTE_BURST": "1000",
            "LIVEQA_JOIN_BURST": "10000",
            "LIVEQA_STATIC_DIR": str(ROOT / "static"),
            **self.env,
        }
        self.process = None
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "liveqa", "serve", "--no-demo"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=ROOT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}: {self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=0.5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server did not become ready: {self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        """kill -9: no shutdown, no close frames."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> int:
        """SIGTERM, as an orchestrator stops a container; returns the exit code."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)
        return self.process.returncode
