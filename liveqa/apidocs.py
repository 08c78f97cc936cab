"""The API documents, generated from the msgspec types: OpenAPI 3.1 for the operators' HTTP API and AsyncAPI 3
for the WebSocket protocol. Served at /openapi.json and /asyncapi.json; committed under docs/ and checked by a
test to be current."""

from __future__ import annotations

from typing import Any

import msgspec

from liveqa import __version__, protocol as p
from liveqa.web import admin

REF = "#/components/schemas/{name}"
SLUG = "^[a-z0-9][a-z0-9-]{0,39}$"
CHANNEL = "^[a-z0-9][a-z0-9_-]{0,31}$"


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": REF.format(name="Problem")}}},
    }


def openapi() -> dict[str, Any]:
    everything = [*admin.OPERATIONS, admin.INTAKE]
    types: list[Any] = [admin.Problem]
    for op in everything:
        types += [t for t in (op.body, op.response) if t is not None]
    unique = list(dict.fromkeys(types))
    schemas, components = msgspec.json.schema_components(unique, ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for op in everything:
        intake = op is admin.INTAKE
        operation: dict[str, Any] = {
            "operationId": op.endpoint.__name__,
            "summary": (op.endpoint.__doc__ or "").strip(),
            "security": [{"channelToken": []}] if intake else [{"operatorToken": []}],
            "responses": {
                "401": _problem("No valid channel token" if intake else "No valid operator API token"),
                "503": _problem("Redis is unavailable"),
            },
        }
        parameters = []
        if "{slug}" in op.path:
            parameters.append(
                {"name": "slug", "in": "path", "required": True, "schema": {"type": "string", "pattern": SLUG}}
            )
            operation["responses"]["404"] = _problem("No such event (or channel)")
        if "{name}" in op.path:
            pattern = CHANNEL if "/channels/" in op.path else "^[^/]{1,40}$"
            parameters.append(
                {"name": "name", "in": "path", "required": True, "schema": {"type": "string", "pattern": pattern}}
            )
        if "{hook}" in op.path:
            parameters.append(
                {
                    "name": "hook",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "pattern": "^[0-9a-f]{12}$"},
                }
            )
        if "{pid}" in op.path:
            parameters.append(
                {
                    "name": "pid",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "pattern": "^[0-9a-f]{6,32}$"},
                }
            )
        if parameters:
            operation["parameters"] = parameters
        if intake:
            operation["responses"]["200"] = {
                "description": "Already taken in (the same id was posted before)",
                "content": {"application/json": {"schema": {"$ref": REF.format(name="IntakeResult")}}},
            }
            operation["responses"]["429"] = _problem("Too many questions from this channel")
        if op.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": REF.format(name=op.body.__name__)}}},
            }
            operation["responses"]["400"] = _problem("Malformed JSON")
            operation["responses"]["422"] = _problem("A field is missing, unknown or out of bounds")
        if op.endpoint is admin.create_event:
            operation["responses"]["409"] = _problem("The event exists")
        if op.response is None:
            operation["responses"][str(op.ok)] = {"description": "Done"}
        else:
            operation["responses"][str(op.ok)] = {
                "description": "OK",
                "content": {"application/json": {"schema": {"$ref": REF.format(name=op.response.__name__)}}},
            }
        paths.setdefault(op.path, {})[op.method.lower()] = operation
    del schemas
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "LiveQA operators' API",
            "version": __version__,
            "description": "Create and manage events. Authenticate with `Authorization: Bearer <token>`; "
            "tokens come from `liveqa operator create NAME`.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "operatorToken": {"type": "http", "scheme": "bearer", "description": "liveqa operator create NAME"},
                "channelToken": {"type": "http", "scheme": "bearer", "description": "POST …/channels, per event"},
            },
        },
    }


ROLES: dict[str, tuple[Any, Any, str]] = {
    "participant": (
        p.ParticipantMessage,
        p.ParticipantFrame,
        "A remote participant: asks, votes, follows own questions.",
    ),
    "moderator": (p.ModeratorMessage, p.ModeratorFrame, "A moderator console (session cookie from the login form)."),
    "screen": (p.ScreenMessage, p.ScreenFrame, "The projector page or broadcast overlay (screen token in hello)."),
}


def asyncapi() -> dict[str, Any]:
    unions: list[Any] = []
    for inbound, outbound, _ in ROLES.values():
        unions += [inbound, outbound]
    _, components = msgspec.json.schema_components(unions, ref_template=REF)
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for role, (inbound, outbound, description) in ROLES.items():
        sends = [m.__struct_config__.tag for m in inbound.__args__]
        gets = [m.__struct_config__.tag for m in outbound.__args__]
        role_messages: dict[str, Any] = {}
        for direction, members in (("in", inbound.__args__), ("out", outbound.__args__)):
            for member in members:
                name = f"{role}_{direction}_{member.__struct_config__.tag}"
                messages[name] = {
                    "name": member.__struct_config__.tag,
                    "contentType": "application/json",
                    "payload": {"$ref": REF.format(name=member.__name__)},
                }
                role_messages[name] = {"$ref": f"#/components/messages/{name}"}
        channels[role] = {
            "address": f"/ws/e/{{event}}/{role}",
            "description": description,
            "parameters": {"event": {"description": "The event's slug"}},
            "messages": role_messages,
            "bindings": {"ws": {"bindingVersion": "0.1.0"}},
        }
        operations[f"{role}Sends"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{role}"},
            "summary": f"What a {role} client sends: {', '.join(sends)}",
            "messages": [
                {"$ref": f"#/channels/{role}/messages/{role}_in_{m.__struct_config__.tag}"} for m in inbound.__args__
            ],
        }
        operations[f"{role}Receives"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{role}"},
            "summary": f"What the server sends a {role}: {', '.join(gets)}",
            "messages": [
                {"$ref": f"#/channels/{role}/messages/{role}_out_{m.__struct_config__.tag}"} for m in outbound.__args__
            ],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "LiveQA WebSocket protocol",
            "version": __version__,
            "description": f"JSON text frames, subprotocol {p.SUBPROTOCOL}; see docs/protocol.md.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"schemas": components, "messages": messages},
    }
