"""The public transparency report: published when the event ends, honest figures, anonymity kept, safe HTML."""

from __future__ import annotations

import csv
import io

import httpx

from liveqa import operations, retention
from liveqa.store import RedisStore
from tests.helpers import Client, EventFixture, login


async def test_report_after_the_event(server: str, event: EventFixture, store: RedisStore) -> None:
    asker = await Client.open(server, event.slug)
    mod = await Client.open(server, event.slug, "moderator", sid=await login(server, event.slug, event.password))
    shown = await asker.submit("How will the Council protect <b>civilians</b>?", show_name=True)
    hidden = await asker.submit("A second question", name="Secret Person", organisation="Hidden Org",
                                show_name=False, show_organisation=False, country="SN")  # fmt: skip
    spam = await asker.submit("Buy things")
    for qid in (shown["qid"], hidden["qid"]):
        await mod.act("approve", qid=qid)
        await mod.act("answer", qid=qid)
    await mod.act("reject", qid=spam["qid"], reason="Not a question")

    async with httpx.AsyncClient(base_url=server) as http:
        assert (await http.get(f"/e/{event.slug}/report")).status_code == 404  # not before the end
        await operations.end_event(store, event.slug)
        page = await http.get(f"/e/{event.slug}/report")
        data = (await http.get(f"/e/{event.slug}/report.json")).json()
        table = (await http.get(f"/e/{event.slug}/report.csv")).content.decode("utf-8-sig")

    assert page.status_code == 200 and "content-security-policy" in page.headers
    body = page.text
    assert "&lt;b&gt;civilians&lt;/b&gt;" in body and "<b>civilians" not in body
    assert "Secret Person" not in body and "Hidden Org" not in body and "Amina" in body
    assert "<svg" in body and "<table>" in body and "Questions by outcome" in body
    figures = data["figures"]
    assert figures["questions"] == 3 and figures["by_status"] == {"answered": 2, "rejected": 1}
    assert figures["rejected_by_reason"] == {"Not a question": 1}
    assert figures["by_region"] == {"Africa": 3} and figures["answered_by_region"] == {"Africa": 2}
    assert figures["by_un_group"] == {"African States": 3}
    assert "Questions by region (UN M49)" in body
    assert [q["text"] for q in data["answered"]] == [
        "How will the Council protect <b>civilians</b>?",
        "A second question",
    ]
    assert data["answered"][1] == {"text": "A second question", "organisation": "", "country": "SN", "name": ""}
    rows = list(csv.DictReader(io.StringIO(table)))
    assert {"figure": "by_status", "key": "answered", "count": "2"} in rows

    await retention.erase(store, event.slug)
    async with httpx.AsyncClient(base_url=server) as http:
        after = (await http.get(f"/e/{event.slug}/report.json")).json()
        after_page = (await http.get(f"/e/{event.slug}/report")).text
    assert after["figures"] == figures and after["answered"] == []
    assert "civilians" not in after_page and "figures remain" in after_page
