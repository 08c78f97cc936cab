"""Every page in every UN language, in headless Chromium: its messages are all translated, Arabic is laid out
right to left, and axe-core finds no serious or critical WCAG 2.2 AA violation (English and Arabic)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.helpers import Client, EventFixture, login
from tests.test_browser import CHROMIUM_ARGS, DESKTOP, PHONE, WAIT_MS, Problems, browser, problems  # noqa: F401

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
LANGS = ["ar", "en", "es", "fr", "ru", "zh"]
KEY = re.compile(r"^[a-z]+(\.[a-zA-Z_]+)+$")  # what an untranslated message looks like: its key

pytestmark = pytest.mark.browser


async def _fill(server: str, event: EventFixture) -> None:
    """Questions in every state a page shows: incoming, queued with a merged duplicate, on screen, answered."""
    asker = await Client.open(server, event.slug)
    mod = await Client.open(server, event.slug, "moderator", sid=await login(server, event.slug, event.password))
    await mod.expect("snapshot")
    texts = [
        "What will the Security Council do about the humanitarian situation in Sudan?",
        "How are women mediators included in the peace talks?",
        "When will the report on children in armed conflict be published?",
    ]
    qids = [(await asker.submit(text))["qid"] for text in texts]
    for qid in qids[:2]:
        await mod.act("approve", qid=qid)
    await mod.act("show", qid=qids[0])
    again = await Client.open(server, event.slug)
    await again.submit("What will the Security Council do regarding the humanitarian situation in Sudan?")


async def _open(browser: Browser, problems: Problems, url: str, lang: str, viewport: dict[str, int], name: str) -> Page:
    context = await browser.new_context(
        locale=lang, viewport={"width": viewport["width"], "height": viewport["height"]}, bypass_csp=True
    )
    context.set_default_timeout(WAIT_MS)
    page = problems.watch(await context.new_page(), name)
    await page.goto(url)
    return page


async def _pages(browser: Browser, problems: Problems, server: str, event: EventFixture, lang: str) -> dict[str, Page]:
    base = f"{server}/e/{event.slug}"
    pages = {
        "index": await _open(browser, problems, f"{server}/", lang, PHONE, "index"),
        "participant": await _open(browser, problems, base, lang, PHONE, "participant"),
        "screen": await _open(browser, problems, f"{base}/screen?token={event.screen_token}", lang, DESKTOP, "screen"),
        "login": await _open(browser, problems, f"{base}/moderate", lang, PHONE, "login"),
    }
    console = await _open(browser, problems, f"{base}/moderate", lang, DESKTOP, "moderator")
    await console.locator("#name").fill("Mod")
    await console.locator("#password").fill(event.password)
    await console.locator("#login button[type=submit]").click()
    await expect(console.locator("#status")).to_have_class("status live")
    pages["moderator"] = console
    await expect(pages["participant"].locator("#status")).to_have_class("status live")
    await expect(pages["screen"].locator("#text")).not_to_be_empty()
    return pages


@pytest.mark.parametrize("lang", LANGS)
async def test_every_page_speaks_the_language(
    server: str, event: EventFixture, browser: Browser, problems: Problems, lang: str
) -> None:
    await _fill(server, event)
    for name, page in (await _pages(browser, problems, server, event, lang)).items():
        assert await page.evaluate("document.documentElement.lang") == lang, name
        assert await page.evaluate("document.documentElement.dir") == ("rtl" if lang == "ar" else "ltr"), name
        texts: list[str] = await page.evaluate(
            """() => [...document.querySelectorAll('body *')]
                 .flatMap((el) => [...el.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent.trim())
                   .concat([el.getAttribute('aria-label') ?? '', el.getAttribute('placeholder') ?? '']))
                 .filter(Boolean)"""
        )
        untranslated = [text for text in texts if KEY.match(text)]
        assert untranslated == [], f"{name} in {lang}: {untranslated}"
    assert problems.seen == []


@pytest.mark.parametrize("lang", ["en", "ar"])
async def test_axe_finds_no_serious_violation(
    server: str, event: EventFixture, browser: Browser, problems: Problems, lang: str
) -> None:
    await _fill(server, event)
    found: dict[str, list[str]] = {}
    for name, page in (await _pages(browser, problems, server, event, lang)).items():
        await page.add_script_tag(path=str(AXE))
        result: dict[str, Any] = await page.evaluate(
            """() => axe.run(document, {
                 runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']},
                 resultTypes: ['violations'],
               })"""
        )
        serious = [
            f"{v['id']} ({v['impact']}): {v['help']} — {[(n['target'], n['html'][:160]) for n in v['nodes']][:2]}"
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        if serious:
            found[name] = serious
    assert found == {}, "\n".join(f"{page}: {v}" for page, vs in found.items() for v in vs)
    assert problems.seen == []
