"""What each audience sees of the event state and of each log entry: the only place private fields are dropped."""

from __future__ import annotations

import enum
from collections.abc import Sequence

from liveqa import protocol as p
from liveqa.domain import regions
from liveqa.domain.floor import FloorRequest, FloorStatus
from liveqa.domain.model import Question
from liveqa.domain.state import EventState, LogEntry


class Audience(enum.StrEnum):
    PUBLIC = "public"  # participants
    MODERATOR = "moderator"
    SCREEN = "screen"


def public_question(q: Question) -> p.PublicQuestion:
    return p.PublicQuestion(
        id=q.id,
        text=q.text,
        status=q.status,
        votes=q.votes,
        pinned=q.pinned,
        tags=q.tags,
        name=q.name if q.show_name else "",
        organisation=q.organisation if q.show_organisation else "",
        country=q.country if q.show_country else "",
        created=q.created,
        answered=q.answered,
        answer=q.answer,
        answer_at=q.answer_at,
        display=q.display,
        display_lang=q.display_lang,
    )


def own_question(q: Question) -> p.OwnQuestion:
    return p.OwnQuestion(
        id=q.id,
        cid=q.cid,
        text=q.text,
        status=q.status,
        reason=q.reason,
        votes=q.votes,
        name=q.name,
        organisation=q.organisation,
        country=q.country,
        show_name=q.show_name,
        show_organisation=q.show_organisation,
        show_country=q.show_country,
        created=q.created,
        rev=q.rev,
        answer=q.answer,
        group=q.group,
    )


def moderator_question(q: Question) -> p.ModeratorQuestion:
    return p.ModeratorQuestion(
        id=q.id,
        pid=q.pid,
        text=q.text,
        original=q.original,
        status=q.status,
        reason=q.reason,
        votes=q.votes,
        pinned=q.pinned,
        tags=q.tags,
        name=q.name,
        organisation=q.organisation,
        country=q.country,
        show_name=q.show_name,
        show_organisation=q.show_organisation,
        show_country=q.show_country,
        created=q.created,
        updated=q.updated,
        answered=q.answered,
        rev=q.rev,
        by=q.by,
        held=q.held,
        source=q.source,
        answer=q.answer,
        answer_by=q.answer_by,
        answer_at=q.answer_at,
        display=q.display,
        display_lang=q.display_lang,
        group=q.group,
        similar=q.similar,
        similarity=q.similarity,
        lang=q.lang,
        listed=q.listed,
        region=regions.region(q.country) if q.country else "",
        un_group=regions.un_group(q.country) if q.country else "",
    )


def screen_question(q: Question) -> p.ScreenQuestion:
    return p.ScreenQuestion(
        id=q.id,
        text=q.text,
        name=q.name if q.show_name else "",
        organisation=q.organisation if q.show_organisation else "",
        country=q.country if q.show_country else "",
        display=q.display,
        display_lang=q.display_lang,
    )


def floor_view(r: FloorRequest, *, moderator: bool = False) -> p.FloorView:
    return p.FloorView(
        id=r.id,
        name=r.name,
        organisation=r.organisation,
        country=r.country,
        topic=r.topic,
        lang=r.lang,
        status=r.status,
        reason=r.reason,
        created=r.created,
        started=r.started,
        ended=r.ended,
        pid=r.pid if moderator else "",
    )


def on_the_floor(state: EventState) -> tuple[p.FloorView | None, p.FloorView | None]:
    """(who has the floor, who is next), as the screen shows them: names and topics only."""
    speaking = state.floor.get(state.speaking)
    now = floor_view(speaking) if speaking is not None and speaking.status is FloorStatus.SPEAKING else None
    following = next((state.floor[fid] for fid in state.speakers if fid in state.floor), None)
    return now, floor_view(following) if following is not None else None


def screen_floor(entry_id: str, state: EventState) -> p.ScreenFloor:
    speaking, following = on_the_floor(state)
    return p.ScreenFloor(id=entry_id, mode=state.screen_mode, speaking=speaking, next=following)


def on_screen(state: EventState) -> p.ScreenQuestion | None:
    question = state.questions.get(state.screen)
    return screen_question(question) if question is not None else None


def snapshot(state: EventState, audience: Audience, pid: str = "") -> p.Outbound:
    """The whole state as one audience may see it; a participant's own questions when `pid` is given."""
    if audience is Audience.MODERATOR:
        return p.ModeratorSnapshot(
            id=state.head,
            epoch=state.epoch,
            questions=[moderator_question(q) for q in state.questions.values()],
            queue=state.queue,
            screen=state.screen,
            moderators=state.moderators,
            banned=state.banned,
            announcements=_announcements(state),
            floor=[floor_view(r, moderator=True) for r in state.floor.values()],
            speakers=state.speakers,
            speaking=state.speaking,
            screen_mode=state.screen_mode,
        )
    if audience is Audience.SCREEN:
        speaking, following = on_the_floor(state)
        return p.ScreenSnapshot(
            id=state.head,
            epoch=state.epoch,
            event=p.EventView.of(state.info),
            question=on_screen(state),
            mode=state.screen_mode,
            speaking=speaking,
            next=following,
        )
    return p.PublicSnapshot(
        id=state.head,
        epoch=state.epoch,
        questions=[public_question(q) for q in state.questions.values() if q.public],
        queue=state.queue,
        screen=state.screen,
        mine=[own_question(q) for q in state.questions.values() if q.pid == pid] if pid else [],
        announcements=_announcements(state),
        floor=[floor_view(r) for r in state.floor.values() if r.pid == pid] if pid else [],
    )


def _announcements(state: EventState) -> list[p.AnnouncementView]:
    return [p.AnnouncementView(text=a.text, at=a.at) for a in state.announcements]


def queue_step(before: list[str], after: list[str]) -> tuple[str, str | None] | None:
    """The one step that turns the queue `before` into `after`: (qid, the qid it now follows, "" at the head) when
    one question joined the queue or moved in it, (qid, None) when one left it; None when nothing changed or more
    than one step did."""
    if len(after) == len(before) + 1:
        at = _first_difference(before, after)
        if before[at:] == after[at + 1 :]:
            return after[at], after[at - 1] if at else ""
    elif len(after) == len(before) - 1:
        at = _first_difference(after, before)
        if after[at:] == before[at + 1 :]:
            return before[at], None
    elif len(after) == len(before) and after != before:
        first = _first_difference(before, after)
        last = len(after) - 1
        while after[last] == before[last]:
            last -= 1
        if after[first] == before[last] and after[first + 1 : last + 1] == before[first:last]:  # moved up
            return after[first], after[first - 1] if first else ""
        if after[last] == before[first] and after[first:last] == before[first + 1 : last + 1]:  # moved down
            return after[last], after[last - 1]
    return None


def after_step(queue: list[str], place: Sequence[str] | None = None, unqueue: str = "") -> list[str]:
    """The order a client holds after applying one step to `queue` (what the participant page does): `place` =
    (qid, after) puts qid just after `after` ("" for the head), `unqueue` takes qid out. Raises ValueError when
    the step names a question the order does not hold (the client's order has gone wrong)."""
    gone = place[0] if place is not None else unqueue
    order = [qid for qid in queue if qid != gone]
    if place is not None:
        qid, after = place
        order.insert(order.index(after) + 1 if after else 0, qid)
    elif len(order) == len(queue):
        raise ValueError(f"{unqueue!r} is not in the queue")
    return order


def _first_difference(shorter: list[str], longer: list[str]) -> int:
    for at, qid in enumerate(shorter):
        if longer[at] != qid:
            return at
    return len(shorter)


def frames(
    entry: LogEntry, before: Question | None, *, known: bool, queue_before: list[str] | None = None
) -> dict[Audience, p.Outbound | None]:
    """The frame participants and moderators get for one entry; None where it changes nothing they see.

    `before` is the entry's question as it was before the entry; `known` says whether that is known (it is
    live, not when replaying from the store: then a question that is not public is announced as removed,
    which a client that never had it ignores). Screens follow the live state instead (see `screen_frame`).
    `queue_before` is the queue as it was before the entry, when known: participants then get a new order as the
    one step that made it (`place` or `unqueue`) rather than the whole of it, which grows with the event (a few
    kilobytes to every participant for each approval, late in a large one). Moderators always get the whole order.
    """
    if entry.event is not None:
        event_frame = p.EventChanged(id=entry.id, event=p.EventView.of(entry.event))
        return {Audience.PUBLIC: event_frame, Audience.MODERATOR: event_frame}
    if entry.announcement is not None:
        said = p.AnnouncementFrame(id=entry.id, text=entry.announcement.text, at=entry.announcement.at)
        return {Audience.PUBLIC: said, Audience.MODERATOR: said}
    if entry.banned is not None:
        return {Audience.PUBLIC: None, Audience.MODERATOR: p.ModeratorUpdate(id=entry.id, banned=entry.banned)}
    if entry.moderators is not None:
        return {Audience.PUBLIC: None, Audience.MODERATOR: p.Presence(id=entry.id, moderators=entry.moderators)}
    if entry.votes is not None:
        frame = p.Votes(id=entry.id, votes=dict([entry.votes]))
        return {Audience.PUBLIC: frame, Audience.MODERATOR: frame}
    if entry.floor or entry.speakers is not None or entry.speaking is not None or entry.screen_mode is not None:
        floor = p.ModeratorUpdate(
            id=entry.id,
            floor=[floor_view(r, moderator=True) for r in entry.floor] or None,
            speakers=entry.speakers,
            speaking=entry.speaking,
            screen_mode=entry.screen_mode,
        )
        return {Audience.PUBLIC: None, Audience.MODERATOR: floor}
    q, head = entry.question, entry.group
    moderator = p.ModeratorUpdate(
        id=entry.id,
        question=moderator_question(q) if q else None,
        group=moderator_question(head) if head else None,
        also=[moderator_question(m) for m in entry.also] or None,
        queue=entry.queue,
        screen=entry.screen,
    )
    public = p.PublicUpdate(id=entry.id, queue=entry.queue, screen=entry.screen)
    if entry.queue is not None and queue_before is not None and (step := queue_step(queue_before, entry.queue)):
        public.queue = None
        qid, after = step
        if after is None:
            public.unqueue = qid
        else:
            public.place = (qid, after)
    if q is not None:
        if q.public:
            public.question = public_question(q)
        elif not known or (before is not None and before.public):
            public.removed = q.id
    if head is not None and head.public:
        public.group = public_question(head)
    visible = (
        public.question
        or public.removed
        or public.group
        or public.queue is not None
        or public.place is not None
        or public.unqueue
        or public.screen is not None
    )
    return {Audience.PUBLIC: public if visible else None, Audience.MODERATOR: moderator}


def own_frames(entry: LogEntry) -> list[tuple[str, p.Outbound]]:
    """(participant id, frame) for each question or request for the floor the entry changes; each sent to its
    asker alone."""
    frames: list[tuple[str, p.Outbound]] = [
        (q.pid, p.Own(id=entry.id, question=own_question(q)))
        for q in (entry.question, entry.group, *entry.also)
        if q is not None
    ]
    frames += [(r.pid, p.OwnFloor(id=entry.id, request=floor_view(r))) for r in entry.floor]
    return frames


def screen_frame(entry: LogEntry, screen_before: str, state: EventState) -> p.Outbound | None:
    """The screen's frame for a live entry, `state` having applied it: when what is on screen changed."""
    if entry.event is not None:
        return p.EventChanged(id=entry.id, event=p.EventView.of(entry.event))
    if entry.floor or entry.speakers is not None or entry.speaking is not None or entry.screen_mode is not None:
        return screen_floor(entry.id, state)
    touched = entry.question is not None and entry.question.id == state.screen
    if entry.screen is None and not touched:
        return None
    if entry.screen is not None and entry.screen == screen_before and not touched:
        return None
    return p.ScreenUpdate(id=entry.id, question=on_screen(state))
