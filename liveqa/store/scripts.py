"""The Lua scripts, loaded once per client. Each file is prefixed with _lib.lua's helpers; a moderator's actions
also run wrapped in _acting.lua, which checks the moderator's session and writes the audit entry."""

from __future__ import annotations

from importlib.resources import files
from typing import TYPE_CHECKING

from redis.commands.core import AsyncScript

if TYPE_CHECKING:
    from liveqa.store.redis import Client

# The scripts a moderator's action runs: each also has an acting variant (see lua/_acting.lua).
ACTIONS = (
    "transition",
    "edit",
    "annotate",
    "announce",
    "move",
    "pin",
    "screen",
    "set_event",
    "ban",
    "merge",
    "floor",
    "screen_mode",
)
NAMES = (
    *ACTIONS,
    "create_event",
    "submit",
    "vote",
    "snapshot",
    "presence",
    "rate",
    "new_participant",
    "erase_participant",
    "group",
    "lease",
    "floor_request",
)


def source(name: str, *, acting: bool = False) -> str:
    """The full text Redis runs for one script: the shared helpers, then the script; `acting` wraps the script
    in the moderator's session check and audit entry."""
    lua = files("liveqa.store").joinpath("lua")
    lib, script = lua.joinpath("_lib.lua").read_text("utf-8"), lua.joinpath(f"{name}.lua").read_text("utf-8")
    if not acting:
        return lib + script
    wrapper = lua.joinpath("_acting.lua").read_text("utf-8")
    return f"{lib}{wrapper}local function act()\n{script}\nend\nreturn acted(act())\n"


class Scripts:
    """Every script registered on one client; each runs by EVALSHA and reloads itself after NOSCRIPT."""

    def __init__(self, client: Client) -> None:
        self._scripts = {name: client.register_script(source(name)) for name in NAMES}
        self._acting = {name: client.register_script(source(name, acting=True)) for name in ACTIONS}

    def __getitem__(self, name: str) -> AsyncScript:
        return self._scripts[name]

    def acting(self, name: str) -> AsyncScript:
        """The variant of an action's script that checks the moderator's session and writes the audit entry."""
        return self._acting[name]
