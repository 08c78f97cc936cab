"""Backup to a file and restore into an empty Redis: the event carries on, resumable, on the other side."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from liveqa import backup, operations
from liveqa.cli import main
from liveqa.store import RedisStore
from liveqa.store.redis import connect
from tests.conftest import MODERATOR_PASSWORD
from tests.helpers import Client, EventFixture, login
from tests.redis_server import RedisProcess


async def test_an_event_moves_to_another_redis(
    server: str, event: EventFixture, store: RedisStore, tmp_path: Path
) -> None:
    asker = await Client.open(server, event.slug)
    mod = await Client.open(server, event.slug, "moderator", sid=await login(server, event.slug, event.password))
    qids = [(await asker.submit(f"Question {i}"))["qid"] for i in range(3)]
    await mod.act("approve", qid=qids[1])
    voter = await Client.open(server, event.slug)
    await voter.send("upvote", qid=qids[1])
    await voter.expect("votes")
    before = await store.load_state(event.slug)

    lines = [line async for line in backup.dump(store, [event.slug])]
    target = RedisProcess(tmp_path / "target", persistent=False).start()
    client = connect(target.url)
    try:
        other = RedisStore(client)
        assert await backup.restore(other, lines) == [event.slug]
        after = await other.load_state(event.slug)
        assert (after.questions, after.queue, after.head, after.epoch) == (
            before.questions,
            before.queue,
            before.head,
            before.epoch,
        )
        assert await other.participant(event.slug, asker.token) == asker.pid  # identities came along
        assert event.slug in await other.event_slugs()
        with pytest.raises(backup.BackupError, match="exists"):
            await backup.restore(other, lines)
        assert await backup.restore(other, lines, replace=True) == [event.slug]
        with pytest.raises(backup.BackupError):
            await backup.restore(other, ["{}"])
    finally:
        await client.aclose()
        target.stop()


def test_backup_and_restore_commands(redis_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    slug = "backup-cli"
    created = runner.invoke(main, ["event", "create", slug, "--title", "T", "--password", MODERATOR_PASSWORD,
                                   "--redis-url", redis_url])  # fmt: skip
    assert created.exit_code == 0, created.output
    target = tmp_path / "events.jsonl"
    written = runner.invoke(main, ["backup", slug, "-o", str(target), "--redis-url", redis_url])
    assert written.exit_code == 0 and target.exists(), written.output
    refused = runner.invoke(main, ["restore", str(target), "--redis-url", redis_url])
    assert refused.exit_code != 0 and "exists" in refused.output
    replaced = runner.invoke(main, ["restore", str(target), "--replace", "--redis-url", redis_url])
    assert replaced.exit_code == 0 and slug in replaced.output
    runner.invoke(main, ["event", "delete", slug, "--yes", "--redis-url", redis_url])


async def test_data_from_a_newer_liveqa_stops_start_up(redis_url: str, store: RedisStore, tmp_path: Path) -> None:
    """An event stored with a newer schema makes start-up refuse, with a message saying what to do."""
    from liveqa import migrations
    from liveqa.store import keys
    from tests.processes import ServerProcess

    await operations.create_event(store, "future", "From the future", password=MODERATOR_PASSWORD)
    await store.client.hset(keys.meta("future"), "schema", str(keys.SCHEMA_VERSION + 1))
    try:
        with pytest.raises(migrations.SchemaTooNew, match="newer LiveQA"):
            await migrations.check(store)
        server = ServerProcess(redis_url, tmp_path / "refused.log")
        with pytest.raises(RuntimeError, match="newer LiveQA"):
            server.start()
    finally:
        await store.delete_event("future")


async def test_an_event_from_before_grouping_keeps_its_questions_apart(store: RedisStore) -> None:
    """Upgrading to schema 2 in the middle of an event: the questions already there count as decided, so the
    grouping step never merges them after the fact; the next one is grouped as usual."""
    from liveqa import migrations, submissions
    from liveqa.domain import screening
    from liveqa.store import keys

    slug = "before-grouping"
    await operations.create_event(store, slug, "Old event", password=MODERATOR_PASSWORD)
    try:
        info = await store.event_info(slug)
        assert info is not None
        for n in range(2):
            draft = submissions.Draft(
                cid=f"old-{n:06d}", text="The same question?", name="A", organisation="B", country="NE"
            )
            await submissions.submit(store, info, screening.load(""), f"p{n}", draft, rate=(0, 1.0))
        await store.client.hset(keys.meta(slug), "schema", "1")
        await store.client.delete(keys.grouped(slug))
        assert slug in await migrations.check(store)
        assert await store.grouped(slug) == 2
        assert await store.client.hget(keys.meta(slug), "schema") == str(keys.SCHEMA_VERSION)
    finally:
        await store.delete_event(slug)


async def test_a_backup_from_before_grouping_is_migrated_when_restored(store: RedisStore) -> None:
    """Restoring a schema-1 backup brings the event to this schema at once: its questions stay as they were."""
    from liveqa import backup, submissions
    from liveqa.domain import screening
    from liveqa.store import keys

    slug = "old-backup"
    await operations.create_event(store, slug, "Old backup", password=MODERATOR_PASSWORD)
    info = await store.event_info(slug)
    assert info is not None
    for n in range(2):
        draft = submissions.Draft(cid=f"oldb-{n:06d}", text="The same again?", name="A", organisation="B", country="NE")
        await submissions.submit(store, info, screening.load(""), f"p{n}", draft, rate=(0, 1.0))
    await store.client.hset(keys.meta(slug), "schema", "1")
    await store.client.delete(keys.grouped(slug))
    lines = [line async for line in backup.dump(store, [slug])]
    await store.delete_event(slug)
    try:
        assert await backup.restore(store, lines) == [slug]
        assert await store.grouped(slug) == 2
    finally:
        await store.delete_event(slug)
