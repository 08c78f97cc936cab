"""Rule violations. Each carries a stable code that reaches the client in an `error` frame."""

from __future__ import annotations


class Rejected(Exception):
    """A request that breaks a rule. Reported to its sender; the socket stays open."""

    code = "rejected"

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.code)
        self.detail = detail or self.code


class InvalidText(Rejected):
    code = "invalid_text"


class InvalidAuthor(Rejected):
    code = "invalid_author"


class AnonymousNotAllowed(Rejected):
    code = "anonymous_not_allowed"


class UnknownQuestion(Rejected):
    code = "unknown_question"


class BadTransition(Rejected):
    code = "bad_transition"


class NotYours(Rejected):
    code = "not_yours"


class AlreadyVoted(Rejected):
    code = "already_voted"


class NotVoted(Rejected):
    code = "not_voted"


class NotVotable(Rejected):
    code = "not_votable"


class Conflict(Rejected):
    """The question changed since the client last saw it (optimistic concurrency on `rev`)."""

    code = "conflict"


class RateLimited(Rejected):
    code = "rate_limited"

    def __init__(self, retry_after_ms: int) -> None:
        super().__init__(f"too many requests; retry in {retry_after_ms} ms")
        self.retry_after_ms = retry_after_ms


class QuestionsClosed(Rejected):
    code = "questions_closed"


class UnknownEvent(Rejected):
    code = "unknown_event"


class Unavailable(Rejected):
    """Redis did not answer in time. The request may or may not have been applied: retry with the same id."""

    code = "unavailable"


class NotQueued(Rejected):
    code = "not_queued"


class EventExists(Rejected):
    code = "event_exists"


class Banned(Rejected):
    code = "banned"


class Forbidden(Rejected):
    code = "forbidden"


class Stale(Rejected):
    """A decision made on a view another process has moved past (internal: it never reaches a client)."""

    code = "stale"


class SessionEnded(Rejected):
    """A moderator's session ended (logged out, expired) before their action (internal: the console is closed)."""

    code = "login_required"


class UnknownRequest(Rejected):
    """No such request for the floor."""

    code = "unknown_request"
