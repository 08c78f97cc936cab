"""What operators do to events (the CLI calls these; so will the admin API): one way to do each thing."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass

import msgspec

from liveqa import auth
from liveqa.domain import rules
from liveqa.domain.model import Moderation, Ranking
from liveqa.settings import Settings
from liveqa.store import RedisStore

OPERATOR = "operator"  # who the audit log names for command-line and API actions


@dataclass(frozen=True)
class Links:
    participant: str
    moderator: str
    screen: str
    overlay: str

    def lines(self) -> list[str]:
        return [
            f"participants: {self.participant}",
            f"moderators:   {self.moderator}",
            f"screen:       {self.screen}",
            f"overlay:      {self.overlay}",
        ]


def links(settings: Settings, slug: str, screen_token: str) -> Links:
    base = f"{settings.base_url()}/e/{slug}"
    return Links(
        participant=base,
        moderator=f"{base}/moderate",
        screen=f"{base}/screen?token={screen_token}",
        overlay=f"{base}/screen?token={screen_token}&mode=overlay",
    )


async def create_event(
    store: RedisStore,
    slug: str,
    title: str,
    *,
    password: str,
    anonymous_allowed: bool = False,
    max_length: int = 500,
    moderation: Moderation = Moderation.PRE,
    passcode: str = "",
    retention_days: int = 30,
) -> str:
    """Create an event; returns its screen token. ValueError for a bad slug, title, password or setting."""
    rules.check_slug(slug)
    title = rules.check_title(title)
    if not 20 <= max_length <= 2000:
        raise ValueError("the maximum question length is between 20 and 2000 characters")
    if not 1 <= retention_days <= 3650:
        raise ValueError("retention is between 1 and 3650 days")
    passcode = passcode.strip()
    if passcode and not 3 <= len(passcode) <= 64:
        raise ValueError("a passcode has 3 to 64 characters")
    token = await store.create_event(
        slug,
        title,
        anonymous_allowed=anonymous_allowed,
        max_length=max_length,
        password_hash=auth.hash_password(password),
        settings={
            "moderation": str(moderation),
            "retention_days": str(retention_days),
            "passcode_required": "1" if passcode else "0",
        },
    )
    if passcode:
        await store.set_secret(slug, "passcode", passcode)
    await store.audit(slug, OPERATOR, "create_event", title=title)
    return token


async def set_passcode(store: RedisStore, slug: str, passcode: str) -> None:
    """Require a passcode of new participants ('' removes it). Participants already in keep their place."""
    passcode = passcode.strip()
    if passcode and not 3 <= len(passcode) <= 64:
        raise ValueError("a passcode has 3 to 64 characters")
    await store.set_secret(slug, "passcode", passcode)
    await store.set_event(slug, passcode_required="1" if passcode else "0")
    await store.audit(slug, OPERATOR, "set_passcode" if passcode else "remove_passcode")


async def set_password(store: RedisStore, slug: str, password: str) -> None:
    await store.set_secret(slug, "password", auth.hash_password(password))
    await store.audit(slug, OPERATOR, "set_password")


async def rotate_screen_token(store: RedisStore, slug: str) -> str:
    token = secrets.token_urlsafe(24)
    await store.set_secret(slug, "screen_token", token)
    await store.audit(slug, OPERATOR, "rotate_screen_token")
    return token


def new_password() -> str:
    return secrets.token_urlsafe(12)


async def end_event(store: RedisStore, slug: str) -> None:
    """The dialogue is over: no more questions, and the retention period starts."""
    await store.set_event(slug, "end", open="0", ended=str(int(time.time() * 1000)))
    await store.audit(slug, OPERATOR, "end_event")


async def set_blocked_words(store: RedisStore, slug: str, *, add: list[str], remove: list[str]) -> list[str]:
    """Change the event's own word-list additions; returns them."""
    info = await store.event_info(slug)
    if info is None:
        raise ValueError(f"no event {slug!r}")
    words = [w for w in info.blocked_words if w not in remove]
    words += [w.strip() for w in add if w.strip() and w.strip() not in words]
    await store.set_event(slug, blocked_words=json.dumps(words, ensure_ascii=False))
    await store.audit(slug, OPERATOR, "set_words", added=", ".join(add), removed=", ".join(remove))
    return words


async def update_event(
    store: RedisStore,
    slug: str,
    *,
    who: str = OPERATOR,
    title: str | None = None,
    anonymous_allowed: bool | None = None,
    open: bool | None = None,
    moderation: Moderation | None = None,
    max_length: int | None = None,
    retention_days: int | None = None,
    blocked_words: list[str] | None = None,
    opens_at: int | None = None,
    closes_at: int | None = None,
    ranking: Ranking | None = None,
    floor_seconds: int | None = None,
    require_listed: bool | None = None,
) -> None:
    """Change an event's settings; what is None stays as it is. ValueError for a bad value. `opens_at` and
    `closes_at` (ms since the epoch, 0 for none) bound the time questions are taken."""
    fields: dict[str, str] = {}
    if opens_at is not None or closes_at is not None:
        info = await store.event_info(slug)
        start = opens_at if opens_at is not None else (info.opens_at if info else 0)
        end = closes_at if closes_at is not None else (info.closes_at if info else 0)
        if start < 0 or end < 0 or (start and end and end <= start):
            raise ValueError("questions must close after they open")
        fields["opens_at"], fields["closes_at"] = str(start), str(end)
    if title is not None:
        fields["title"] = rules.check_title(title)
    if anonymous_allowed is not None:
        fields["anonymous_allowed"] = "1" if anonymous_allowed else "0"
    if open is not None:
        fields["open"] = "1" if open else "0"
    if moderation is not None:
        fields["moderation"] = str(moderation)
    if max_length is not None:
        if not 20 <= max_length <= 2000:
            raise ValueError("the maximum question length is between 20 and 2000 characters")
        fields["max_length"] = str(max_length)
    if retention_days is not None:
        if not 1 <= retention_days <= 3650:
            raise ValueError("retention is between 1 and 3650 days")
        fields["retention_days"] = str(retention_days)
    if blocked_words is not None:
        fields["blocked_words"] = json.dumps([w.strip() for w in blocked_words if w.strip()], ensure_ascii=False)
    if ranking is not None:
        fields["ranking"] = msgspec.json.encode(ranking).decode()
    if require_listed is not None:
        fields["require_listed"] = "1" if require_listed else "0"
    if floor_seconds is not None:
        if not 10 <= floor_seconds <= 3600:
            raise ValueError("a speaker's time is between 10 seconds and an hour")
        fields["floor_seconds"] = str(floor_seconds)
    if fields:
        action = {"0": "close", "1": "open"}.get(fields.get("open", ""), "settings")
        if "opens_at" in fields and action == "settings":
            action = "schedule"
        await store.set_event(slug, action, **fields)
        await store.audit(slug, who, "update_event", fields=", ".join(sorted(fields)))


async def erase_participant(store: RedisStore, slug: str, pid: str, *, who: str = OPERATOR) -> int:
    """Erase one participant's identity from an event, on their request; returns how many questions changed."""
    count = await store.erase_participant(slug, pid)
    await store.audit(slug, who, "erase_participant", questions=str(count))
    return count


ROLES = ("moderator", "answerer")  # an answerer (an invited official) may only answer questions in writing


async def set_moderator(
    store: RedisStore, slug: str, name: str, password: str = "", *, role: str = "moderator", who: str = OPERATOR
) -> str:
    """Create a personal login (a moderator, or an answerer), or give it a new password (ending their sessions);
    returns the password (made up when none is given)."""
    name = " ".join(name.split())
    if not 1 <= len(name) <= 40:
        raise ValueError("a moderator name has 1 to 40 characters")
    if role not in ROLES:
        raise ValueError(f"a role is one of {', '.join(ROLES)}")
    password = password or new_password()
    existed = bool((await store.moderator_account(slug, name))[0])
    await store.set_moderator_account(slug, name, auth.hash_password(password), role)
    if existed:
        await store.end_sessions_of(slug, name)
    await store.audit(slug, who, "rotate_moderator" if existed else "add_moderator", moderator=name)
    return password


async def remove_moderator(store: RedisStore, slug: str, name: str, *, who: str = OPERATOR) -> bool:
    """Revoke a moderator's personal login and end their sessions."""
    removed = await store.remove_moderator_account(slug, name)
    await store.end_sessions_of(slug, name)
    if removed:
        await store.audit(slug, who, "remove_moderator", moderator=name)
    return removed
