"""Configuration: every LIVEQA_* environment variable, read into one typed object. A bad value stops start-up."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

import msgspec

PACKAGE_DIR = Path(__file__).resolve().parent
# Installed from a wheel the pages sit inside the package; in a checkout, beside it.
DEFAULT_STATIC = PACKAGE_DIR / "static" if (PACKAGE_DIR / "static").is_dir() else PACKAGE_DIR.parent / "static"


class SettingsError(Exception):
    """A LIVEQA_* variable has a value LiveQA can't use."""


class Settings(msgspec.Struct, kw_only=True, frozen=True):
    """See the configuration table in README.md; each field is LIVEQA_<FIELD NAME IN CAPITALS>."""

    redis_url: str = ""  # empty: `liveqa serve` starts its own redis-server in data_dir
    data_dir: str = "data"
    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 8000
    public_url: str = ""  # e.g. https://qa.example.org; links and the allowed origin derive from it
    allowed_origins: list[str] = []  # extra origins allowed to open WebSockets (exact scheme://host[:port])
    static_dir: str = str(DEFAULT_STATIC)
    wordlist_dir: str = ""  # a folder of word lists replacing or extending the bundled ones (see liveqa/wordlists)
    log_level: Literal["critical", "error", "warning", "info", "debug", "trace"] = "info"
    log_format: Literal["console", "json"] = "console"  # json: one object per line, for log collectors
    log_maxlen: Annotated[int, msgspec.Meta(ge=1000)] = 100_000  # event-log entries kept per event (approx.)
    submit_burst: Annotated[int, msgspec.Meta(ge=0)] = 5  # questions a participant may send at once (0: no limit)
    submit_per_minute: Annotated[float, msgspec.Meta(gt=0)] = 5.0
    vote_burst: Annotated[int, msgspec.Meta(ge=0)] = 60
    vote_per_minute: Annotated[float, msgspec.Meta(gt=0)] = 120.0
    join_burst: Annotated[int, msgspec.Meta(ge=0)] = 100  # new participants per client address at once (0: no limit)
    join_per_minute: Annotated[float, msgspec.Meta(gt=0)] = 60.0  # … and per minute after: venues share one address
    login_burst: Annotated[int, msgspec.Meta(ge=0)] = 10  # moderator login attempts per address and event
    login_per_minute: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    channel_burst: Annotated[int, msgspec.Meta(ge=0)] = 600  # questions an intake channel may post at once
    channel_per_minute: Annotated[float, msgspec.Meta(gt=0)] = 600.0
    webhook_retries: Annotated[int, msgspec.Meta(ge=1, le=20)] = 6  # attempts per delivery before giving up
    webhook_backoff: Annotated[float, msgspec.Meta(gt=0)] = 1.0  # seconds before the first retry; doubles after
    max_frames_queued: Annotated[int, msgspec.Meta(ge=10)] = 2000  # per socket, before 4008
    max_bytes_queued: Annotated[int, msgspec.Meta(ge=65536)] = 4 << 20
    send_timeout: Annotated[float, msgspec.Meta(gt=0)] = 10.0  # a socket taking no data this long is closed (4008)
    max_message_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 16384  # larger inbound frames close with 1009
    invalid_limit: Annotated[int, msgspec.Meta(ge=1)] = 5  # invalid messages in a minute before close 1008
    secure_cookies: bool = False  # set with HTTPS; implied by an https public_url
    dedup: bool = True  # group duplicate questions and hint similar ones (the embedding model takes ~100 MB)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Read LIVEQA_* variables (strings, converted and checked), then apply overrides."""
        env = os.environ if environ is None else environ
        raw: dict[str, object] = {}
        for field in cls.__struct_fields__:
            value = env.get(f"LIVEQA_{field.upper()}")
            if value is None:
                continue
            raw[field] = [v.strip() for v in value.split(",") if v.strip()] if field == "allowed_origins" else value
        raw.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return msgspec.convert(raw, cls, strict=False)
        except msgspec.ValidationError as exc:
            raise SettingsError(f"bad configuration: {exc} (LIVEQA_* variables)") from None

    @property
    def https(self) -> bool:
        return self.public_url.startswith("https://") or self.secure_cookies

    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "localhost" if self.host in ("0.0.0.0", "::", "127.0.0.1") else self.host
        return f"http://{host}:{self.port}"
