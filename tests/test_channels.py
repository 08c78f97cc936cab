"""Questions from every channel: an intake endpoint for bridges, and CSV imports, through the same rules."""

from __future__ import annotations

from pathlib import Path

import httpx
from click.testing import CliRunner

from liveqa.cli import main
from liveqa.store import RedisStore
from tests.helpers import Client, EventFixture, login


async def test_a_bridge_posts_questions_through_its_channel(
    server: str, event: EventFixture, store: RedisStore
) -> None:
    token = await store.add_channel(event.slug, "email")
    mod = await Client.open(server, event.slug, "moderator", sid=await login(server, event.slug, event.password))
    url = f"/api/v1/events/{event.slug}/intake"
    question = {"id": "msg-001@example.org", "text": "Sent by email: what about Haiti?", "author_id": "a@b.org",
                "name": "Marie", "organisation": "Haiti Relief", "country": "HT"}  # fmt: skip
    async with httpx.AsyncClient(base_url=server, headers={"authorization": f"Bearer {token}"}) as http:
        first = await http.post(url, json=question)
        assert first.status_code == 201, first.text
        again = await http.post(url, json=question)
        assert again.status_code == 200 and again.json()["qid"] == first.json()["qid"] and again.json()["duplicate"]
        anonymous = await http.post(url, json={"id": "msg-002", "text": "No name given"})
        assert anonymous.status_code == 422 and anonymous.json()["title"] == "anonymous_not_allowed"
        held = await http.post(url, json={**question, "id": "msg-003", "text": "What the fuck, Council?"})
        assert held.json()["held"] is True
        bad = await http.post(url, json={"id": "x", "text": "y", "admin": True})
        assert bad.status_code == 422
    async with httpx.AsyncClient(base_url=server) as http:
        assert (await http.post(url, json=question)).status_code == 401
        assert (await http.post(url, json=question, headers={"authorization": "Bearer lqc_nope"})).status_code == 401
    arrived = await mod.expect("update", question__id=first.json()["qid"])
    assert arrived["question"]["source"] == "email" and arrived["question"]["organisation"] == "Haiti Relief"
    await store.remove_channel(event.slug, "email")
    async with httpx.AsyncClient(base_url=server, headers={"authorization": f"Bearer {token}"}) as http:
        assert (await http.post(url, json={**question, "id": "msg-004"})).status_code == 401


def test_csv_import_with_dry_run_and_a_report_of_rejected_rows(redis_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    slug = "import-test"
    args = ["--redis-url", redis_url]
    assert (
        runner.invoke(main, ["event", "create", slug, "--title", "T", "--password", "a long password", *args]).exit_code
        == 0
    )
    try:
        source = tmp_path / "questions.csv"
        source.write_text(
            "text,name,organisation,country\n"
            "Asked in the room about Sudan,Ali,CSO One,SD\n"
            ",Empty,Row,KE\n"
            "Anonymous in a named event,,,\n"
            "Another good one,Bea,CSO Two,FR\n",
            encoding="utf-8",
        )
        dry = runner.invoke(main, ["event", "import", slug, str(source), "--dry-run", *args])
        assert dry.exit_code == 0, dry.output
        assert "2 rows fine (would store: 2); 2 rejected." in dry.output
        assert "line 3: invalid_text" in dry.output and "line 4: anonymous_not_allowed" in dry.output
        real = runner.invoke(main, ["event", "import", slug, str(source), "--source", "room", *args])
        assert "2 rows fine (stored: 2); 2 rejected." in real.output, real.output
        again = runner.invoke(main, ["event", "import", slug, str(source), "--source", "room", *args])
        assert "already there: 2" in again.output, again.output
    finally:
        runner.invoke(main, ["event", "delete", slug, "--yes", *args])
