"""What every request handler may use, created once per process in the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from liveqa.hub import Hub
from liveqa.settings import Settings
from liveqa.store import RedisStore


@dataclass(frozen=True)
class Services:
    settings: Settings
    store: RedisStore
    hub: Hub

    def allowed_origins(self) -> list[str]:
        origins = list(self.settings.allowed_origins)
        if self.settings.public_url:
            origins.append(self.settings.public_url.rstrip("/"))
        return origins
