"""Taking in a question, whatever its channel (the web page, an intake bridge, a CSV import): one path with the
same normalisation, author rules, word lists, rate limits and moderation."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass

from liveqa.dedup.normalize import language
from liveqa.domain import rules, text as texts
from liveqa.domain.model import EventInfo, Moderation
from liveqa.domain.organisations import Directory, Organisation
from liveqa.domain.screening import WordList
from liveqa.store import RedisStore

UNLISTED = "organisation not in the directory"  # why a question is held, in an event that requires listed ones


@dataclass(frozen=True)
class Draft:
    """A question as it arrives."""

    cid: str  # the sender's own id for it: resending the same one never stores it twice
    text: str
    name: str = ""
    organisation: str = ""
    country: str = ""
    show_name: bool = False
    show_organisation: bool = True
    show_country: bool = True


@dataclass(frozen=True)
class Stored:
    qid: str
    log_id: str
    text: str
    new: bool
    held: str


def prepare(info: EventInfo, draft: Draft) -> tuple[str, tuple[str, str, str], tuple[bool, bool, bool]]:
    """Normalised text, checked author and what may be shown; raises a Rejected subclass saying why not."""
    body = texts.clean(draft.text, max_length=info.max_length)
    author = rules.check_author(draft.name, draft.organisation, draft.country, anonymous_allowed=info.anonymous_allowed)
    shown = (draft.show_name, draft.show_organisation, draft.show_country) if author[0] else (False, False, False)
    return body, author, shown


async def submit(
    store: RedisStore,
    info: EventInfo,
    words: WordList,
    pid: str,
    draft: Draft,
    *,
    rate: tuple[int, float],
    source: str = "web",
    directory: Directory | None = None,
    invited: Organisation | None = None,
) -> Stored:
    """Store a question (once per sender's cid); the duplicate grouping takes it from there (see grouping.py). The
    asker's organisation is looked up in the `directory`: a listed one
    is marked for moderators; in an event that requires it, an unlisted one holds the question for review."""
    if invited is not None:  # an invite code said which organisation this participant asks for
        draft = dataclasses.replace(draft, organisation=invited.name, country=draft.country or invited.country)
    body, author, shown = prepare(info, draft)
    held = words.match(body)
    organisation = invited or (directory.match(author[1]) if directory is not None else None)
    listed = (organisation.accreditation or "listed") if organisation is not None else ""
    if info.require_listed and not listed and not held:
        held = UNLISTED
    qid, log_id, stored, new = await store.submit(
        info.slug,
        pid,
        draft.cid,
        body,
        author,
        shown,
        rate=rate,
        held=held,
        publish=info.moderation is Moderation.POST,
        source=source,
        lang=language(body),
        listed=listed,
    )
    return Stored(qid=qid, log_id=log_id, text=stored, new=new, held=held)


def channel_participant(channel: str, author: str = "") -> str:
    """The participant id of questions from a channel: one per distinct author the channel names, else one for
    the channel itself (so supporters, bans and rate limits work per person where the channel says who)."""
    return hashlib.sha256(f"{channel}\x00{author}".encode()).hexdigest()[:12]
