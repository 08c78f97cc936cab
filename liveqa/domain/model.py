"""The records LiveQA keeps: events and questions, as stored in Redis hashes (all values are strings there)."""

from __future__ import annotations

import enum
import json
from typing import Annotated

import msgspec


class Status(enum.StrEnum):
    PENDING = "pending"  # waiting for a moderator
    APPROVED = "approved"  # in the moderators' queue, visible to everyone
    ANSWERED = "answered"  # asked in the room; kept visible as answered
    REJECTED = "rejected"  # refused, with a reason the asker sees
    ARCHIVED = "archived"  # put aside by a moderator, restorable
    WITHDRAWN = "withdrawn"  # taken back by its asker while pending


PUBLIC_STATUSES = frozenset({Status.APPROVED, Status.ANSWERED})


class Question(msgspec.Struct, kw_only=True):
    """One question with everything the store knows about it. Views decide who sees which part."""

    id: str
    pid: str  # the asker's participant id
    cid: str = ""  # the id the asker's client gave the submission
    text: str
    original: str = ""  # the asker's own text, when a moderator has edited it
    name: str = ""
    organisation: str = ""
    country: str = ""  # ISO 3166-1 alpha-2
    show_name: bool = False
    show_organisation: bool = False
    show_country: bool = False
    status: Status = Status.PENDING
    reason: str = ""  # why it was rejected; the asker sees it, nobody else but moderators
    votes: int = 0
    pinned: bool = False
    tags: list[str] = msgspec.field(default_factory=list)
    created: int = 0  # ms since the epoch, Redis clock
    updated: int = 0
    answered: int = 0
    rev: int = 0  # bumped by every change; edits may name the rev they were made against
    by: str = ""  # the moderator who made the last moderation change
    held: str = ""  # the word-list entry that held it for review, if any
    source: str = "web"  # the channel it came through: web, or an intake channel's name
    answer: str = ""  # a written answer, during or after the event
    answer_by: str = ""
    answer_at: int = 0
    display: str = ""  # the text in another language, for the room (the screen shows both)
    display_lang: str = ""
    listed: str = ""  # the asker's organisation is in the directory: its accreditation (general…) or "listed"
    lang: str = ""  # the language it seems to be written in (ar, en, es, fr, ru, zh…; "" when unknown)
    group: str = ""  # merged: the id of the question it supports (the group's head); "" for a head or alone
    similar: str = ""  # a possible duplicate the grouping found, for moderators to merge or not
    similarity: float = 0.0  # how alike the two are, 0..1

    @property
    def public(self) -> bool:
        """Listed for participants: approved or answered, and not merged into another question."""
        return self.status in PUBLIC_STATUSES and not self.group

    @classmethod
    def from_flat(cls, flat: list[str] | dict[str, str]) -> Question:
        """Build from a Redis hash, given as HGETALL's flat [k, v, k, v…] list or a dict."""
        fields = flat if isinstance(flat, dict) else dict(zip(flat[::2], flat[1::2], strict=True))
        return cls(
            id=fields["id"],
            pid=fields.get("pid", ""),
            cid=fields.get("cid", ""),
            text=fields.get("text", ""),
            original=fields.get("original", ""),
            name=fields.get("name", ""),
            organisation=fields.get("organisation", ""),
            country=fields.get("country", ""),
            show_name=fields.get("show_name") == "1",
            show_organisation=fields.get("show_organisation") == "1",
            show_country=fields.get("show_country") == "1",
            status=Status(fields.get("status", "pending")),
            reason=fields.get("reason", ""),
            votes=int(fields.get("votes", "0")),
            pinned=fields.get("pinned") == "1",
            tags=json.loads(fields["tags"]) if fields.get("tags") else [],
            created=int(fields.get("created", "0")),
            updated=int(fields.get("updated", "0")),
            answered=int(fields.get("answered", "0")),
            rev=int(fields.get("rev", "0")),
            by=fields.get("by", ""),
            held=fields.get("held", ""),
            source=fields.get("source", "web"),
            answer=fields.get("answer", ""),
            answer_by=fields.get("answer_by", ""),
            answer_at=int(fields.get("answer_at", "0") or 0),
            display=fields.get("display", ""),
            display_lang=fields.get("display_lang", ""),
            lang=fields.get("lang", ""),
            listed=fields.get("listed", ""),
            group=fields.get("group", ""),
            similar=fields.get("similar", ""),
            similarity=float(fields.get("similarity", "0") or 0),
        )


class Announcement(msgspec.Struct, kw_only=True, frozen=True):
    """A short message from the moderators to every participant."""

    text: str
    by: str = ""
    at: int = 0


Weight = Annotated[float, msgspec.Meta(ge=0, le=100)]


class Ranking(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """The weights of the score that orders incoming questions for moderators (docs/ranking.md):

        score = votes · ln(1 + supporters) + minutes since the first question / age_minutes
                − organisation · (questions of the asker's organisation already approved or answered)
                − country · (… of the asker's country)
                + first_time · (the asker has none approved or answered yet)
                + region · (how far the asker's M49 region is below its share of the questions received)

    It only proposes: moderators order the queue, and a newly approved question is placed by it."""

    votes: Weight = 1.0
    age_minutes: Annotated[float, msgspec.Meta(ge=1, le=10_000)] = 30.0
    organisation: Weight = 0.5
    country: Weight = 0.25
    first_time: Weight = 0.5
    region: Weight = 0.5


class Moderation(enum.StrEnum):
    PRE = "pre"  # every question waits for a moderator
    POST = "post"  # questions are public at once, unless the word lists hold them for review


class EventInfo(msgspec.Struct, kw_only=True, frozen=True):
    """An event's settings (from its meta hash). Pages see the part protocol.EventView copies."""

    slug: str
    title: str
    anonymous_allowed: bool = False
    open: bool = True  # accepting questions
    max_length: int = 500  # grapheme clusters per question
    moderation: Moderation = Moderation.PRE
    passcode_required: bool = False
    blocked_words: tuple[str, ...] = ()  # the event's own additions to the word lists (never sent to pages)
    retention_days: int = 30  # personal data is erased this long after the event ends
    ended: int = 0  # ms since the epoch when the event was ended; 0 while it runs
    opens_at: int = 0  # ms since the epoch: questions are taken from then (0: no limit)
    closes_at: int = 0  # … and until then (0: no limit)
    ranking: Ranking = Ranking()
    floor_seconds: int = 180  # each speaker's time on the floor (the console and the screen count it down)
    require_listed: bool = False  # questions from organisations not in the directory wait for a moderator

    @classmethod
    def from_flat(cls, fields: dict[str, str]) -> EventInfo:
        return cls(
            slug=fields["slug"],
            title=fields.get("title", fields["slug"]),
            anonymous_allowed=fields.get("anonymous_allowed") == "1",
            open=fields.get("open", "1") == "1",
            max_length=int(fields.get("max_length", "500")),
            moderation=Moderation(fields.get("moderation", "pre")),
            passcode_required=fields.get("passcode_required") == "1",
            blocked_words=tuple(json.loads(fields["blocked_words"])) if fields.get("blocked_words") else (),
            retention_days=int(fields.get("retention_days", "30")),
            ended=int(fields.get("ended", "0")),
            opens_at=int(fields.get("opens_at", "0") or 0),
            closes_at=int(fields.get("closes_at", "0") or 0),
            ranking=msgspec.json.decode(fields["ranking"], type=Ranking) if fields.get("ranking") else Ranking(),
            floor_seconds=int(fields.get("floor_seconds", "180") or 180),
            require_listed=fields.get("require_listed") == "1",
        )
