"""What operators do to events (the CLI calls these; so will the admin API): one way to do each thing."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from liveqa import auth
from liveqa.domain import rules
from liveqa.settings import Settings
from liveqa.store import RedisStore


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
    store: RedisStore, slug: str, title: str, *, password: str, anonymous_allowed: bool = False, max_length: int = 500
) -> str:
    """Create an event; returns its screen token. ValueError for a bad slug, title or password."""
    rules.check_slug(slug)
    title = " ".join(title.split())
    if not title or len(title) > rules.TITLE_MAX:
        raise ValueError(f"a title has 1 to {rules.TITLE_MAX} characters")
    if not 20 <= max_length <= 2000:
        raise ValueError("the maximum question length is between 20 and 2000 characters")
    return await store.create_event(
        slug,
        title,
        anonymous_allowed=anonymous_allowed,
        max_length=max_length,
        password_hash=auth.hash_password(password),
    )


async def set_password(store: RedisStore, slug: str, password: str) -> None:
    await store.set_secret(slug, "password", auth.hash_password(password))


async def rotate_screen_token(store: RedisStore, slug: str) -> str:
    token = secrets.token_urlsafe(24)
    await store.set_secret(slug, "screen_token", token)
    return token


def new_password() -> str:
    return secrets.token_urlsafe(12)
