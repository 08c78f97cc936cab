"""The operators' HTTP API: tokens, every operation, problems, and its OpenAPI/AsyncAPI documents."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from liveqa import apidocs
from liveqa.store import RedisStore
from tests.conftest import MODERATOR_PASSWORD
from tests.helpers import Client, login

DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.mark.parametrize(("name", "generate"), [("openapi.json", apidocs.openapi), ("asyncapi.json", apidocs.asyncapi)])
def test_committed_documents_are_current(name: str, generate: Any) -> None:
    """docs/openapi.json and docs/asyncapi.json are what `liveqa schema openapi|asyncapi` prints."""
    assert json.loads((DOCS / name).read_text()) == json.loads(json.dumps(generate()))


def test_openapi_document_is_valid() -> None:
    validate(apidocs.openapi())


def test_asyncapi_document_covers_every_message() -> None:
    document = apidocs.asyncapi()
    assert document["asyncapi"] == "3.0.0"
    assert set(document["channels"]) == {"participant", "moderator", "screen"}
    tags = {m["name"] for m in document["components"]["messages"].values()}
    assert {"submit", "approve", "hello", "snapshot", "update", "ack", "error", "presence"} <= tags
    for message in document["components"]["messages"].values():
        assert message["payload"]["$ref"].split("/")[-1] in document["components"]["schemas"]


@pytest.fixture
async def api(server: str, store: RedisStore) -> httpx.AsyncClient:
    token = await store.create_operator_token("ops-team")
    return httpx.AsyncClient(base_url=server, headers={"authorization": f"Bearer {token}"})


async def test_documents_are_served(server: str) -> None:
    async with httpx.AsyncClient(base_url=server) as http:
        assert (await http.get("/openapi.json")).json()["openapi"] == "3.1.0"
        assert (await http.get("/asyncapi.json")).json()["asyncapi"] == "3.0.0"


async def test_operations_need_a_token(server: str, store: RedisStore) -> None:
    async with httpx.AsyncClient(base_url=server) as http:
        for headers in ({}, {"authorization": "Bearer nope"}, {"authorization": "Basic abc"}):
            response = await http.get("/api/v1/events", headers=headers)
            assert response.status_code == 401
            assert response.headers["content-type"] == "application/problem+json"
            assert response.headers["www-authenticate"] == "Bearer"
    token = await store.create_operator_token("temp")
    assert await store.revoke_operator("temp") == 1
    async with httpx.AsyncClient(base_url=server, headers={"authorization": f"Bearer {token}"}) as http:
        assert (await http.get("/api/v1/events")).status_code == 401


async def test_an_event_through_the_api(api: httpx.AsyncClient, server: str, store: RedisStore) -> None:
    """Create, read, change, passcode, password, screen token, end, audit, erase, delete."""
    slug = f"api-{secrets.token_hex(4)}"
    async with api:
        created = await api.post(
            "/api/v1/events", json={"slug": slug, "title": "Via the API", "password": MODERATOR_PASSWORD}
        )
        assert created.status_code == 201, created.text
        event = created.json()
        assert event["links"]["moderator"].endswith(f"/e/{slug}/moderate") and not event["passcode_required"]
        assert (
            await api.post("/api/v1/events", json={"slug": slug, "title": "Again", "password": MODERATOR_PASSWORD})
        ).status_code == 409
        assert slug in [e["slug"] for e in (await api.get("/api/v1/events")).json()["events"]]

        changed = await api.patch(
            f"/api/v1/events/{slug}", json={"title": "Renamed", "moderation": "post", "open": False}
        )
        assert changed.status_code == 200 and changed.json()["title"] == "Renamed" and not changed.json()["open"]
        participant = await Client.open(server, slug)
        assert (await participant.submit("Closed?"))["code"] == "questions_closed"
        await api.patch(f"/api/v1/events/{slug}", json={"open": True})
        assert (await participant.submit("Open now, and published at once"))["type"] == "ack"

        assert (await api.put(f"/api/v1/events/{slug}/passcode", json={"passcode": "room 12"})).json()[
            "passcode_required"
        ]
        assert (
            await api.put(f"/api/v1/events/{slug}/password", json={"password": "a new long password"})
        ).status_code == 204
        assert await login(server, slug, "a new long password")
        old_screen = event["links"]["screen"]
        assert (await api.post(f"/api/v1/events/{slug}/screen-token")).json()["links"]["screen"] != old_screen

        assert (await api.post(f"/api/v1/events/{slug}/end")).json()["ended"] is True
        actions = [e["action"] for e in (await api.get(f"/api/v1/events/{slug}/audit")).json()["entries"]]
        assert actions[:3] == ["create_event", "update_event", "update_event"] and "end_event" in actions
        assert (await api.post(f"/api/v1/events/{slug}/erase")).json()["keys_removed"] > 0
        assert (await api.delete(f"/api/v1/events/{slug}")).status_code == 204
        assert (await api.get(f"/api/v1/events/{slug}")).status_code == 404


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b'{"slug": "BAD SLUG", "title": "t", "password": "long enough"}', 422),
        (b'{"slug": "ok", "title": "t", "password": "short"}', 422),
        (b'{"slug": "ok", "title": "t", "password": "long enough", "admin": true}', 422),
        (b'{"slug": "ok", "title": "t", "password": "long enough", "retention_days": 0}', 422),
    ],
)
async def test_bad_requests_get_problems(api: httpx.AsyncClient, body: bytes, status: int) -> None:
    async with api:
        response = await api.post("/api/v1/events", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status
    problem = response.json()
    assert problem["status"] == status and problem["title"]


async def test_personal_moderator_logins(api: httpx.AsyncClient, server: str, event: Any) -> None:
    """Operators create, rotate and revoke personal logins; a name with one can't be used with the shared password."""
    base = f"/api/v1/events/{event.slug}/moderators"
    async with api:
        made = (await api.put(f"{base}/Fatou", json={})).json()
        assert made["name"] == "Fatou" and len(made["password"]) >= 12
        assert (await api.get(base)).json() == {"moderators": ["Fatou"]}
        sid = await login(server, event.slug, made["password"], name="Fatou")
        async with httpx.AsyncClient(base_url=server, headers={"origin": server}) as http:
            shared = await http.post(f"/e/{event.slug}/login", data={"name": "fatou", "password": event.password})
            assert shared.headers["location"].endswith("failed=1")
        console = await Client.open(server, event.slug, "moderator", sid=sid)
        await console.expect("snapshot")
        rotated = (await api.put(f"{base}/Fatou", json={"password": "a brand new password"})).json()
        assert rotated["password"] == "a brand new password"
        await console.send("approve", qid="1")
        assert await console.close_code() == 4001  # the old session ended with the rotation
        assert await login(server, event.slug, "a brand new password", name="Fatou")
        assert (await api.delete(f"{base}/Fatou")).status_code == 204
        assert (await api.delete(f"{base}/Fatou")).status_code == 404
        assert (await api.put(f"{base}/{'x' * 41}", json={})).status_code == 422
