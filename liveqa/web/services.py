"""What every request handler may use, created once per process in the app's lifespan."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

from liveqa.domain.model import EventInfo
from liveqa.domain.organisations import Directory
from liveqa.domain.screening import WordList
from liveqa.hub import Hub
from liveqa.settings import Settings
from liveqa.store import RedisStore


class Organisations:
    """This process's copy of the organisation directory, reloaded when another process or the CLI changed it
    (checked at most every few seconds)."""

    CHECK_S = 5.0

    def __init__(self, store: RedisStore) -> None:
        self._store = store
        self._directory = Directory()
        self._version = -1
        self._checked = 0.0

    async def directory(self) -> Directory:
        now = time.monotonic()
        if now - self._checked >= self.CHECK_S:
            self._checked = now
            if await self._store.organisations_version() != self._version:
                self._version, listed = await self._store.organisations()
                self._directory = Directory(listed)
        return self._directory


@dataclass(frozen=True)
class Services:
    settings: Settings
    store: RedisStore
    hub: Hub
    words: WordList  # the deployment's word lists
    organisations: Organisations

    def words_for(self, info: EventInfo) -> WordList:
        """The deployment's lists plus the event's own additions."""
        return _combined(self.words, info.blocked_words)

    def allowed_origins(self) -> list[str]:
        origins = list(self.settings.allowed_origins)
        if self.settings.public_url:
            origins.append(self.settings.public_url.rstrip("/"))
        return origins


@functools.lru_cache(maxsize=256)
def _combined(base: WordList, extra: tuple[str, ...]) -> WordList:
    return base | WordList.of(extra) if extra else base
