"""The organisation directory: CSV import with rejected rows, search in several scripts, the verified mark on
questions, and questions from unlisted organisations held when an event requires listed ones."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from liveqa import operations
from liveqa.cli import main
from liveqa.domain.organisations import Directory, parse_csv
from liveqa.store import RedisStore
from tests.helpers import Client, EventFixture, login

CSV = """name,acronym,country,region,accreditation,website
Réseau des Femmes Africaines pour la Paix,REFAP,SN,,general,https://example.org/refap
الشبكة العربية للمنظمات غير الحكومية للتنمية,ANND,LB,,special,
中国民间组织国际交流促进会,CNIE,CN,,special,
Гражданский диалог за мир,,RU,,roster,
Red de Paz Andina,,CO,,,
,,NE,,,
Nameless country,,XYZ,,,
Wrong status,,FR,,observer,
Red de Paz Andina,,CO,,,
"""


def test_the_csv_is_read_with_every_bad_row_reported() -> None:
    listed, rejected = parse_csv(CSV, {"SN": "002"})
    assert [org.name[:10] for org in listed] == [
        "Réseau des",
        "الشبكة الع",
        "中国民间组织国际交流",
        "Граждански",
        "Red de Paz",
    ]
    assert listed[0].region == "002" and listed[0].accreditation == "general"
    assert [(row.line, row.why.split()[0]) for row in rejected] == [
        (7, "a"),
        (8, "country"),
        (9, "accreditation"),
        (10, "the"),
    ]


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("reseau femmes", "Réseau des Femmes Africaines pour la Paix"),  # accents optional, words in any place
        ("refap", "Réseau des Femmes Africaines pour la Paix"),  # acronym, any case
        ("الشبكة العربية", "الشبكة العربية للمنظمات غير الحكومية للتنمية"),
        ("ANND", "الشبكة العربية للمنظمات غير الحكومية للتنمية"),
        ("民间组织", "中国民间组织国际交流促进会"),
        ("гражданский", "Гражданский диалог за мир"),
        ("paz andina", "Red de Paz Andina"),
    ],
)
def test_search_in_every_script(query: str, found: str) -> None:
    directory = Directory(parse_csv(CSV)[0])
    assert [org.name for org in directory.search(query)][:1] == [found]


@pytest.fixture
async def directory(store: RedisStore) -> AsyncIterator[None]:
    await store.put_organisations(parse_csv(CSV)[0], replace=True)
    yield
    await store.put_organisations([], replace=True)


async def test_listed_organisations_are_marked_and_unlisted_ones_held_when_required(
    server: str, event: EventFixture, store: RedisStore, directory: None
) -> None:
    mod = await Client.open(server, event.slug, "moderator", sid=await login(server, event.slug, event.password))
    await mod.expect("snapshot")
    asker = await Client.open(server, event.slug)
    listed = (await asker.submit("From a listed organisation?", organisation="refap"))["qid"]
    marked = await mod.expect("update", question__id=listed)
    assert marked["question"]["listed"] == "general" and marked["question"]["held"] == ""
    other = (await asker.submit("From anywhere?", organisation="Somewhere Else"))["qid"]
    assert (await mod.expect("update", question__id=other))["question"]["listed"] == ""

    await operations.update_event(store, event.slug, require_listed=True)
    held = (await asker.submit("From an unlisted one?", organisation="Somewhere Else"))["qid"]
    assert (await mod.expect("update", question__id=held))["question"]["held"] == "organisation not in the directory"
    fine = (await asker.submit("From a listed one again?", organisation="Red de Paz Andina"))["qid"]
    assert (await mod.expect("update", question__id=fine))["question"]["held"] == ""

    async with httpx.AsyncClient(base_url=server) as http:
        found = (await http.get("/api/organisations", params={"q": "femmes afr"})).json()["organisations"]
        assert found == [{"name": "Réseau des Femmes Africaines pour la Paix", "acronym": "REFAP", "country": "SN",
                          "accreditation": "general"}]  # fmt: skip
        assert (await http.get("/api/organisations", params={"q": ""})).json() == {"organisations": []}


def test_import_and_search_from_the_command_line(redis_url: str, tmp_path: Path) -> None:
    path = tmp_path / "orgs.csv"
    path.write_text(CSV, encoding="utf-8")
    runner = CliRunner()
    try:
        done = runner.invoke(main, ["orgs", "import", str(path), "--replace", "--redis-url", redis_url])
        assert done.exit_code == 0, done.output
        assert "5 organisations imported, 4 rows rejected; the directory lists 5." in done.output
        assert "line 8: country 'XYZ' is not an ISO 3166 two-letter code" in done.output
        found = runner.invoke(main, ["orgs", "search", "ANND", "--redis-url", redis_url])
        assert found.output.startswith("الشبكة العربية للمنظمات غير الحكومية للتنمية\tANND\tLB\tspecial")
    finally:
        path.write_text("name\n", encoding="utf-8")
        runner.invoke(main, ["orgs", "import", str(path), "--replace", "--redis-url", redis_url])


async def test_an_invite_code_makes_a_participant_ask_as_its_organisation(
    server: str, event: EventFixture, store: RedisStore, directory: None, redis_url: str
) -> None:
    """The operator makes a code for an organisation; whoever joins with it asks as that organisation, listed even
    where the event requires listed organisations; a wrong code is said so and changes nothing."""
    done = await asyncio.to_thread(
        CliRunner().invoke, main, ["orgs", "invite", event.slug, "ANND", "--redis-url", redis_url]
    )
    assert done.exit_code == 0, done.output
    name, code, link = done.output.strip().split("\t")
    assert name == "الشبكة العربية للمنظمات غير الحكومية للتنمية" and link.endswith(f"/e/{event.slug}?invite={code}")
    await operations.update_event(store, event.slug, require_listed=True)
    mod = await Client.open(server, event.slug, "moderator", sid=await login(server, event.slug, event.password))
    await mod.expect("snapshot")
    invited = await Client.open(server, event.slug, invite=code)
    assert next(f for f in invited.frames if f["type"] == "welcome")["organisation"] == name
    qid = (await invited.submit("Asked with an invite", organisation="typed anything"))["qid"]
    update = await mod.expect("update", question__id=qid)
    assert update["question"]["organisation"] == name and update["question"]["listed"] == "special"
    assert update["question"]["held"] == ""
    again = await Client.open(server, event.slug, token=invited.token)  # the mark stays with the participant
    assert next(f for f in again.frames if f["type"] == "welcome")["organisation"] == name
    wrong = await Client.open(server, event.slug, invite="NOPE1234", hello=False)
    await wrong.send("hello", invite="NOPE1234")
    assert (await wrong.expect("error"))["code"] == "bad_invite"
    assert "organisation" not in await wrong.expect("welcome")
