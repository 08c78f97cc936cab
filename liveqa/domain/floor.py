"""Requests for the floor: people in the room asking to speak. Moderators list them, order the list and call the
next speaker; the speaker's time runs on the console and on the screen. The same event log carries them as it
carries questions, so every console and screen, on any process, follows and resumes alike."""

from __future__ import annotations

import enum

import msgspec


class FloorStatus(enum.StrEnum):
    REQUESTED = "requested"  # waiting for a moderator
    LISTED = "listed"  # on the speakers' list, in the moderators' order
    SPEAKING = "speaking"  # has the floor now (one at a time)
    DONE = "done"  # spoke
    DECLINED = "declined"  # not given the floor, with a reason the requester sees
    WITHDRAWN = "withdrawn"  # taken back by the requester


class FloorAction(enum.StrEnum):
    LIST = "list"
    DECLINE = "decline"
    CALL = "call"  # give the floor (whoever is speaking is done)
    FINISH = "finish"
    RELIST = "relist"  # back on the list (undo a decline, or let someone speak again)
    WITHDRAW = "withdraw"  # by the requester


_F = FloorStatus
FLOOR_MOVES: dict[FloorAction, dict[FloorStatus, FloorStatus]] = {
    FloorAction.LIST: {_F.REQUESTED: _F.LISTED},
    FloorAction.DECLINE: {_F.REQUESTED: _F.DECLINED, _F.LISTED: _F.DECLINED},
    FloorAction.CALL: {_F.REQUESTED: _F.SPEAKING, _F.LISTED: _F.SPEAKING},
    FloorAction.FINISH: {_F.SPEAKING: _F.DONE},
    FloorAction.RELIST: {_F.DECLINED: _F.LISTED, _F.DONE: _F.LISTED, _F.SPEAKING: _F.LISTED},
    FloorAction.WITHDRAW: {_F.REQUESTED: _F.WITHDRAWN, _F.LISTED: _F.WITHDRAWN},
}


def floor_table(action: FloorAction) -> list[str]:
    """The action's moves as the flat from/to list the Lua scripts take."""
    return [str(item) for pair in FLOOR_MOVES[action].items() for item in pair]


class ScreenMode(enum.StrEnum):
    QUESTION = "question"  # the screen shows the question on screen
    FLOOR = "floor"  # … or who has the floor, and who is next


class FloorRequest(msgspec.Struct, kw_only=True):
    """One request for the floor, as stored."""

    id: str
    pid: str
    name: str = ""
    organisation: str = ""
    country: str = ""
    topic: str = ""
    lang: str = ""  # the language they will speak in
    status: FloorStatus = FloorStatus.REQUESTED
    reason: str = ""
    created: int = 0
    updated: int = 0
    started: int = 0  # ms since the epoch (Redis clock) when given the floor
    ended: int = 0
    by: str = ""

    @classmethod
    def from_flat(cls, flat: list[str] | dict[str, str]) -> FloorRequest:
        fields = flat if isinstance(flat, dict) else dict(zip(flat[::2], flat[1::2], strict=True))
        return cls(
            id=fields["id"],
            pid=fields.get("pid", ""),
            name=fields.get("name", ""),
            organisation=fields.get("organisation", ""),
            country=fields.get("country", ""),
            topic=fields.get("topic", ""),
            lang=fields.get("lang", ""),
            status=FloorStatus(fields.get("status", "requested")),
            reason=fields.get("reason", ""),
            created=int(fields.get("created", "0") or 0),
            updated=int(fields.get("updated", "0") or 0),
            started=int(fields.get("started", "0") or 0),
            ended=int(fields.get("ended", "0") or 0),
            by=fields.get("by", ""),
        )


__all__ = ["FLOOR_MOVES", "FloorAction", "FloorRequest", "FloorStatus", "ScreenMode", "floor_table"]
