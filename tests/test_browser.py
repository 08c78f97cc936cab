"""The pages in a real browser (Debian's Chromium through Playwright): ask, moderate, show, and user text stays text."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import (
    Browser,
    ConsoleMessage,
    Error as PlaywrightError,
    Page,
    Response,
    WebSocketRoute,
    async_playwright,
    expect,
)

from liveqa import operations
from liveqa.domain.model import Ranking
from liveqa.store import RedisStore
from tests.helpers import SECOND, Client, EventFixture, login

STATIC = Path(__file__).parent.parent / "static"

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1366, "height": 800}
WAIT_MS = 10_000 * SECOND
expect.set_options(timeout=WAIT_MS)


@dataclass
class Problems:
    """Console errors (CSP violations land here too) and uncaught exceptions, from every page of a test."""

    seen: list[str] = field(default_factory=list)

    def watch(self, page: Page, name: str) -> Page:
        def console(message: ConsoleMessage) -> None:
            if message.type == "error":
                self.seen.append(f"{name}: console: {message.text}")

        def crash(error: PlaywrightError) -> None:
            self.seen.append(f"{name}: uncaught: {error}")

        page.on("console", console)
        page.on("pageerror", crash)
        return page


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium; Playwright never downloads a browser here, and these tests never skip."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("chromium is not installed: apt-get install chromium fonts-noto-core fonts-noto-cjk")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest.fixture
def problems() -> Problems:
    return Problems()


async def page_in_new_context(browser: Browser, problems: Problems, name: str, viewport: dict[str, int]) -> Page:
    """A page in a context of its own: its own cookies and localStorage, as a separate person has."""
    context = await browser.new_context(viewport={"width": viewport["width"], "height": viewport["height"]})
    context.set_default_timeout(WAIT_MS)
    return problems.watch(await context.new_page(), name)


async def moderator_page(browser: Browser, problems: Problems, server: str, event: EventFixture) -> Page:
    """Log in through the login form, as a person would, and wait for the console to be live."""
    page = await page_in_new_context(browser, problems, "moderator", DESKTOP)
    await page.goto(f"{server}/e/{event.slug}/moderate")
    await page.get_by_label("Your name").fill("Mod Erator")
    await page.get_by_label("Password").fill(event.password)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.locator("#status")).to_have_class("status live", timeout=WAIT_MS)
    return page


async def participant_page(browser: Browser, problems: Problems, server: str, event: EventFixture) -> Page:
    page = await page_in_new_context(browser, problems, "participant", PHONE)
    await page.goto(f"{server}/e/{event.slug}")
    await expect(page.locator("#status")).to_have_class("status live", timeout=WAIT_MS)
    return page


async def ask(page: Page, text: str, name: str = "Amina", organisation: str = "Voices of the Sahel") -> None:
    """Fill in the profile (the test event does not allow anonymous questions) and send a question."""
    if await page.locator("#name").is_visible():
        await page.locator("#name").fill(name)
        await page.locator("#organisation").fill(organisation)
        await page.locator("#country").select_option("NE")
    await page.locator("#show-name").check()
    await page.get_by_label("Your question").fill(text)
    if await page.locator("#privacy").is_visible():  # read once, before the first question
        await expect(page.locator("#privacy")).to_contain_text("erased 30 days after the event")
        await page.get_by_label("I understand").check()
    await page.get_by_role("button", name="Send question").click()


async def no_script_ran(page: Page) -> None:
    assert await page.evaluate("typeof window.__xss") == "undefined"
    # No element from user text: no <img src=x>, and no script but the page's own (its messages are a JSON data block).
    assert (
        await page.locator(
            "img[src='x'], script:not([src]):not(#messages), svg[onload], a[href^=javascript], iframe"
        ).count()
        == 0
    )


async def test_question_goes_from_asker_to_moderator_to_screen(
    server: str, event: EventFixture, browser: Browser, problems: Problems
) -> None:
    """Ask → approve → upvote → reorder by keyboard → show: every page follows, and the screen shows the exact text."""
    moderator = await moderator_page(browser, problems, server, event)
    participant = await participant_page(browser, problems, server, event)
    await expect(participant.locator("#anonymous-row")).to_be_hidden()  # this event wants a name

    first = "How will the new water policy reach villages without a council?"
    second = "Who decides on the training budget?"
    await ask(participant, first)
    await expect(participant.locator("#mine li", has_text=first)).to_contain_text("Waiting for a moderator")

    incoming = moderator.locator("#incoming > li", has_text=first)
    await expect(incoming).to_contain_text("Amina · Voices of the Sahel · Niger")
    await incoming.get_by_role("button", name="Approve").click()
    await expect(moderator.locator("#queue > li", has_text=first)).to_be_visible()

    # The asker supports their own question already; someone else upvotes it.
    await expect(
        participant.locator("#queue > li", has_text=first).get_by_role("button", name="Upvote")
    ).to_be_disabled()
    voter = await participant_page(browser, problems, server, event)
    queued = voter.locator("#queue > li", has_text=first)
    vote = queued.get_by_role("button", name="Upvote")
    await expect(vote).to_have_attribute("aria-pressed", "false")
    await vote.click()
    await expect(vote).to_have_attribute("aria-pressed", "true")
    await expect(vote).to_have_accessible_name("Upvote, 1 vote")
    await expect(moderator.locator("#queue > li", has_text=first)).to_contain_text("1 vote")

    await ask(participant, second)
    await moderator.locator("#incoming > li", has_text=second).get_by_role("button", name="Approve").click()
    await expect(moderator.locator("#queue > li .mq-text")).to_have_text([first, second])
    await expect(participant.locator("#queue > li .q-text")).to_have_text([first, second])

    # Reorder without a pointer: focus the button, press Enter; focus stays on the moved question's button.
    up = moderator.locator("#queue > li", has_text=second).get_by_role("button", name="Move up")
    await up.focus()
    await moderator.keyboard.press("Enter")
    await expect(moderator.locator("#queue > li .mq-text")).to_have_text([second, first])
    await expect(participant.locator("#queue > li .q-text")).to_have_text([second, first])
    await expect(
        moderator.locator("#queue > li", has_text=second).get_by_role("button", name="Move up")
    ).to_be_focused()
    await expect(moderator.locator("#announcer")).to_have_text("Position 1 of 2")

    screen = await page_in_new_context(browser, problems, "screen", DESKTOP)
    await screen.goto(f"{server}/e/{event.slug}/screen?token={event.screen_token}")
    await expect(screen.locator("#title")).to_have_text("Test dialogue")
    await expect(screen.locator("body")).to_have_class("screen projector empty")
    # The join QR code is a standalone SVG the browser can show as an image.
    await screen.wait_for_function("document.getElementById('qr').complete")
    assert await screen.evaluate("document.getElementById('qr').naturalWidth") > 0

    await moderator.locator("#queue > li", has_text=first).get_by_role("button", name="Show on screen").click()
    await expect(screen.locator("#text")).to_have_text(first)
    await expect(screen.locator("#who")).to_have_text("Amina · Voices of the Sahel · Niger")
    await expect(screen.locator("#card")).to_have_class("qcard visible")
    await expect(moderator.locator("#screen > li .mq-text")).to_have_text(first)
    await expect(participant.locator("#queue > li", has_text=first)).to_contain_text("On screen now")

    await moderator.get_by_role("button", name="Clear screen").click()
    await expect(screen.locator("body")).to_have_class("screen projector empty")
    assert problems.seen == []


async def test_asker_sees_why_a_question_was_rejected(
    server: str, event: EventFixture, browser: Browser, problems: Problems
) -> None:
    """A rejection's reason, chosen in the moderator's inline form, reaches the asker's "My questions"."""
    moderator = await moderator_page(browser, problems, server, event)
    participant = await participant_page(browser, problems, server, event)
    text = "Can I sell my bicycle here?"
    await ask(participant, text)
    card = moderator.locator("#incoming > li", has_text=text)
    await card.get_by_role("button", name="Reject").click()
    await card.get_by_role("button", name="Off topic").click()
    await expect(card.get_by_label("Reason")).to_have_value("Off topic")
    await card.get_by_role("button", name="Reject question").click()
    await expect(moderator.locator("#closed > li", has_text=text)).to_contain_text("Reason: Off topic")
    mine = participant.locator("#mine li", has_text=text)
    await expect(mine).to_contain_text("Not accepted")
    await expect(mine).to_contain_text("Reason: Off topic")
    await expect(participant.locator("#queue > li")).to_have_count(0)
    assert problems.seen == []


async def test_markup_in_user_text_is_shown_as_text_everywhere(
    server: str, event: EventFixture, browser: Browser, problems: Problems
) -> None:
    """HTML in a question, a name or an organisation is displayed literally on all three pages and never runs."""
    image = "<img src=x onerror=window.__xss=1>"
    script = "<script>window.__xss=1</script>"
    others = '<svg onload=window.__xss=1></svg> <a href="javascript:window.__xss=1">x</a> "><iframe src=javascript:1>'
    text = f"{image} and {script} in a question {others}"
    moderator = await moderator_page(browser, problems, server, event)
    participant = await participant_page(browser, problems, server, event)
    screen = await page_in_new_context(browser, problems, "screen", DESKTOP)
    await screen.goto(f"{server}/e/{event.slug}/screen?token={event.screen_token}&mode=overlay")
    await ask(participant, text, name=image, organisation=script)

    await expect(participant.locator("#mine li .q-text")).to_have_text(text)
    card = moderator.locator("#incoming > li")
    await expect(card.locator(".mq-text")).to_have_text(text)
    await expect(card.locator(".mq-who")).to_have_text(f"{image} · {script} · Niger")
    await card.get_by_role("button", name="Approve").click()
    await moderator.locator("#queue > li").get_by_role("button", name="Show on screen").click()

    await expect(participant.locator("#queue > li .q-text")).to_have_text(text)
    await expect(participant.locator("#queue > li .q-who")).to_have_text(f"{image} · {script} · Niger")
    await expect(screen.locator("#text")).to_have_text(text)
    await expect(screen.locator("#who")).to_have_text(f"{image} · {script} · Niger")
    await expect(screen.locator("body")).to_have_class("screen overlay has-question")
    for page in (participant, moderator, screen):
        await no_script_ran(page)
    assert problems.seen == []


async def test_lost_question_is_sent_again_with_the_same_cid(
    server: str, event: EventFixture, browser: Browser, problems: Problems
) -> None:
    """The outbox: a submission lost with its connection is resent (same cid) on reconnect and after a reload."""
    page = await page_in_new_context(browser, problems, "participant", PHONE)
    sent: list[dict[str, object]] = []
    received: list[dict[str, object]] = []
    drop_next_submit = True
    close_code = 1012  # server restart: the page reconnects by itself

    async def relay(socket: WebSocketRoute) -> None:
        upstream = socket.connect_to_server()

        async def from_page(message: str | bytes) -> None:
            nonlocal drop_next_submit
            frame = json.loads(message)
            sent.append(frame)
            if frame["type"] == "submit" and drop_next_submit:
                drop_next_submit = False
                await socket.close(code=close_code, reason="lost on the way")  # the submission never reaches the server
                return
            upstream.send(message)

        def from_server(message: str | bytes) -> None:
            received.append(json.loads(message))
            socket.send(message)

        socket.on_message(from_page)
        upstream.on_message(from_server)

    await page.route_web_socket(re.compile(r"/ws/e/"), relay)
    await page.goto(f"{server}/e/{event.slug}")
    await expect(page.locator("#status")).to_have_class("status live")

    first = "Is anyone taking notes for the minutes?"
    await ask(page, first)
    mine = page.locator("#mine li", has_text=first)
    await expect(mine).to_contain_text("Waiting for a moderator")  # acknowledged after the reconnect
    submits = [frame for frame in sent if frame["type"] == "submit"]
    assert len(submits) == 2 and submits[0]["cid"] == submits[1]["cid"]
    hellos = [frame for frame in sent if frame["type"] == "hello"]
    assert len(hellos) == 2 and hellos[1]["last_id"] and hellos[1]["token"]
    assert any(frame["type"] == "resumed" for frame in received)  # resumed, not a fresh snapshot

    # Lost again, with a close the page does not retry after (policy): only a reload sends it, from localStorage.
    drop_next_submit, close_code = True, 1008
    second = "Will there be a second session?"
    await ask(page, second)
    await expect(page.locator("#status")).to_have_class("status stopped")
    await expect(page.locator("#mine li", has_text=second)).to_contain_text("Not yet sent")
    await page.reload()
    await expect(page.locator("#mine li", has_text=second)).to_contain_text("Waiting for a moderator")
    cids = [frame["cid"] for frame in sent if frame["type"] == "submit" and frame["text"] == second]
    assert len(cids) == 2 and cids[0] == cids[1]
    await asyncio.sleep(0.3)  # nothing more arrives: each question is stored once
    assert await page.locator("#mine li").count() == 2
    assert problems.seen == []


@pytest.mark.parametrize("lang", ["ar", "en", "es", "fr", "ru", "zh"])
async def test_participant_page_weighs_under_60_kb(
    server: str, event: EventFixture, browser: Browser, problems: Problems, lang: str
) -> None:
    """Everything the participant page downloads (HTML with its language's messages, scripts, styles), as served
    (compacted, uncompressed), stays under 60 KB, in each of the six languages."""
    page = await page_in_new_context(browser, problems, "participant", PHONE)
    sizes: dict[str, int] = {}

    async def count(response: Response) -> None:
        if "/ws/" not in response.url:
            sizes[response.url.removeprefix(server)] = len(await response.body())

    page.on("response", count)
    await page.goto(f"{server}/e/{event.slug}?lang={lang}")
    await expect(page.locator("#status")).to_have_class("status live", timeout=WAIT_MS)
    assert await page.evaluate("document.documentElement.lang") == lang
    sizes.pop("/favicon.ico", None)
    assert {f"/e/{event.slug}?lang={lang}", "/static/participant.js", "/static/common.js", "/static/style.css"} <= set(
        sizes
    )
    assert not [url for url in sizes if "/i18n/" in url]  # the page carries its language's messages
    assert sum(sizes.values()) < 60_000, sizes
    assert problems.seen == []


async def test_console_filters_by_source_language_region_and_words(
    server: str, event: EventFixture, browser: Browser, problems: Problems, store: RedisStore
) -> None:
    """The console shows one channel, language or region at a time, or the questions with given words."""
    import httpx

    token = await store.add_channel(event.slug, "email")
    async with httpx.AsyncClient(base_url=server, headers={"authorization": f"Bearer {token}"}) as http:
        response = await http.post(
            f"/api/v1/events/{event.slug}/intake",
            json={"id": "m1", "text": "Sent by email", "name": "E", "organisation": "O", "country": "KE"},
        )
        assert response.status_code == 201
    asker = await Client.open(server, event.slug)
    await asker.submit("Sent from the page")
    await asker.submit("¿Cuándo se publicará el informe del Consejo?", organisation="Red de Paz", country="CO")
    page = await moderator_page(browser, problems, server, event)
    incoming = page.locator("#incoming > li")
    await expect(incoming).to_have_count(3)
    await page.select_option("#source-filter", "email")
    await expect(incoming).to_have_count(1)
    await expect(incoming.first).to_contain_text("Sent by email")
    await page.select_option("#source-filter", "")
    await expect(incoming).to_have_count(3)
    # By language (detected), by region (from the country), by words anywhere in the text or the asker.
    await page.select_option("#lang-filter", label="Spanish")
    await expect(incoming).to_have_count(1)
    await page.select_option("#lang-filter", "")
    await page.select_option("#region-filter", label="Africa")
    await expect(incoming).to_have_count(2)
    await page.select_option("#region-filter", "")
    await page.get_by_label("Search").fill("red de paz")
    await expect(incoming).to_have_count(1)
    await expect(incoming.first).to_contain_text("informe")
    await page.get_by_label("Search").fill("")
    await expect(incoming).to_have_count(3)
    assert problems.seen == []


async def test_console_answers_in_writing_translates_announces_and_bans(
    server: str, event: EventFixture, browser: Browser, problems: Problems
) -> None:
    """The console's forms reach the participant's page: a written answer and an announcement; a ban sticks."""
    moderator = await moderator_page(browser, problems, server, event)
    participant = await participant_page(browser, problems, server, event)
    question = "Will the minutes be published?"
    await ask(participant, question)
    card = moderator.locator("#incoming > li", has_text=question)
    await card.get_by_role("button", name="Approve").click()
    queued = moderator.locator("#queue > li", has_text=question)
    await queued.get_by_role("button", name="Answer in writing").click()
    await queued.get_by_label("Written answer").fill("Yes, within two weeks.")
    await queued.get_by_role("button", name="Publish answer").click()
    await expect(queued).to_contain_text("Answer: Yes, within two weeks.")
    await expect(participant.locator("#mine li", has_text=question)).to_contain_text("Yes, within two weeks.")

    await queued.get_by_role("button", name="Text for the room").click()
    await queued.get_by_label("The question in another language").fill("Les procès-verbaux seront-ils publiés ?")
    await queued.get_by_role("button", name="Save text").click()
    await expect(queued).to_contain_text("For the room (en): Les procès-verbaux")

    await queued.get_by_role("button", name="Tags").click()
    await queued.get_by_label("Tags (separate with commas)").fill("minutes, transparency")
    await queued.get_by_role("button", name="Save tags").click()
    await expect(queued.locator(".mq-tags")).to_have_text("minutestransparency")
    await moderator.get_by_label("Announcement to every participant").fill("Item 2 now")
    await moderator.get_by_role("button", name="Announce").click()
    await expect(participant.get_by_text("Item 2 now")).to_be_visible()

    moderator.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await queued.get_by_role("button", name="Ban asker").click()
    await expect(queued).to_contain_text("Banned")
    await expect(queued.get_by_role("button", name="Lift ban")).to_be_visible()

    await queued.get_by_role("button", name="Edit").click()
    await queued.get_by_label("Question text").fill("Will the meeting minutes be published?")
    await queued.get_by_role("button", name="Save text").click()
    await expect(participant.locator("#queue > li")).to_contain_text("Will the meeting minutes be published?")
    assert problems.seen == []


async def test_duplicates_hint_merge_split_and_suggestion(
    server: str, event: EventFixture, browser: Browser, problems: Problems
) -> None:
    """A participant typing a repeat is shown the existing question and supports it; a repeat sent anyway is merged
    (the console lists it inside the first, the asker sees where it went); a moderator splits it off again, and
    merges a suggested look-alike with one click."""
    moderator = await moderator_page(browser, problems, server, event)
    first = await participant_page(browser, problems, server, event)
    original = "What will the Security Council do about the humanitarian situation in Sudan?"
    await ask(first, original)
    await moderator.locator("#incoming > li", has_text=original).get_by_role("button", name="Approve").click()

    second = await participant_page(browser, problems, server, event)
    await second.get_by_label("Your question").fill(
        "What will the Council do regarding the humanitarian situation in Sudan?"
    )
    hint = second.locator("#similar")
    await expect(hint).to_contain_text(original)
    await hint.get_by_role("button", name="Support").click()
    await expect(moderator.locator("#queue > li", has_text=original)).to_contain_text("1 vote")

    repeat = "What will the Security Council do regarding the humanitarian situation in Sudan?"
    third = await participant_page(browser, problems, server, event)
    await ask(third, repeat, name="Bea", organisation="Khartoum Women's Forum")
    await expect(third.locator("#mine li", has_text=repeat)).to_contain_text(
        f"Merged with a similar question: {original}"
    )
    head = moderator.locator("#queue > li", has_text=original)
    await expect(head).to_contain_text("2 votes")
    await expect(head.locator(".mq-group summary")).to_have_text("1 similar question merged in")
    await expect(moderator.locator("#incoming > li")).to_have_count(0)
    await head.locator(".mq-group summary").click()
    await expect(head.locator(".mq-group li")).to_contain_text("Bea · Khartoum Women's Forum · Niger")
    await head.get_by_role("button", name="Split off").click()
    await expect(moderator.locator("#incoming > li", has_text=repeat)).to_be_visible()
    await expect(head).to_contain_text("1 vote")

    lifted = "Will the Council lift the sanctions on Mali?"
    await ask(first, "Will the Council extend the sanctions on Mali?")
    await moderator.locator("#incoming > li", has_text="extend").get_by_role("button", name="Approve").click()
    await ask(first, lifted)
    suggested = moderator.locator("#incoming > li", has_text=lifted)
    await expect(suggested.locator(".mq-similar")).to_contain_text("Will the Council extend the sanctions on Mali?")
    await suggested.get_by_role("button", name="Merge into it").click()
    await expect(moderator.locator("#incoming > li", has_text=lifted)).to_have_count(0)
    assert problems.seen == []


async def test_incoming_is_ranked_with_its_reasons_and_a_balance_panel(
    server: str, event: EventFixture, store: RedisStore, browser: Browser, problems: Problems
) -> None:
    """Incoming questions are ordered by the event's score, each card says why; an organisation that already has
    a question approved ranks lower; an approval lands where the score proposes; the balance panel counts."""
    weights = Ranking(votes=1, age_minutes=10_000, organisation=2, country=0, first_time=0, region=0)
    await operations.update_event(store, event.slug, ranking=weights)
    sahel, other = [await Client.open(server, event.slug) for _ in range(2)]
    await sahel.submit("Will the Council visit the Sahel this year?")
    moderator = await moderator_page(browser, problems, server, event)
    await moderator.locator("#incoming > li", has_text="visit the Sahel").get_by_role("button", name="Approve").click()
    await expect(moderator.locator("#queue > li")).to_have_count(1)

    await sahel.submit("Will the Council fund local mediators?")
    await other.submit("How are women mediators included?", organisation="Women Mediate")
    incoming = moderator.locator("#incoming > li")
    await expect(incoming.locator(".mq-text")).to_have_text(
        ["How are women mediators included?", "Will the Council fund local mediators?"]
    )
    await expect(incoming.filter(has_text="fund local")).to_contain_text("organisation has 1 taken −2.00")
    await expect(incoming.filter(has_text="women")).to_contain_text("Score 0.69: supporters +0.69")

    # Approved, a question goes where it outranks the queue: the second Sahel question last, the newcomer first.
    await incoming.filter(has_text="fund local").get_by_role("button", name="Approve").click()
    await expect(moderator.locator("#queue > li")).to_have_count(2)
    await incoming.filter(has_text="women").get_by_role("button", name="Approve").click()
    await expect(moderator.locator("#queue > li .mq-text")).to_have_text(
        [
            "How are women mediators included?",
            "Will the Council visit the Sahel this year?",
            "Will the Council fund local mediators?",
        ]
    )
    balance = moderator.locator("#balance")
    await expect(balance.locator("table").first.locator("tr", has_text="Africa")).to_have_text("Africa330")
    await expect(balance.locator("table").nth(1).locator("tr", has_text="African States")).to_have_text(
        "African States330"
    )
    await expect(balance.locator("table").nth(2).locator("tr", has_text="Voices of the Sahel")).to_have_text(
        "Voices of the Sahel220"
    )
    assert problems.seen == []


async def test_privacy_notice_is_accepted_once_before_the_first_question(
    server: str, anonymous_event: EventFixture, browser: Browser, problems: Problems
) -> None:
    """What is stored, who sees it, what may be shown and for how long: read and accepted before the first question,
    not asked again."""
    page = await participant_page(browser, problems, server, anonymous_event)
    notice = page.locator("#privacy")
    await expect(notice).to_contain_text("the livestream show your question with only what you choose to show")
    await page.locator("#anonymous").check()
    await page.get_by_label("Your question").fill("Is the notice shown first?")
    await page.get_by_role("button", name="Send question").click()
    await expect(page.locator("#form-error")).to_have_text(
        "Please confirm that you have read how your question is used."
    )
    await expect(page.locator("#mine li")).to_have_count(0)
    await page.get_by_label("I understand").check()
    await page.get_by_role("button", name="Send question").click()
    await expect(page.locator("#mine li", has_text="Is the notice shown first?")).to_be_visible()
    await expect(notice).to_be_hidden()
    await page.reload()
    await expect(page.locator("#status")).to_have_class("status live")
    await expect(notice).to_be_hidden()
    assert problems.seen == []


async def test_moderator_actions_can_be_undone(
    server: str, event: EventFixture, browser: Browser, problems: Problems
) -> None:
    """Each action offers an Undo for a while: a rejected queued question goes back to its place in the queue, an
    approval back to incoming, an edit back to the text before."""
    asker = await Client.open(server, event.slug)
    for text in ("Will the minutes be public?", "Who chairs the next debate?", "How are speakers chosen?"):
        await asker.submit(text)
    moderator = await moderator_page(browser, problems, server, event)
    for text in ("Will the minutes be public?", "Who chairs the next debate?", "How are speakers chosen?"):
        await moderator.locator("#incoming > li", has_text=text).get_by_role("button", name="Approve").click()
        await expect(moderator.locator("#queue > li", has_text=text)).to_be_visible()
    queue = moderator.locator("#queue > li .mq-text")
    await expect(queue).to_have_text(
        ["Will the minutes be public?", "Who chairs the next debate?", "How are speakers chosen?"]
    )

    second = moderator.locator("#queue > li", has_text="Who chairs")
    await second.get_by_role("button", name="Reject").click()
    await second.get_by_role("button", name="Off topic").click()
    await second.get_by_role("button", name="Reject question").click()
    await expect(queue).to_have_text(["Will the minutes be public?", "How are speakers chosen?"])
    await expect(moderator.locator("#undo-bar")).to_contain_text("Rejected.")
    await moderator.get_by_role("button", name="Undo").click()
    await expect(queue).to_have_text(
        ["Will the minutes be public?", "Who chairs the next debate?", "How are speakers chosen?"]
    )

    await asker.submit("Is there a sign language interpreter?")
    await (
        moderator.locator("#incoming > li", has_text="Is there a sign language interpreter?")
        .get_by_role("button", name="Approve")
        .click()
    )
    await expect(moderator.locator("#queue > li", has_text="Is there a sign language interpreter?")).to_be_visible()
    await moderator.get_by_role("button", name="Undo").click()
    await expect(moderator.locator("#incoming > li", has_text="Is there a sign language interpreter?")).to_be_visible()

    first = moderator.locator("#queue > li", has_text="Will the minutes be public?")
    await first.get_by_role("button", name="Edit").click()
    await first.get_by_label("Question text").fill("Will the meeting minutes be made public?")
    await first.get_by_role("button", name="Save text").click()
    await expect(queue.first).to_have_text("Will the meeting minutes be made public?")
    await moderator.get_by_role("button", name="Undo").click()
    await expect(queue.first).to_have_text("Will the minutes be public?")
    assert problems.seen == []


async def test_console_chimes_on_new_questions_only_when_asked(
    server: str, event: EventFixture, browser: Browser, problems: Problems
) -> None:
    """The sound is off by default; switched on, each new question chimes once (its approval does not)."""
    moderator = await moderator_page(browser, problems, server, event)
    asker = await Client.open(server, event.slug)
    await expect(moderator.get_by_label("Sound on new questions")).not_to_be_checked()
    await asker.submit("A question nobody hears?")
    await expect(moderator.locator("#incoming > li")).to_have_count(1)
    assert await moderator.evaluate("window.liveqaChimes ?? 0") == 0
    await moderator.get_by_label("Sound on new questions").check()
    qid = (await asker.submit("A question that chimes?"))["qid"]
    await expect(moderator.locator("#incoming > li")).to_have_count(2)
    await moderator.locator(f"#incoming > li[data-qid='{qid}']").get_by_role("button", name="Approve").click()
    await expect(moderator.locator("#queue > li")).to_have_count(1)
    assert await moderator.evaluate("window.liveqaChimes") == 1
    assert problems.seen == []


async def test_the_floor_from_request_to_screen_with_one_clock(
    server: str, event: EventFixture, browser: Browser, problems: Problems
) -> None:
    """Someone in the room asks for the floor on the floor page; the console lists and calls them; the screen,
    switched to the floor, shows who speaks and counts down the same time as the console."""
    room = await page_in_new_context(browser, problems, "floor", PHONE)
    await room.goto(f"{server}/e/{event.slug}/floor")
    await expect(room.locator("#status")).to_have_class("status live")
    await room.get_by_label("Your name").fill("Awa")
    await room.get_by_label("Organisation").fill("Femmes du Sahel")
    await room.get_by_label("Country").select_option("ML")
    await room.get_by_label("What you will speak about").fill("Protection of civilians in the Sahel")
    await room.get_by_role("button", name="Request the floor").click()
    mine = room.locator("#mine li", has_text="Protection of civilians")
    await expect(mine).to_contain_text("Waiting for the moderators")

    moderator = await moderator_page(browser, problems, server, event)
    request = moderator.locator("#floor-requests > li", has_text="Protection of civilians")
    await expect(request).to_contain_text("Awa · Femmes du Sahel · Mali")
    await request.get_by_role("button", name="Add to list").click()
    await expect(mine).to_contain_text("On the speakers' list")
    screen = await page_in_new_context(browser, problems, "screen", DESKTOP)
    await screen.goto(f"{server}/e/{event.slug}/screen?token={event.screen_token}")
    await moderator.get_by_label("who has the floor").check()
    await expect(screen.locator("#floor")).to_be_visible()
    await expect(screen.locator("#floor-next")).to_have_text("Awa · Femmes du Sahel · Mali")
    await moderator.locator("#speakers > li").get_by_role("button", name="Give the floor").click()
    await expect(mine).to_contain_text("You have the floor")
    await expect(screen.locator("#floor-who")).to_have_text("Awa · Femmes du Sahel · Mali")
    await expect(screen.locator("#floor-clock")).to_have_text(re.compile(r"^[23]:\d\d$"))
    clocks = [
        await page.locator(selector).text_content()
        for page, selector in ((moderator, "#console-clock"), (screen, "#floor-clock"))
    ]
    minutes, seconds = zip(*(map(int, c.split(":")) for c in clocks if c), strict=True)
    assert abs((minutes[0] * 60 + seconds[0]) - (minutes[1] * 60 + seconds[1])) <= 1, clocks
    await moderator.locator("#floor-speaking").get_by_role("button", name="End turn").click()
    await expect(mine).to_contain_text("You spoke")
    await expect(screen.locator("#floor-who")).to_have_text("The floor is open")
    await moderator.get_by_label("the question").check()
    await expect(screen.locator("#floor")).to_be_hidden()
    assert problems.seen == []


async def test_drag_reorder_reaches_a_second_moderator_and_participants_see_the_closing_time(
    server: str, event: EventFixture, store: RedisStore, browser: Browser, problems: Problems
) -> None:
    """A moderator drags a question to the top: a second moderator and the participants see the same order. With a
    closing time set, participants see how long questions stay open."""
    now = int(time.time() * 1000)
    await operations.update_event(store, event.slug, closes_at=now + 20 * 60_000 + 30_000)
    asker = await Client.open(server, event.slug)
    texts = ["Who will chair the review?", "Where will the minutes be published?", "When is the next briefing?"]
    for text in texts:
        await asker.submit(text)
    first = await moderator_page(browser, problems, server, event)
    await first.set_viewport_size({"width": 1366, "height": 1600})  # the whole queue in view: a drag doesn't scroll
    for text in texts:
        await first.locator("#incoming > li", has_text=text).get_by_role("button", name="Approve").click()
        await expect(first.locator("#queue > li", has_text=text)).to_be_visible()
    await expect(first.locator("#queue > li .mq-text")).to_have_text(texts)
    second = await moderator_page(browser, problems, server, event)
    participant = await participant_page(browser, problems, server, event)
    await expect(participant.locator("#notices")).to_contain_text("Questions close in 20 minutes")

    await first.locator("#queue > li", has_text=texts[2]).drag_to(
        first.locator("#queue > li", has_text=texts[0]), target_position={"x": 20, "y": 5}
    )
    reordered = [texts[2], texts[0], texts[1]]
    for page, selector in (
        (first, "#queue > li .mq-text"),
        (second, "#queue > li .mq-text"),
        (participant, "#queue > li .q-text"),
    ):
        await expect(page.locator(selector)).to_have_text(reordered)
    assert problems.seen == []


@pytest.mark.parametrize("lang", ["en", "ar"])
async def test_participant_page_fits_a_320_px_phone(
    server: str, event: EventFixture, browser: Browser, problems: Problems, lang: str
) -> None:
    """Nothing runs off a 320 px wide screen: no sideways scrolling, in English or Arabic, with questions listed."""
    asker = await Client.open(server, event.slug)
    moderator = await Client.open(server, event.slug, "moderator", sid=await login(server, event.slug, event.password))
    await moderator.expect("snapshot")
    qid = (
        await asker.submit(
            "A long question " + "with many words " * 12, organisation="An Organisation With A Long Name"
        )
    )["qid"]
    await moderator.act("approve", qid=qid)
    page = await page_in_new_context(browser, problems, "participant", {"width": 320, "height": 640})
    await page.goto(f"{server}/e/{event.slug}?lang={lang}")
    await expect(page.locator("#queue > li")).to_have_count(1)
    assert await page.evaluate("document.documentElement.scrollWidth") <= 320
    assert problems.seen == []
