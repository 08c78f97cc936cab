"""Exports for organisers: CSV that Excel opens safely, XLSX with Arabic right to left."""

from __future__ import annotations

import csv
import io
import zipfile

import httpx

from tests.helpers import Client, EventFixture, login


async def _export(server: str, event: EventFixture, kind: str, sid: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=server, cookies={"liveqa_session": sid}) as http:
        return await http.get(f"/e/{event.slug}/export.{kind}")


async def test_exports_hold_every_question_safely(server: str, event: EventFixture) -> None:
    asker = await Client.open(server, event.slug)
    first = await asker.submit('=HYPERLINK("http://evil.example","click")')
    second = await asker.submit("ما هو موقف المجلس من السودان؟", organisation="@Mention org")
    sid = await login(server, event.slug, event.password)
    mod = await Client.open(server, event.slug, "moderator", sid=sid)
    await mod.act("approve", qid=second["qid"])
    await mod.act("reject", qid=first["qid"], reason="-not a question")

    response = await _export(server, event, "csv", sid)
    assert response.status_code == 200 and response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [r["id"] for r in rows] == [first["qid"], second["qid"]]
    assert rows[0]["text"].startswith("'=HYPERLINK") and rows[0]["rejection_reason"] == "'-not a question"
    assert rows[1]["organisation"] == "'@Mention org" and rows[1]["queue_position"] == "1"
    assert rows[1]["status"] == "approved" and rows[1]["created_utc"]

    xlsx = await _export(server, event, "xlsx", sid)
    assert xlsx.status_code == 200
    with zipfile.ZipFile(io.BytesIO(xlsx.content)) as book:
        styles = book.read("xl/styles.xml").decode()
        strings = book.read("xl/sharedStrings.xml").decode()
    assert 'readingOrder="2"' in styles
    assert "ما هو موقف المجلس من السودان؟" in strings and "'=HYPERLINK" in strings


async def test_exports_need_a_moderator(server: str, event: EventFixture) -> None:
    for sid in ("", "forged"):
        assert (await _export(server, event, "csv", sid)).status_code == 403
    sid = await login(server, event.slug, event.password)
    assert (await _export(server, event, "pdf", sid)).status_code == 404
