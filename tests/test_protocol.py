"""Wire messages: each role's union, strict decoding, and the committed JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from liveqa import protocol as p

SCHEMA = Path(__file__).resolve().parent.parent / "docs" / "protocol.schema.json"


def test_committed_schema_is_current() -> None:
    """docs/protocol.schema.json is what `liveqa schema` prints: regenerate it when a message changes."""
    assert json.loads(SCHEMA.read_text()) == json.loads(json.dumps(p.json_schema(), sort_keys=True))


def test_a_participant_cannot_encode_a_moderator_action() -> None:
    with pytest.raises(msgspec.ValidationError):
        p.decode_participant('{"type": "approve", "qid": "1"}')
    with pytest.raises(msgspec.ValidationError):
        p.decode_screen('{"type": "submit", "cid": "abcdefgh", "text": "x"}')
    assert isinstance(p.decode_moderator('{"type": "approve", "qid": "1"}'), p.Approve)


def test_unknown_fields_are_errors() -> None:
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        p.decode_participant('{"type": "upvote", "qid": "1", "weight": 100}')


def test_same_tag_means_different_things_per_role() -> None:
    """`edit` is the asker's own edit for participants and a moderator edit (with rev) for moderators."""
    assert isinstance(p.decode_participant('{"type": "edit", "qid": "1", "text": "x"}'), p.Edit)
    assert isinstance(p.decode_moderator('{"type": "edit", "qid": "1", "text": "x", "rev": 3}'), p.ModeratorEdit)


def test_outbound_frames_omit_defaults() -> None:
    assert json.loads(p.encode(p.Error(code="rate_limited", retry_after_ms=500))) == {
        "type": "error",
        "code": "rate_limited",
        "retry_after_ms": 500,
    }
