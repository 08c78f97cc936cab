"""Every message that crosses the WebSocket, and nothing else. Subprotocol `liveqa.v1`, JSON text frames.

Each role has its own inbound union, so a participant cannot even encode a moderator action: the decoder
rejects it before any permission check runs. Outbound frames that change state carry the event-log id
(`id`) they bring the client up to; a client resumes by sending the last one it holds.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from liveqa.domain.floor import FloorStatus, ScreenMode
from liveqa.domain.model import EventInfo, Moderation, Ranking, Status

SUBPROTOCOL = "liveqa.v1"
VERSION = 1

# Limits on what comes in. Text length in grapheme clusters is checked by the domain; this bound only
# keeps absurd frames out of the decoder's way.
QuestionId = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{1,12}$")]
ClientId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{8,64}$")]
LogId = Annotated[str, msgspec.Meta(pattern=r"^([0-9]{1,20}-[0-9]{1,20})?$")]
Epoch = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{0,32}$")]
Token = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{0,64}$")]
Ref = Annotated[str, msgspec.Meta(max_length=64)]
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]
Name = Annotated[str, msgspec.Meta(max_length=200)]
Country = Annotated[str, msgspec.Meta(pattern=r"^([A-Za-z]{2})?$")]
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
Tag = Annotated[str, msgspec.Meta(min_length=1, max_length=32)]


class Inbound(msgspec.Struct, tag_field="type", forbid_unknown_fields=True, frozen=True):
    """What a client may send. A typo in a field name is an error, not a silent default."""


class Hello(Inbound, tag="hello", frozen=True):
    """First frame on every socket. Resume by naming the epoch and last log id held; `token` identifies
    a returning participant, or authorises a screen."""

    v: int = VERSION
    token: Token = ""
    epoch: Epoch = ""
    last_id: LogId = ""
    passcode: Annotated[str, msgspec.Meta(max_length=64)] = ""  # for a new participant, where the event has one
    transfer: Annotated[str, msgspec.Meta(max_length=16)] = ""  # a code from another device: become that participant
    invite: Annotated[str, msgspec.Meta(max_length=16)] = ""  # an organisation's invite code: ask as that organisation


class Ping(Inbound, tag="ping", frozen=True):
    """Application-level heartbeat (browsers cannot send WebSocket pings)."""


# --- participant ---------------------------------------------------------------------------------


class Submit(Inbound, tag="submit", frozen=True):
    """A new question. `cid` is made by the client and kept until acknowledged: resending it is safe."""

    cid: ClientId
    text: Text
    name: Name = ""
    organisation: Name = ""
    country: Country = ""
    show_name: bool = False
    show_organisation: bool = True
    show_country: bool = True


class Edit(Inbound, tag="edit", frozen=True):
    """Change the text of one's own pending question."""

    qid: QuestionId
    text: Text


class Withdraw(Inbound, tag="withdraw", frozen=True):
    qid: QuestionId


class TransferRequest(Inbound, tag="transfer", frozen=True):
    """Ask for a one-time code to carry this identity (and its questions' statuses and answers) to another device."""


class Upvote(Inbound, tag="upvote", frozen=True):
    qid: QuestionId


class Unvote(Inbound, tag="unvote", frozen=True):
    qid: QuestionId


FloorId = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{1,12}$")]
Lang = Annotated[str, msgspec.Meta(pattern=r"^([a-z]{2,3}(-[A-Za-z0-9]{2,8})?)?$")]


class RequestFloor(Inbound, tag="request_floor", frozen=True):
    """Ask to speak in the room: on what, and in which language. `cid` as for `submit`: resending is safe."""

    cid: ClientId
    topic: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    lang: Lang = ""
    name: Name = ""
    organisation: Name = ""
    country: Country = ""


class WithdrawFloor(Inbound, tag="withdraw_floor", frozen=True):
    fid: FloorId


class FindSimilar(Inbound, tag="similar", frozen=True):
    """Questions like a draft, to support one instead of sending a repeat. Send while typing, debounced; the
    reply echoes `ref`. Only questions the participant may see are found."""

    text: Text
    ref: Ref = ""


# --- moderator -----------------------------------------------------------------------------------


class ModeratorAction(Inbound, frozen=True, kw_only=True):
    """Every moderator action may carry a `ref`, echoed in the `done` or `error` reply."""

    ref: Ref = ""


class Approve(ModeratorAction, tag="approve", frozen=True):
    """Approve a question into the queue: at its end, or just before `before` (where the ranking proposes)."""

    qid: QuestionId
    before: Annotated[str, msgspec.Meta(pattern=r"^([0-9]{1,12})?$")] = ""


class Reject(ModeratorAction, tag="reject", frozen=True):
    qid: QuestionId
    reason: Reason


class Archive(ModeratorAction, tag="archive", frozen=True):
    qid: QuestionId


class Restore(ModeratorAction, tag="restore", frozen=True):
    qid: QuestionId


class Answer(ModeratorAction, tag="answer", frozen=True):
    qid: QuestionId


class Reopen(ModeratorAction, tag="reopen", frozen=True):
    qid: QuestionId


class ModeratorEdit(ModeratorAction, tag="edit", frozen=True):
    """Change a question's text. With `rev`, refused as a `conflict` if someone changed it since."""

    qid: QuestionId
    text: Text
    rev: int = 0


class SetTags(ModeratorAction, tag="tag", frozen=True):
    qid: QuestionId
    tags: Annotated[list[Tag], msgspec.Meta(max_length=8)]


class Move(ModeratorAction, tag="move", frozen=True):
    """Move an approved question just before or just after another one in the queue (exactly one of them)."""

    qid: QuestionId
    before: Annotated[str, msgspec.Meta(pattern=r"^([0-9]{1,12})?$")] = ""
    after: Annotated[str, msgspec.Meta(pattern=r"^([0-9]{1,12})?$")] = ""


class Pin(ModeratorAction, tag="pin", frozen=True):
    qid: QuestionId


class Unpin(ModeratorAction, tag="unpin", frozen=True):
    qid: QuestionId


class Show(ModeratorAction, tag="show", frozen=True):
    """Put a question on the screen."""

    qid: QuestionId


class ClearScreen(ModeratorAction, tag="clear_screen", frozen=True):
    pass


class Reply(ModeratorAction, tag="reply", frozen=True):
    """A written answer to a question, shown to everyone who can see the question ("" removes it)."""

    qid: QuestionId
    text: Annotated[str, msgspec.Meta(max_length=4000)]


class Translate(ModeratorAction, tag="translate", frozen=True):
    """The question in another language, for the room: the screen shows it under the original ("" removes it)."""

    qid: QuestionId
    text: Annotated[str, msgspec.Meta(max_length=2000)]
    lang: Annotated[str, msgspec.Meta(pattern=r"^([a-z]{2,3}(-[A-Za-z0-9]{2,8})?)?$")] = ""


class Announce(ModeratorAction, tag="announce", frozen=True):
    """A short message to every participant."""

    text: Annotated[str, msgspec.Meta(min_length=1, max_length=280)]


ParticipantId = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{6,32}$")]


class Ban(ModeratorAction, tag="ban", frozen=True):
    """Bar a participant (by the `pid` moderators see on their questions) from submitting and voting."""

    pid: ParticipantId


class Unban(ModeratorAction, tag="unban", frozen=True):
    pid: ParticipantId


class Merge(ModeratorAction, tag="merge", frozen=True):
    """Merge a question (with whatever was merged into it) into another's group: one question, all supporters."""

    qid: QuestionId
    into: QuestionId


class Unmerge(ModeratorAction, tag="unmerge", frozen=True):
    """Split a question off the group it was merged into: it stands alone again with its own supporters."""

    qid: QuestionId


class Distinct(ModeratorAction, tag="distinct", frozen=True):
    """Dismiss a "possible duplicate" suggestion: the two questions are different."""

    qid: QuestionId


class Floor(ModeratorAction, tag="floor", frozen=True):
    """A request for the floor: put it on the speakers' list, decline it (with a reason), give the floor (whoever
    was speaking is done), end the speaker's turn, or put it back on the list."""

    fid: FloorId
    action: Annotated[str, msgspec.Meta(pattern=r"^(list|decline|call|finish|relist)$")]
    reason: Annotated[str, msgspec.Meta(max_length=300)] = ""


class MoveSpeaker(ModeratorAction, tag="move_speaker", frozen=True):
    """Move a listed request just before or just after another on the speakers' list (exactly one of them)."""

    fid: FloorId
    before: Annotated[str, msgspec.Meta(pattern=r"^([0-9]{1,12})?$")] = ""
    after: Annotated[str, msgspec.Meta(pattern=r"^([0-9]{1,12})?$")] = ""


class SetScreenMode(ModeratorAction, tag="screen_mode", frozen=True):
    """What the room and the stream see: the question on screen, or who has the floor and who is next."""

    mode: ScreenMode


class SetOpen(ModeratorAction, tag="set_open", frozen=True):
    """Open or close the event for new questions."""

    open: bool


ParticipantMessage = (
    Hello
    | Ping
    | Submit
    | Edit
    | Withdraw
    | Upvote
    | Unvote
    | TransferRequest
    | FindSimilar
    | RequestFloor
    | WithdrawFloor
)
ModeratorMessage = (
    Hello
    | Ping
    | Approve
    | Reject
    | Archive
    | Restore
    | Answer
    | Reopen
    | ModeratorEdit
    | SetTags
    | Move
    | Pin
    | Unpin
    | Show
    | ClearScreen
    | SetOpen
    | Ban
    | Unban
    | Reply
    | Translate
    | Announce
    | Merge
    | Unmerge
    | Distinct
    | Floor
    | MoveSpeaker
    | SetScreenMode
)
ScreenMessage = Hello | Ping


# --- views of a question, one per audience --------------------------------------------------------


class PublicQuestion(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A question as every participant sees it: only what its asker chose to show."""

    id: str
    text: str
    status: Status
    votes: int = 0
    pinned: bool = False
    tags: list[str] = []
    name: str = ""
    organisation: str = ""
    country: str = ""
    created: int = 0
    answered: int = 0
    answer: str = ""
    answer_at: int = 0
    display: str = ""
    display_lang: str = ""


class OwnQuestion(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A question as its asker sees it: status and rejection reason included."""

    id: str
    cid: str = ""
    text: str
    status: Status
    reason: str = ""
    votes: int = 0
    name: str = ""
    organisation: str = ""
    country: str = ""
    show_name: bool = False
    show_organisation: bool = False
    show_country: bool = False
    created: int = 0
    rev: int = 0
    answer: str = ""
    group: str = ""  # merged with a similar question: its id (its status is the one that counts)


class ModeratorQuestion(msgspec.Struct, kw_only=True):
    """Everything moderators need to decide."""

    id: str
    pid: str
    text: str
    original: str
    status: Status
    reason: str
    votes: int
    pinned: bool
    tags: list[str]
    name: str
    organisation: str
    country: str
    show_name: bool
    show_organisation: bool
    show_country: bool
    created: int
    updated: int
    answered: int
    rev: int
    by: str
    held: str = ""  # the word-list entry that held it for review
    source: str = "web"  # the channel it came through
    answer: str = ""
    answer_by: str = ""
    answer_at: int = 0
    display: str = ""
    display_lang: str = ""
    group: str = ""  # merged into that question (its group's head)
    similar: str = ""  # a possible duplicate found by the grouping step
    similarity: float = 0.0
    listed: str = ""  # the organisation is in the directory: its ECOSOC status (general, special, roster) or "listed"
    lang: str = ""  # the language the text seems to be in: ar, en, es, fr, ru, zh, or a script's name
    un_group: str = ""  # the UN regional group of the asker's country (african, asia_pacific, eastern_european…)
    region: str = ""  # the UN M49 region of the asker's country ("002" Africa, "019" Americas, "142" Asia…)


class FloorView(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A request for the floor. Moderators get `pid`; the requester gets their own; screens who speaks."""

    id: str
    name: str = ""
    organisation: str = ""
    country: str = ""
    topic: str = ""
    lang: str = ""
    status: FloorStatus
    reason: str = ""
    created: int = 0
    started: int = 0  # ms since the epoch, server clock: when given the floor
    ended: int = 0
    pid: str = ""


class ScreenQuestion(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What the projector and the broadcast overlay show."""

    id: str
    text: str
    name: str = ""
    organisation: str = ""
    country: str = ""
    display: str = ""
    display_lang: str = ""


class AnnouncementView(msgspec.Struct, kw_only=True):
    text: str
    at: int


class EventView(msgspec.Struct, kw_only=True):
    """What every page may know of an event."""

    slug: str
    title: str
    anonymous_allowed: bool
    open: bool
    max_length: int
    moderation: Moderation
    passcode_required: bool
    ended: bool
    opens_at: int = 0  # ms since the epoch; 0: no set time
    closes_at: int = 0
    floor_seconds: int = 180  # each speaker's time on the floor
    ranking: Ranking = Ranking()  # the weights of the moderators' proposed order (docs/ranking.md)
    retention_days: int = 30  # personal data is erased this long after the event ends

    @classmethod
    def of(cls, info: EventInfo) -> EventView:
        return cls(
            slug=info.slug,
            title=info.title,
            anonymous_allowed=info.anonymous_allowed,
            open=info.open,
            max_length=info.max_length,
            moderation=info.moderation,
            passcode_required=info.passcode_required,
            ended=bool(info.ended),
            opens_at=info.opens_at,
            closes_at=info.closes_at,
            floor_seconds=info.floor_seconds,
            ranking=info.ranking,
            retention_days=info.retention_days,
        )


# --- what the server sends -----------------------------------------------------------------------


class Outbound(msgspec.Struct, tag_field="type", kw_only=True, omit_defaults=True):
    """What the server sends."""


class Welcome(Outbound, tag="welcome"):
    """Answer to `hello`. Participants get their id and the token to present next time."""

    role: str
    event: EventView
    epoch: str
    pid: str = ""
    token: str = ""
    moderator: str = ""
    now: int = 0  # the server's clock, ms since the epoch: for counting down a speaker's time against it
    organisation: str = ""  # a participant's organisation, when an invite code named it (their questions carry it)


class PublicSnapshot(Outbound, tag="snapshot"):
    """The whole public state at log id `id`: replace what you hold. Sent when replay is impossible."""

    id: str
    epoch: str
    questions: list[PublicQuestion]
    queue: list[str]
    screen: str
    mine: list[OwnQuestion]
    announcements: list[AnnouncementView] = []
    floor: list[FloorView] = []  # your own requests for the floor


class ModeratorSnapshot(Outbound, tag="snapshot"):
    id: str
    epoch: str
    questions: list[ModeratorQuestion]
    queue: list[str]
    screen: str
    moderators: list[str] = []
    banned: list[str] = []
    announcements: list[AnnouncementView] = []
    floor: list[FloorView] = []  # every request for the floor
    speakers: list[str] = []  # the speakers' list, in order
    speaking: str = ""  # the request that has the floor
    screen_mode: ScreenMode = ScreenMode.QUESTION


class ScreenSnapshot(Outbound, tag="snapshot"):
    id: str
    epoch: str
    event: EventView
    question: ScreenQuestion | None
    mode: ScreenMode = ScreenMode.QUESTION
    speaking: FloorView | None = None
    next: FloorView | None = None


class Resumed(Outbound, tag="resumed"):
    """Replay follows: every frame after `from_id` up to the live stream; keep what you hold."""

    from_id: str


class PublicUpdate(Outbound, tag="update"):
    """One change: a question added or changed, one gone from public view, a new queue order, the screen.

    A new order comes whole (`queue`) or as the one step that made it: `place` = (qid, the qid it now follows,
    "" for the head) when a question joined the queue or moved in it, `unqueue` = the qid that left it."""

    id: str
    question: PublicQuestion | None = None
    removed: str = ""
    queue: list[str] | None = None
    place: tuple[str, str] | None = None
    unqueue: str = ""
    screen: str | None = None
    group: PublicQuestion | None = None  # the group `question` joined or left (merged, split off), updated


class ModeratorUpdate(Outbound, tag="update"):
    id: str
    floor: list[FloorView] | None = None  # requests for the floor that changed
    speakers: list[str] | None = None
    speaking: str | None = None
    screen_mode: ScreenMode | None = None
    question: ModeratorQuestion | None = None
    group: ModeratorQuestion | None = None  # the head of the group `question` joined or left
    also: list[ModeratorQuestion] | None = None  # questions that moved along into that group
    queue: list[str] | None = None
    screen: str | None = None
    banned: list[str] | None = None


class ScreenUpdate(Outbound, tag="screen"):
    id: str
    question: ScreenQuestion | None


class ScreenFloor(Outbound, tag="floor"):
    """What the screen shows changed mode, or who has the floor or is next changed."""

    id: str
    mode: ScreenMode
    speaking: FloorView | None = None
    next: FloorView | None = None


class OwnFloor(Outbound, tag="own_floor"):
    """One of your requests for the floor changed (sent to you alone)."""

    id: str
    request: FloorView


class FloorAck(Outbound, tag="floor_ack"):
    """Your request for the floor is stored: `fid` is its id."""

    cid: str
    fid: str


class Votes(Outbound, tag="votes"):
    """New tallies, possibly several coalesced: {question id: votes}."""

    id: str
    votes: dict[str, int]


class EventChanged(Outbound, tag="event"):
    id: str
    event: EventView


class AnnouncementFrame(Outbound, tag="announcement"):
    """A message from the moderators."""

    id: str
    text: str
    at: int


class TransferCode(Outbound, tag="transfer_code"):
    """Type this code on the other device within `expires_in_s` seconds; it works once."""

    code: str
    expires_in_s: int


class Own(Outbound, tag="own"):
    """One of your own questions changed (sent to its asker alone)."""

    id: str
    question: OwnQuestion


class Ack(Outbound, tag="ack"):
    """Your submission is stored durably. `text` is the text as stored."""

    cid: str
    qid: str
    id: str
    text: str


class Done(Outbound, tag="done"):
    """Your action was applied at log id `id` (empty when it changed nothing)."""

    ref: str
    id: str


class Error(Outbound, tag="error"):
    """What went wrong, with what it is about: the action's `ref`, the submission's `cid`, or the question's `qid`."""

    code: str
    detail: str = ""
    ref: str = ""
    cid: str = ""
    qid: str = ""
    retry_after_ms: int = 0


class Presence(Outbound, tag="presence"):
    """Who is moderating now, on any server process."""

    id: str
    moderators: list[str]


class Pong(Outbound, tag="pong"):
    pass


class SimilarQuestion(msgspec.Struct, kw_only=True):
    id: str
    text: str
    score: float  # 0..1


class Similar(Outbound, tag="similar"):
    """Public questions like the draft sent with `ref`, most alike first (none is a match: send yours)."""

    ref: str
    questions: list[SimilarQuestion]


class Batch(Outbound, tag="batch"):
    """Several frames at once, in log order, to be applied one after the other: participants get at most one frame
    every 100 ms, carrying every change since the last. Moderators and screens get each change as it comes."""

    id: str  # the last frame's
    frames: list[PublicUpdate | Votes | EventChanged | AnnouncementFrame | Own | OwnFloor]


ParticipantFrame = (
    Welcome
    | PublicSnapshot
    | Resumed
    | PublicUpdate
    | Votes
    | EventChanged
    | AnnouncementFrame
    | Own
    | Batch
    | Ack
    | Error
    | Pong
    | Similar
    | OwnFloor
    | FloorAck
)
ModeratorFrame = (
    Welcome
    | ModeratorSnapshot
    | Resumed
    | ModeratorUpdate
    | Votes
    | EventChanged
    | AnnouncementFrame
    | Done
    | Error
    | Presence
    | Pong
)
ScreenFrame = Welcome | ScreenSnapshot | Resumed | ScreenUpdate | ScreenFloor | EventChanged | Error | Pong

_participant: msgspec.json.Decoder[ParticipantMessage] = msgspec.json.Decoder(ParticipantMessage)
_moderator: msgspec.json.Decoder[ModeratorMessage] = msgspec.json.Decoder(ModeratorMessage)
_screen: msgspec.json.Decoder[ScreenMessage] = msgspec.json.Decoder(ScreenMessage)
_encoder = msgspec.json.Encoder()


def decode_participant(text: str) -> ParticipantMessage:
    return _participant.decode(text)


def decode_moderator(text: str) -> ModeratorMessage:
    return _moderator.decode(text)


def decode_screen(text: str) -> ScreenMessage:
    return _screen.decode(text)


def encode(message: Outbound) -> str:
    """One text frame (browsers can't JSON.parse a binary frame's Blob)."""
    return _encoder.encode(message).decode()


def encode_json(value: msgspec.Struct) -> bytes:
    return _encoder.encode(value)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of every message, per role and direction, generated from the Structs above."""
    unions: dict[str, Any] = {
        "ParticipantMessage": ParticipantMessage,
        "ModeratorMessage": ModeratorMessage,
        "ScreenMessage": ScreenMessage,
        "ParticipantFrame": ParticipantFrame,
        "ModeratorFrame": ModeratorFrame,
        "ScreenFrame": ScreenFrame,
    }
    names = list(unions)
    schemas, components = msgspec.json.schema_components(list(unions.values()), ref_template="#/$defs/{name}")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"LiveQA WebSocket protocol ({SUBPROTOCOL})",
        "oneOf": [{"$ref": f"#/$defs/{name}"} for name in names],
        "$defs": {**components, **dict(zip(names, schemas, strict=True))},
    }
