"""What every request handler may use, created once per process in the app's lifespan."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from liveqa.domain.model import EventInfo
from liveqa.domain.screening import WordList
from liveqa.hub import Hub
from liveqa.settings import Settings
from liveqa.store import RedisStore


@dataclass(frozen=True)
class Services:
    settings: Settings
    store: RedisStore
    hub: Hub
    words: WordList  # the deployment's word lists

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
