"""The pages' languages: which one a request gets, how its messages reach the page, and that every translation
table has exactly the English keys, placeholders and the plural forms its language needs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.requests import Request

from liveqa.web import i18n
from tests.helpers import EventFixture

I18N = Path(__file__).parent.parent / "static" / "i18n"
PAGES = sorted({path.name.split(".")[0] for path in I18N.glob("*.en.json")})
# CLDR plural categories of the languages (what Intl.PluralRules.select returns)
PLURALS = {"ar": {"zero", "one", "two", "few", "many", "other"}, "es": {"one", "many", "other"},
           "fr": {"one", "many", "other"}, "ru": {"one", "few", "many", "other"}, "zh": {"other"}}  # fmt: skip
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _request(query: str = "", cookie: str = "", accept: str = "") -> Request:
    headers = [(b"accept-language", accept.encode())] + (
        [(b"cookie", f"liveqa_lang={cookie}".encode())] if cookie else []
    )
    return Request({"type": "http", "query_string": query.encode(), "headers": headers})


@pytest.mark.parametrize(
    ("query", "cookie", "accept", "chosen"),
    [
        ("", "", "", "en"),
        ("", "", "fr-CA,fr;q=0.9,en;q=0.8", "fr"),
        ("", "", "de-DE,de;q=0.9,ru;q=0.5,en;q=0.4", "ru"),  # the first of the six the browser accepts
        ("", "", "en;q=0.5,zh-Hans;q=0.8", "zh"),  # by quality, not order
        ("", "ar", "fr", "ar"),  # the picker's choice over the browser's
        ("lang=es", "ar", "fr", "es"),  # a link's ?lang= over both
        ("lang=xx", "", "", "en"),
    ],
)
def test_the_language_a_request_gets(query: str, cookie: str, accept: str, chosen: str) -> None:
    assert i18n.choose(_request(query, cookie, accept)) == chosen


def _placeholders(message: Any) -> set[str]:
    texts = message.values() if isinstance(message, dict) else [message]
    return {name for text in texts for name in PLACEHOLDER.findall(text)}


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("lang", sorted(PLURALS))
def test_every_table_has_the_english_keys_placeholders_and_plural_forms(page: str, lang: str) -> None:
    english = json.loads((I18N / f"{page}.en.json").read_text("utf-8"))
    table = json.loads((I18N / f"{page}.{lang}.json").read_text("utf-8"))
    keys = {k for k in english if not k.startswith("_")}
    assert {k for k in table if not k.startswith("_")} == keys
    for key in keys:
        if isinstance(english[key], dict):
            assert isinstance(table[key], dict) and set(table[key]) == PLURALS[lang], key
        assert _placeholders(table[key]) <= _placeholders(english[key]) | {"n"}, key
    assert table["_name"] and (table.get("_dir") == "rtl") == (lang == "ar")


async def test_a_page_carries_its_language(server: str, event: EventFixture) -> None:
    async with httpx.AsyncClient(base_url=server) as http:
        page = await http.get(f"/e/{event.slug}", headers={"accept-language": "ar,en;q=0.5"})
        assert '<html lang="ar" dir="rtl">' in page.text and "Cookie, Accept-Language" in page.headers["vary"]
        block = re.search(r'<script type="application/json" id="messages">(.*?)</script>', page.text)
        assert block is not None and json.loads(block.group(1))["ask.heading"] == "طرح سؤال"
        english = await http.get(f"/e/{event.slug}", headers={"accept-language": "ar", "cookie": "liveqa_lang=en"})
        assert '<html lang="en" dir="ltr">' in english.text
