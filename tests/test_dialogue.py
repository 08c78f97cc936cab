"""The dialogue itself: written answers (also by an answer-only official), texts for the room, announcements,
and the clock that opens and closes questions."""

from __future__ import annotations

import time

import pytest
from click.testing import CliRunner

from liveqa import operations
from liveqa.cli import main
from liveqa.store import RedisStore
from tests.helpers import Client, EventFixture, moderator


async def test_written_answers_reach_the_asker_and_everyone(
    server: str, event: EventFixture, store: RedisStore
) -> None:
    asker = await Client.open(server, event.slug)
    viewer = await Client.open(server, event.slug)
    mod = await moderator(server, event)
    qid = (await asker.submit("Will the Council publish its findings?"))["qid"]
    await mod.act("approve", qid=qid)
    password = await operations.set_moderator(store, event.slug, "Ambassador K.", role="answerer")
    official = await moderator(server, event, "Ambassador K.", password)
    refused = await official.act("approve", qid=qid)
    assert refused["type"] == "error" and refused["code"] == "forbidden"
    assert (await official.act("reply", qid=qid, text="Yes, in the annual report."))["type"] == "done"
    own = await asker.expect("own", question__answer="Yes, in the annual report.")
    assert own["question"]["status"] == "approved"
    public = await viewer.expect("update", question__id=qid, question__answer="Yes, in the annual report.")
    assert public["question"]["answer_at"] > 0
    moderated = await mod.expect("update", question__answer="Yes, in the annual report.")
    assert moderated["question"]["answer_by"] == "Ambassador K."
    late = await Client.open(server, event.slug, token=asker.token)
    assert (await late.expect("snapshot"))["mine"][0]["answer"] == "Yes, in the annual report."


async def test_a_text_for_the_room_shows_on_screen_with_the_original(server: str, event: EventFixture) -> None:
    asker = await Client.open(server, event.slug)
    mod = await moderator(server, event)
    screen = await Client.open(server, event.slug, "screen", token=event.screen_token)
    qid = (await asker.submit("ما هو موقف المجلس من السودان؟"))["qid"]
    await mod.act("approve", qid=qid)
    await mod.act("show", qid=qid)
    done = await mod.act("translate", qid=qid, text="What is the Council's position on Sudan?", lang="en")
    assert done["type"] == "done", done
    shown = await screen.expect("screen", question__display="What is the Council's position on Sudan?")
    assert shown["question"]["text"] == "ما هو موقف المجلس من السودان؟" and shown["question"]["display_lang"] == "en"
    await mod.send("translate", qid=qid, text="x", lang="not a language")
    assert (await mod.expect("error"))["code"] == "invalid_message"


async def test_announcements_reach_every_participant_and_newcomers(server: str, event: EventFixture) -> None:
    participant = await Client.open(server, event.slug)
    mod = await moderator(server, event)
    assert (await mod.act("announce", text="Questions on agenda item 2 now"))["type"] == "done"
    said = await participant.expect("announcement")
    assert said["text"] == "Questions on agenda item 2 now" and said["at"] > 0
    newcomer = await Client.open(server, event.slug)
    assert [a["text"] for a in (await newcomer.expect("snapshot"))["announcements"]] == [
        "Questions on agenda item 2 now"
    ]
    for i in range(6):
        await mod.act("announce", text=f"Notice {i}")
    later = await Client.open(server, event.slug)
    assert len((await later.expect("snapshot"))["announcements"]) == 5


async def test_the_clock_opens_and_closes_questions(server: str, event: EventFixture, store: RedisStore) -> None:
    now = int(time.time() * 1000)
    await operations.update_event(store, event.slug, opens_at=now + 60_000, closes_at=now + 120_000)
    participant = await Client.open(server, event.slug)
    assert participant.frames[0]["event"]["opens_at"] == now + 60_000  # the welcome says when
    early = await participant.submit("Too early?")
    assert early["code"] == "questions_closed" and early["detail"] == "not yet open"
    await operations.update_event(store, event.slug, opens_at=now - 60_000, closes_at=now + 60_000)
    assert (await participant.submit("Now?"))["type"] == "ack"
    await operations.update_event(store, event.slug, closes_at=now - 1)
    assert (await participant.submit("Too late?"))["code"] == "questions_closed"
    with pytest.raises(ValueError):
        await operations.update_event(store, event.slug, opens_at=now, closes_at=now - 5)


def test_schedule_command(redis_url: str) -> None:
    runner = CliRunner()
    args = ["--redis-url", redis_url]
    runner.invoke(main, ["event", "create", "clock", "--title", "T", "--password", "a long password", *args])
    try:
        done = runner.invoke(
            main, ["event", "schedule", "clock", "--opens", "2030-01-01T10:00", "--closes", "2030-01-01T11:30", *args]
        )
        assert done.exit_code == 0, done.output
        bad = runner.invoke(
            main, ["event", "schedule", "clock", "--opens", "2030-01-01T10:00", "--closes", "2030-01-01T09:00", *args]
        )
        assert bad.exit_code != 0 and "close after" in bad.output
    finally:
        runner.invoke(main, ["event", "delete", "clock", "--yes", *args])


async def test_identity_moves_to_another_device_with_a_one_time_code(server: str, event: EventFixture) -> None:
    """A code shown on the phone, typed on the laptop: the laptop is the same participant, once."""
    phone = await Client.open(server, event.slug)
    qid = (await phone.submit("Asked on my phone"))["qid"]
    await phone.send("transfer")
    code = (await phone.expect("transfer_code"))["code"]
    assert len(code) == 8
    laptop = await Client.open(server, event.slug, hello=False)
    await laptop.send("hello", transfer=f"{code[:4].lower()}-{code[4:]}")
    welcome = await laptop.expect("welcome")
    assert welcome["pid"] == phone.pid and welcome["token"] != phone.token
    assert [q["id"] for q in (await laptop.expect("snapshot"))["mine"]] == [qid]
    again = await Client.open(server, event.slug, hello=False)
    await again.send("hello", transfer=code)
    assert (await again.expect("error"))["code"] == "bad_transfer_code"
    assert (await again.expect("welcome"))["pid"] != phone.pid  # a newcomer instead
