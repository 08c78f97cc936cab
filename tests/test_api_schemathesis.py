"""Schemathesis drives every operation of the OpenAPI document against a live server: no server error, and every
response conforms to the document (status codes, content types, bodies).

Schema-valid requests may still break a rule JSON Schema can't state (questions must close after they open; a
name of only spaces), and get a documented 422 problem: so the check that every schema-valid request succeeds
is left out, and every other check runs."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings as hypothesis_settings
from schemathesis import checks

from liveqa import apidocs
from liveqa.store import RedisStore
from liveqa.store.redis import connect
from liveqa.web import admin

EXAMPLES = int(os.environ.get("LIVEQA_API_EXAMPLES", "25"))


def test_every_operation_conforms_to_the_document(threaded_server: str, redis_url: str) -> None:
    async def prepare() -> tuple[str, set[str]]:
        client = connect(redis_url)
        try:
            store = RedisStore(client)
            return await store.create_operator_token("schemathesis"), set(await store.event_slugs())
        finally:
            await client.aclose()

    token, existing = asyncio.run(prepare())
    schema = schemathesis.openapi.from_dict(apidocs.openapi())
    headers = {"Authorization": f"Bearer {token}"}
    checked = 0
    try:
        for result in schema.get_all_operations():
            operation: Any = result.ok()  # type: ignore[union-attr]  # an invalid document fails right here

            @hypothesis_settings(
                max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None
            )
            @given(case=operation.as_strategy())
            def run(case: Any) -> None:
                case.call_and_validate(
                    base_url=threaded_server, headers=headers, excluded_checks=[checks.positive_data_acceptance]
                )

            run()
            checked += 1
    finally:

        async def clean() -> None:
            client = connect(redis_url)
            try:
                store = RedisStore(client)
                for slug in set(await store.event_slugs()) - existing:
                    await store.delete_event(slug)
                await store.revoke_operator("schemathesis")
            finally:
                await client.aclose()

        asyncio.run(clean())
    assert checked == len(admin.OPERATIONS) + 1  # and the intake endpoint
