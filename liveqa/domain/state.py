"""An event's state as a sequence of log entries leaves it. Each server process keeps one per active event."""

from __future__ import annotations

import msgspec

from liveqa.domain.floor import FloorRequest, ScreenMode
from liveqa.domain.model import Announcement, EventInfo, Question


class LogEntry(msgspec.Struct, kw_only=True):
    """One entry of the event log: everything one mutation changed. Absent parts are unchanged."""

    id: str
    question: Question | None = None
    group: Question | None = None  # the head of the group `question` joined or left (merge, unmerge)
    also: list[Question] = msgspec.field(default_factory=list)  # questions moved along into that group
    queue: list[str] | None = None
    screen: str | None = None  # "" when the screen was cleared
    votes: tuple[str, int] | None = None
    event: EventInfo | None = None
    moderators: list[str] | None = None  # who is moderating, when that changed
    banned: list[str] | None = None  # participants barred from submitting and voting, when that changed
    deleted: bool = False  # the event was deleted: its last entry
    announcement: Announcement | None = None
    floor: list[FloorRequest] = msgspec.field(default_factory=list)  # requests for the floor that changed
    speakers: list[str] | None = None  # the speakers' list, when its order changed
    speaking: str | None = None  # who has the floor ("" nobody), when that changed
    screen_mode: ScreenMode | None = None  # what the screen shows, when that changed
    action: str = ""  # what made the change, where it matters to outsiders (approve, answer, show, end…)


def log_id_key(log_id: str) -> tuple[int, int]:
    """Stream ids compare as (milliseconds, sequence), not as strings."""
    ms, _, seq = log_id.partition("-")
    return int(ms or 0), int(seq or 0)


class EventState:
    """Questions, queue order and screen of one event, as of log id `head`."""

    def __init__(self, info: EventInfo, epoch: str, head: str) -> None:
        self.info = info
        self.epoch = epoch
        self.head = head
        self.questions: dict[str, Question] = {}
        self.queue: list[str] = []
        self.screen = ""
        self.moderators: list[str] = []
        self.banned: list[str] = []
        self.announcements: list[Announcement] = []  # the last few, oldest first
        self.floor: dict[str, FloorRequest] = {}
        self.speakers: list[str] = []
        self.speaking = ""
        self.screen_mode = ScreenMode.QUESTION

        self._members: dict[str, set[str]] = {}  # head id → ids of the questions merged into it

    def members(self, head: str) -> list[Question]:
        """The questions merged into `head`, oldest first."""
        found = [self.questions[qid] for qid in self._members.get(head, ()) if qid in self.questions]
        return sorted(found, key=lambda q: (len(q.id), q.id))

    def put(self, question: Question) -> None:
        """Add or replace one question, keeping the group index."""
        if (old := self.questions.get(question.id)) is not None and old.group and old.group != question.group:
            self._members.get(old.group, set()).discard(question.id)
        if question.group:
            self._members.setdefault(question.group, set()).add(question.id)
        self.questions[question.id] = question

    def apply(self, entry: LogEntry) -> None:
        """Apply one entry. Entries at or before `head` were applied already and are ignored."""
        if log_id_key(entry.id) <= log_id_key(self.head):
            return
        for question in (entry.question, entry.group, *entry.also):
            if question is not None:
                self.put(question)
        if entry.votes is not None:
            qid, votes = entry.votes
            if (question := self.questions.get(qid)) is not None:
                self.questions[qid] = msgspec.structs.replace(question, votes=votes)
        if entry.queue is not None:
            self.queue = entry.queue
        if entry.screen is not None:
            self.screen = entry.screen
        if entry.event is not None:
            self.info = entry.event
        if entry.moderators is not None:
            self.moderators = entry.moderators
        if entry.banned is not None:
            self.banned = entry.banned
        for request in entry.floor:
            self.floor[request.id] = request
        if entry.speakers is not None:
            self.speakers = entry.speakers
        if entry.speaking is not None:
            self.speaking = entry.speaking
        if entry.screen_mode is not None:
            self.screen_mode = entry.screen_mode
        if entry.announcement is not None:
            self.announcements = [*self.announcements[-4:], entry.announcement]
        self.head = entry.id
