"""The Lua scripts, loaded once per client. Each file is prefixed with _lib.lua's helpers."""

from __future__ import annotations

from importlib.resources import files
from typing import TYPE_CHECKING

from redis.commands.core import AsyncScript

if TYPE_CHECKING:
    from liveqa.store.redis import Client

NAMES = (
    "create_event",
    "submit",
    "vote",
    "transition",
    "edit",
    "annotate",
    "announce",
    "move",
    "pin",
    "screen",
    "set_event",
    "snapshot",
    "presence",
    "rate",
    "new_participant",
    "ban",
    "erase_participant",
    "group",
    "merge",
    "lease",
    "floor_request",
    "floor",
    "screen_mode",
)


def source(name: str) -> str:
    """The full text Redis runs for one script: the shared helpers, then the script."""
    lua = files("liveqa.store").joinpath("lua")
    return lua.joinpath("_lib.lua").read_text("utf-8") + lua.joinpath(f"{name}.lua").read_text("utf-8")


class Scripts:
    """Every script registered on one client; each runs by EVALSHA and reloads itself after NOSCRIPT."""

    def __init__(self, client: Client) -> None:
        self._scripts = {name: client.register_script(source(name)) for name in NAMES}

    def __getitem__(self, name: str) -> AsyncScript:
        return self._scripts[name]
