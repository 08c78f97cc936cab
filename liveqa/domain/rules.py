"""Moderation transitions and participant rules. The Lua scripts enforce the same table: the store passes it in."""

from __future__ import annotations

import enum
import re

from liveqa.domain.errors import AnonymousNotAllowed, BadTransition, InvalidAuthor
from liveqa.domain.model import Status


class Action(enum.StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    ARCHIVE = "archive"
    RESTORE = "restore"
    ANSWER = "answer"
    REOPEN = "reopen"  # answered → back in the queue
    WITHDRAW = "withdraw"  # by the asker


_S = Status
TRANSITIONS: dict[Action, dict[Status, Status]] = {
    Action.APPROVE: {_S.PENDING: _S.APPROVED, _S.REJECTED: _S.APPROVED, _S.ARCHIVED: _S.APPROVED},
    Action.REJECT: {_S.PENDING: _S.REJECTED, _S.APPROVED: _S.REJECTED},
    Action.ARCHIVE: {
        _S.PENDING: _S.ARCHIVED,
        _S.APPROVED: _S.ARCHIVED,
        _S.ANSWERED: _S.ARCHIVED,
        _S.REJECTED: _S.ARCHIVED,
    },
    Action.RESTORE: {_S.ARCHIVED: _S.PENDING, _S.REJECTED: _S.PENDING, _S.APPROVED: _S.PENDING},  # back to incoming
    Action.ANSWER: {_S.APPROVED: _S.ANSWERED, _S.PENDING: _S.ANSWERED},
    Action.REOPEN: {_S.ANSWERED: _S.APPROVED},
    Action.WITHDRAW: {_S.PENDING: _S.WITHDRAWN},
}

# Statuses in which the text may still change: the asker edits only while pending.
ASKER_EDITABLE = frozenset({Status.PENDING})
MODERATOR_EDITABLE = frozenset(Status) - {Status.WITHDRAWN}
VOTABLE = frozenset({Status.APPROVED})
SHOWABLE = frozenset({Status.APPROVED, Status.ANSWERED})


def transition(status: Status, action: Action) -> Status:
    """The status a question moves to, or BadTransition."""
    try:
        return TRANSITIONS[action][status]
    except KeyError:
        raise BadTransition(f"cannot {action} a {status} question") from None


def transition_table(action: Action) -> list[str]:
    """The table for one action as flat from/to pairs, the shape the Lua scripts take in ARGV."""
    return [str(s) for pair in TRANSITIONS[action].items() for s in pair]


COUNTRY = re.compile(r"[A-Z]{2}")
NAME_MAX = 80
ORGANISATION_MAX = 160
REASON_MAX = 300
TAG = re.compile(r"[^\s,]{1,32}")
TAGS_MAX = 8


def check_author(name: str, organisation: str, country: str, *, anonymous_allowed: bool) -> tuple[str, str, str]:
    """Trim and check who is asking: name, organisation and country together, or nothing when allowed."""
    name, organisation, country = " ".join(name.split()), " ".join(organisation.split()), country.strip().upper()
    if not (name or organisation or country):
        if not anonymous_allowed:
            raise AnonymousNotAllowed("this event asks for your name, organisation and country")
        return "", "", ""
    if not name or not organisation or not country:
        raise InvalidAuthor("give name, organisation and country together")
    if len(name) > NAME_MAX or len(organisation) > ORGANISATION_MAX:
        raise InvalidAuthor("name or organisation too long")
    if not COUNTRY.fullmatch(country):
        raise InvalidAuthor("country must be a two-letter ISO 3166 code")
    return name, organisation, country


def check_tags(tags: list[str]) -> list[str]:
    """Distinct tags in the order given; each one short and without spaces or commas."""
    seen: list[str] = []
    for tag in tags:
        tag = tag.strip()
        if not TAG.fullmatch(tag):
            raise BadTransition("a tag is 1 to 32 characters with no spaces or commas")
        if tag not in seen:
            seen.append(tag)
    if len(seen) > TAGS_MAX:
        raise BadTransition(f"at most {TAGS_MAX} tags")
    return seen


SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
TITLE_MAX = 200


def check_slug(slug: str) -> str:
    """An event's short name, used in its links and Redis keys: lowercase letters, digits and dashes."""
    if not SLUG.fullmatch(slug):
        raise ValueError("an event slug is 1-40 lowercase letters, digits or dashes, starting with a letter or digit")
    return slug


_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufeff]")


def check_title(title: str) -> str:
    """An event's title: controls and bidi overrides removed, spaces collapsed, 1 to TITLE_MAX characters."""
    title = " ".join(_CONTROLS.sub(" ", title).split())
    if not title or len(title) > TITLE_MAX:
        raise ValueError(f"a title has 1 to {TITLE_MAX} characters")
    return title
