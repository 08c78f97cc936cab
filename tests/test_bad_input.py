"""Bad input gets a clear error or a documented close code; the server never crashes and others never notice."""

from __future__ import annotations

import json

import httpx
import msgspec
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from liveqa.settings import Settings
from liveqa.store import RedisStore
from tests.conftest import serve
from tests.helpers import Client, EventFixture, cid, login, ws_url


async def _still_serving(server: str, event: EventFixture) -> None:
    """A bystander connects, submits and is acknowledged: nothing of the abuse reached it."""
    bystander = await Client.open(server, event.slug)
    await bystander.expect("snapshot")
    assert (await bystander.submit("Still there?"))["type"] == "ack"


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", "malformed_json"),
        ("[]", "invalid_message"),
        ('{"type": "launch_missiles"}', "invalid_message"),
        ('{"type": "submit", "cid": "abcdefgh12", "text": "hi", "extra": 1}', "invalid_message"),
        ('{"type": "submit", "cid": "short", "text": "hi"}', "invalid_message"),
        ('{"type": "submit", "cid": "abcdefgh12", "text": ""}', "invalid_message"),
        ('{"type": "upvote", "qid": "../../etc"}', "invalid_message"),
        ('{"type": "upvote", "qid": 12}', "invalid_message"),
        ('{"type": "approve", "qid": "1"}', "invalid_message"),
        ('{"type": "show", "qid": "1"}', "invalid_message"),
        ('{"type": "hello"}', "unexpected_hello"),
        ('"just a string"', "invalid_message"),
        ('{"type": "submit", "cid": "abcdefgh12", "text": "' + "x" * 3990 + '"}', "invalid_text"),
        ('{"type": "submit", "cid": "abcdefgh12", "text": "\\u202e\\u0000 \\n\\n"}', "invalid_text"),
        ('{"type": "upvote", "qid": "987654"}', "unknown_question"),
    ],
)
async def test_each_bad_frame_gets_a_stable_error(server: str, event: EventFixture, frame: str, code: str) -> None:
    """Malformed JSON, unknown types or fields, bad ids, wrong-role actions, bad text: an error frame."""
    client = await Client.open(server, event.slug)
    await client.expect("snapshot")
    await client.ws.send(frame)
    error = await client.expect("error")
    assert error["code"] == code
    assert "launch" not in error.get("detail", "") and "etc" not in error.get("detail", "")
    await client.send("ping")
    assert await client.expect("pong")
    await _still_serving(server, event)


async def test_repeated_invalid_messages_close_with_1008(server: str, event: EventFixture) -> None:
    """Five invalid messages within a minute close the socket with 1008 (policy)."""
    client = await Client.open(server, event.slug)
    for _ in range(5):
        await client.ws.send("nope")
    assert await client.close_code() == 1008
    await _still_serving(server, event)


async def test_binary_frames_close_with_1003(server: str, event: EventFixture) -> None:
    client = await Client.open(server, event.slug)
    await client.ws.send(b"\x00\x01binary")
    assert await client.close_code() == 1003
    await _still_serving(server, event)


async def test_oversize_frames_close_with_1009(server: str, event: EventFixture) -> None:
    """Frames over the size limit (16 KiB by default) are refused by the WebSocket layer with 1009."""
    client = await Client.open(server, event.slug)
    await client.ws.send(json.dumps({"type": "submit", "cid": cid(), "text": "x" * 20000}))
    assert await client.close_code() == 1009
    await _still_serving(server, event)


async def test_first_frame_must_be_hello(server: str, event: EventFixture) -> None:
    client = await Client.open(server, event.slug, hello=False)
    await client.send("submit", cid=cid(), text="no hello")
    assert (await client.expect("error"))["code"] == "hello_expected"
    assert await client.close_code() == 1008


async def test_unknown_event_closes_with_4004(server: str) -> None:
    client = await Client.open(server, "no-such-event", hello=False)
    assert await client.close_code() == 4004


async def test_moderator_socket_needs_a_session(server: str, event: EventFixture) -> None:
    """No cookie, a forged cookie, or a cookie for another event: closed with 4001 before any state is sent."""
    for sid in ("", "forged-session-id"):
        client = await Client.open(server, event.slug, "moderator", sid=sid, hello=False)
        assert await client.close_code() == 4001
        assert client.frames == []


async def test_logout_ends_moderator_sockets(server: str, event: EventFixture, store: RedisStore) -> None:
    """Logging out closes that session's consoles at once (4001); a session ended elsewhere closes a console on
    its next action."""
    sid = await login(server, event.slug, event.password)
    mod = await Client.open(server, event.slug, "moderator", sid=sid)
    async with httpx.AsyncClient(base_url=server, cookies={"liveqa_session": sid}, headers={"origin": server}) as http:
        assert (await http.post(f"/e/{event.slug}/logout")).status_code == 303
    assert await mod.close_code() == 4001
    other_sid = await login(server, event.slug, event.password)
    other = await Client.open(server, event.slug, "moderator", sid=other_sid)
    await store.end_session(event.slug, other_sid)  # as another server process would
    await other.send("approve", qid="1")
    assert await other.close_code() == 4001


async def test_wrong_password_is_refused(server: str, event: EventFixture) -> None:
    async with httpx.AsyncClient(base_url=server, headers={"origin": server}) as http:
        response = await http.post(f"/e/{event.slug}/login", data={"name": "Eve", "password": "guess"})
    assert response.status_code == 303 and "failed=1" in response.headers["location"]
    assert "liveqa_session" not in response.cookies


async def test_screen_socket_needs_the_token(server: str, event: EventFixture) -> None:
    for token in ("", "wrong-token"):
        client = await Client.open(server, event.slug, "screen", hello=False)
        await client.send("hello", token=token)
        assert await client.close_code() == 1008
        assert not any(f["type"] == "snapshot" for f in client.frames)


@pytest.mark.parametrize(
    "origin", ["http://evil.example", "null", "http://127.0.0.1.evil.example", "https://127.0.0.1"]
)
async def test_foreign_origins_are_refused_at_the_handshake(server: str, event: EventFixture, origin: str) -> None:
    """Cross-site WebSocket hijacking: a handshake from another origin gets HTTP 403, for every role."""
    for role in ("participant", "moderator", "screen"):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(ws_url(server, event.slug, role), origin=origin):  # type: ignore[arg-type]
                pass
        assert refused.value.response.status_code == 403


async def test_same_origin_and_configured_origins_are_allowed(settings: Settings, event: EventFixture) -> None:
    """The page's own origin is allowed, and so is one listed in LIVEQA_ALLOWED_ORIGINS, exactly."""
    configured = msgspec.structs.replace(settings, allowed_origins=["https://qa.example.org"])
    async for server in serve(configured):
        for origin in (server, "https://qa.example.org"):
            client = await Client.open(server, event.slug, origin=origin)
            assert (await client.expect("snapshot"))["type"] == "snapshot"
        with pytest.raises(InvalidStatus):
            await Client.open(server, event.slug, origin="https://qa.example.org.evil")


async def test_cross_site_login_is_refused(server: str, event: EventFixture) -> None:
    async with httpx.AsyncClient(base_url=server) as http:
        response = await http.post(
            f"/e/{event.slug}/login",
            data={"name": "Eve", "password": event.password},
            headers={"origin": "http://evil.example"},
        )
    assert response.status_code == 403


async def test_a_closed_socket_mid_send_does_not_disturb_others(server: str, event: EventFixture) -> None:
    """A client that vanishes without a close handshake leaves the server and other clients unaffected."""
    client = await Client.open(server, event.slug)
    await client.expect("snapshot")
    client.ws.transport.abort()
    with pytest.raises(ConnectionClosed):
        await client.ws.recv()
    await _still_serving(server, event)


async def test_unknown_protocol_version_closes_with_4400(server: str, event: EventFixture) -> None:
    client = await Client.open(server, event.slug, hello=False)
    await client.send("hello", v=2)
    assert (await client.expect("error"))["code"] == "unsupported_version"
    assert await client.close_code() == 4400


async def test_foreign_subprotocols_are_refused(server: str, event: EventFixture) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(ws_url(server, event.slug, "participant"), subprotocols=["liveqa.v9"]):  # type: ignore[list-item]
            pass
    assert refused.value.response.status_code == 403


async def test_posts_that_say_nothing_of_their_origin_are_refused(server: str, event: EventFixture) -> None:
    """Without Origin or Referer a state-changing request can't be told apart from a forged one."""
    async with httpx.AsyncClient(base_url=server) as http:
        response = await http.post(f"/e/{event.slug}/login", data={"name": "Mod", "password": event.password})
    assert response.status_code == 403


async def test_errors_say_what_they_are_about(server: str, event: EventFixture) -> None:
    """An error names the question (qid) or the submission (cid, even when the frame itself was refused)."""
    client = await Client.open(server, event.slug)
    await client.send("upvote", qid="777")
    assert (await client.expect("error"))["qid"] == "777"
    await client.send("submit", cid="abcdefgh-42", text="x", country="not a country")
    refused = await client.expect("error")
    assert refused["code"] == "invalid_message" and refused["cid"] == "abcdefgh-42"


async def test_pages_and_qr_code_headers(server: str, event: EventFixture) -> None:
    async with httpx.AsyncClient(base_url=server) as http:
        page = await http.get(f"/e/{event.slug}")
        qr = await http.get(f"/e/{event.slug}/qr.svg")
    assert page.headers["referrer-policy"] == "same-origin"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert qr.headers["content-type"].startswith("image/svg+xml")
    assert b'xmlns="http://www.w3.org/2000/svg"' in qr.content
