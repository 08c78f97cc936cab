"""Requests for the floor end to end: a participant in the room asks, moderators list, order and call speakers,
the screen shows who speaks and who is next with the same clock as the console, across two server processes,
and a console that was away resumes with the same speakers' list as a fresh one."""

from __future__ import annotations

from typing import Any

from tests.helpers import Client, EventFixture, cid, login, moderator
from tests.processes import ServerProcess


async def _request(client: Client, topic: str, lang: str = "fr", client_id: str = "") -> str:
    client_id = client_id or cid()
    await client.send(
        "request_floor", cid=client_id, topic=topic, lang=lang, name="Awa", organisation="Femmes du Sahel", country="ML"
    )
    ack = await client.take(lambda f: f["type"] in ("floor_ack", "error") and f.get("cid") == client_id)
    assert ack["type"] == "floor_ack", ack
    fid: str = ack["fid"]
    return fid


def _floor_state(frames: list[dict[str, Any]]) -> tuple[dict[str, str], list[str], str, str]:
    """What a console holds after applying its frames: request statuses, speakers' list, speaking, screen mode."""
    statuses: dict[str, str] = {}
    speakers: list[str] = []
    speaking, mode = "", "question"
    for frame in frames:
        if frame["type"] == "snapshot":
            statuses = {r["id"]: r["status"] for r in frame.get("floor", [])}
            speakers, speaking, mode = (
                frame.get("speakers", []),
                frame.get("speaking", ""),
                frame.get("screen_mode", "question"),
            )
        elif frame["type"] == "update":
            for request in frame.get("floor") or []:
                statuses[request["id"]] = request["status"]
            speakers = frame["speakers"] if frame.get("speakers") is not None else speakers
            speaking = frame["speaking"] if frame.get("speaking") is not None else speaking
            mode = frame.get("screen_mode") or mode
    return statuses, speakers, speaking, mode


async def test_the_floor_across_two_processes_with_resume(
    two_servers: tuple[ServerProcess, ServerProcess], event: EventFixture
) -> None:
    a, b = two_servers
    room = await Client.open(a.url, event.slug)
    other = await Client.open(a.url, event.slug)
    mod = await moderator(b.url, event)
    away = await moderator(a.url, event, "Away")
    screen = await Client.open(a.url, event.slug, "screen", token=event.screen_token)
    assert "mode" not in await screen.expect("snapshot")  # the question, by default

    same = cid()
    first = await _request(room, "Protection des civils au Sahel", client_id=same)
    again = await _request(room, "Protection des civils au Sahel", client_id=same)
    second = await _request(other, "Women in peace processes", "en")
    assert first != second
    pending = await mod.expect("update", floor__0__id=first)
    assert pending["floor"][0]["status"] == "requested" and pending["floor"][0]["pid"] == room.pid
    assert (await room.expect("own_floor", request__id=first))["request"]["topic"] == "Protection des civils au Sahel"
    assert again == first  # the same cid again: the same request, stored once
    # Someone who only asked for the floor finds their request again after a reload.
    reloaded = await Client.open(a.url, event.slug, token=other.token)
    assert [r["id"] for r in (await reloaded.expect("snapshot"))["floor"]] == [second]

    for fid in (first, second):
        assert (await mod.act("floor", fid=fid, action="list"))["type"] == "done"
    await mod.expect("update", speakers=[first, second])
    assert (await mod.act("move_speaker", fid=second, before=first))["type"] == "done"
    await mod.expect("update", speakers=[second, first])
    epoch, last_id = away.epoch, (await away.expect("update", speakers=[second, first]))["id"]
    await away.close()

    assert (await mod.act("screen_mode", mode="floor"))["type"] == "done"
    await screen.take(
        lambda f: f["type"] == "floor" and f["mode"] == "floor" and "speaking" not in f and f["next"]["id"] == second
    )
    assert (await mod.act("floor", fid=second, action="call"))["type"] == "done"
    shown = await screen.expect("floor", speaking__id=second)
    called = await mod.expect("update", speaking=second)
    started = called["floor"][0]["started"]
    assert shown["speaking"]["started"] == started > 0 and shown["next"]["id"] == first
    assert "pid" not in shown["speaking"]  # the screen never learns who is behind a request
    welcome = next(f for f in screen.frames if f["type"] == "welcome")
    assert abs(welcome["now"] - started) < 60_000 and welcome["event"]["floor_seconds"] == 180
    assert (await other.expect("own_floor", request__id=second, request__status="speaking"))["request"][
        "started"
    ] == started

    assert (await mod.act("floor", fid=first, action="call"))["type"] == "done"  # the previous speaker is done
    both = await mod.expect("update", speaking=first)
    assert {r["id"]: r["status"] for r in both["floor"]} == {first: "speaking", second: "done"}
    assert (await mod.act("floor", fid=first, action="decline"))["code"] == "bad_transition"
    assert (await mod.act("floor", fid=first, action="finish"))["type"] == "done"
    await screen.take(lambda f: f["type"] == "floor" and "speaking" not in f and "next" not in f)  # nobody, nobody next

    late = await _request(room, "A late point")
    assert (await mod.act("floor", fid=late, action="decline"))["code"] == "bad_transition"  # a reason is needed
    assert (await mod.act("floor", fid=late, action="decline", reason="Time is up"))["type"] == "done"
    declined = await room.expect("own_floor", request__id=late, request__status="declined")
    assert declined["request"]["reason"] == "Time is up"
    await room.send("withdraw_floor", fid=second)
    assert await room.expect("error", code="not_yours")

    sid = await login(a.url, event.slug, event.password, "Away")
    back = await Client.open(a.url, event.slug, "moderator", sid=sid, epoch=epoch, last_id=last_id)
    await back.expect("resumed")
    replayed = await back.drain()
    fresh = await moderator(b.url, event, "Fresh")
    resumed = _floor_state([next(f for f in away.frames if f["type"] == "snapshot"), *away.frames[1:], *replayed])
    assert resumed == _floor_state(fresh.frames)
    assert resumed == ({first: "done", second: "done", late: "declined"}, [], "", "floor")
