"""Event rules: post-moderation, word lists that hold questions, passcodes, bans."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest

from liveqa import operations
from liveqa.domain.model import Moderation
from liveqa.domain.screening import WordList, fold, load
from liveqa.store import RedisStore
from tests.conftest import MODERATOR_PASSWORD
from tests.helpers import Client, EventFixture, login


@pytest.fixture
async def open_event(store: RedisStore) -> AsyncIterator[EventFixture]:
    """A post-moderated event with a passcode."""
    slug = f"o-{secrets.token_hex(5)}"
    token = await operations.create_event(
        store, slug, "Open floor", password=MODERATOR_PASSWORD, moderation=Moderation.POST, passcode="sahel 2026"
    )
    yield EventFixture(slug=slug, screen_token=token, password=MODERATOR_PASSWORD)
    await store.delete_event(slug)


@pytest.mark.parametrize(
    "text",
    [
        "This is bullshit",
        "FILS DE PUTE",
        "Vous êtes des enculés",
        "Что за пиздец",
        "هذا كس",
        "你是傻逼吗",
        "¡Cabrón!",
        "Mother-fucker",
    ],
)
def test_word_lists_catch_each_language(text: str) -> None:
    assert load().match(text)


@pytest.mark.parametrize(
    "text",
    [
        "What will the Council do about sexual violence and rape as a weapon of war in Sudan?",
        "Will the assembly pass the resolution?",
        "我妈妈的问题是什么",
        "Shitake mushrooms and food security?",
        "Que fait le Conseil pour la Syrie ?",
        "Что Совет делает для Судана?",
        "ما هو موقف مجلس الأمن من السودان؟",
        "¿Qué hará el Consejo con Haití?",
    ],
)
def test_word_lists_leave_ordinary_questions_alone(text: str) -> None:
    assert load().match(text) == ""


def test_matching_ignores_case_accents_and_arabic_letter_forms() -> None:
    words = WordList.of(["élan vital", "إسم*"])
    assert words.match("ELAN VITAL") == "elan vital"
    assert words.match("اسمك") == fold("إسم") + "*"


async def test_post_moderated_questions_go_public_unless_held(server: str, open_event: EventFixture) -> None:
    """Without pre-moderation a question is public at once; one the word lists match waits, flagged."""
    asker = await Client.open(server, open_event.slug, passcode="sahel 2026")
    viewer = await Client.open(server, open_event.slug, passcode="SAHEL 2026 ".lower())
    mod = await Client.open(
        server, open_event.slug, "moderator", sid=await login(server, open_event.slug, open_event.password)
    )
    clean = await asker.submit("What about Mali?")
    assert (await viewer.expect("update", question__id=clean["qid"]))["question"]["status"] == "approved"
    dirty = await asker.submit("What the fuck about Mali?")
    held = await mod.expect("update", question__id=dirty["qid"])
    assert held["question"]["status"] == "pending" and held["question"]["held"] == "fuck*"
    assert (await asker.expect("own", question__id=dirty["qid"]))["question"]["status"] == "pending"
    assert not [f for f in await viewer.drain() if f.get("question", {}).get("id") == dirty["qid"]]


async def test_passcode_gates_new_participants_only(server: str, open_event: EventFixture) -> None:
    """Without the passcode a newcomer is turned away (4003); with it they join, and later return without it."""
    stranger = await Client.open(server, open_event.slug, hello=False)
    await stranger.send("hello")
    assert (await stranger.expect("error"))["code"] == "passcode_required"
    assert await stranger.close_code() == 4003
    guesser = await Client.open(server, open_event.slug, hello=False)
    await guesser.send("hello", passcode="wrong")
    assert (await guesser.expect("error"))["code"] == "wrong_passcode"
    member = await Client.open(server, open_event.slug, passcode="sahel 2026")
    assert (await member.expect("snapshot"))["type"] == "snapshot"
    back = await Client.open(server, open_event.slug, token=member.token)
    assert back.pid == member.pid


async def test_banned_participants_can_no_longer_submit_or_vote(server: str, event: EventFixture) -> None:
    asker = await Client.open(server, event.slug)
    mod = await Client.open(server, event.slug, "moderator", sid=await login(server, event.slug, event.password))
    qid = (await asker.submit("Legit question"))["qid"]
    await mod.act("approve", qid=qid)
    troll = await Client.open(server, event.slug)
    spam = await troll.submit("spam spam spam")
    pid = (await mod.expect("update", question__id=spam["qid"]))["question"]["pid"]
    assert (await mod.act("ban", pid=pid))["type"] == "done"
    assert await mod.expect("update", banned=[pid])
    assert (await troll.submit("more spam"))["code"] == "banned"
    await troll.send("upvote", qid=qid)
    assert (await troll.expect("error"))["code"] == "banned"
    assert (await mod.act("unban", pid=pid))["type"] == "done"
    assert (await troll.submit("sorry"))["type"] == "ack"
