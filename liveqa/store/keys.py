"""Every Redis key LiveQA uses. All keys of one event share the hash tag {slug}, so each script touches one
slot and the same code runs on Redis Cluster."""

from __future__ import annotations

PREFIX = "liveqa"
SCHEMA_VERSION = 2  # 2: duplicate grouping (migrations.py)


def events() -> str:
    """Set of all event slugs (the one key outside any event)."""
    return f"{PREFIX}:events"


def operators() -> str:
    """Hash: sha256(operator API token) → operator name. Outside any event."""
    return f"{PREFIX}:operators"


def organisations() -> str:
    """Hash: organisation id → JSON: the deployment's organisation directory (outside any event)."""
    return f"{PREFIX}:orgs"


def organisations_version() -> str:
    """Counter bumped by every change of the directory: processes reload their copy when it moves. Its hash tag
    puts it in the directory's slot (a key without braces hashes whole), so both change in one transaction on
    Redis Cluster too."""
    return f"{PREFIX}:orgs:{{{organisations()}}}:version"


def webhooked() -> str:
    """Set of the slugs of events that have webhooks (the dispatcher reads their logs)."""
    return f"{PREFIX}:webhooked"


def webhooks(slug: str) -> str:
    """Hash: webhook id → JSON {url, secret, events}."""
    return f"{_event(slug)}:webhooks"


def deliveries(slug: str) -> str:
    """Stream: the webhook delivery log (capped)."""
    return f"{_event(slug)}:deliveries"


def deleted(slug: str) -> str:
    """Tombstone of a deleted event: running servers close its sockets instead of restoring it."""
    return f"{PREFIX}:deleted:{slug}"


def _event(slug: str) -> str:
    return f"{PREFIX}:{{{slug}}}"


def meta(slug: str) -> str:
    """Hash: title, open, anonymous_allowed, max_length, epoch, screen — all of it public."""
    return f"{_event(slug)}:meta"


def secrets(slug: str) -> str:
    """Hash: moderator password hash and screen token. Never copied into the log."""
    return f"{_event(slug)}:secrets"


def log(slug: str) -> str:
    """Stream: the event log. Every mutation appends one entry; clients resume by its ids."""
    return f"{_event(slug)}:log"


def seq(slug: str) -> str:
    """Counter for question numbers."""
    return f"{_event(slug)}:seq"


def questions(slug: str) -> str:
    """Sorted set of every question id by creation time."""
    return f"{_event(slug)}:questions"


def question_prefix(slug: str) -> str:
    """Prefix of question hashes; scripts that create or look up questions by id append the id."""
    return f"{_event(slug)}:q:"


def question(slug: str, qid: str) -> str:
    return f"{question_prefix(slug)}{qid}"


def voters(slug: str, qid: str) -> str:
    """Set of participant ids who upvoted the question."""
    return f"{question(slug, qid)}:voters"


def queue(slug: str) -> str:
    """List: the approved queue, in the moderators' order."""
    return f"{_event(slug)}:queue"


def submissions(slug: str) -> str:
    """Hash: '<pid>:<cid>' → '<qid> <log id>', so a resent submission is never stored twice."""
    return f"{_event(slug)}:cids"


def channels(slug: str) -> str:
    """Hash: sha256(channel token) → channel name (email bridge, hashtag, form…)."""
    return f"{_event(slug)}:channels"


def banned(slug: str) -> str:
    """Set of participant ids barred from submitting and voting."""
    return f"{_event(slug)}:banned"


def moderator_accounts(slug: str) -> str:
    """Hash: casefolded moderator name → JSON {name, hash (argon2)}: personal logins beside the event password."""
    return f"{_event(slug)}:moderators"


def participant_tokens(slug: str) -> str:
    """Hash: sha256(participant token) → participant id."""
    return f"{_event(slug)}:ptokens"


def transfer(slug: str, code: str) -> str:
    """String: a one-time code a participant shows on one device to carry their identity to another."""
    return f"{_event(slug)}:transfer:{code}"


def rate(slug: str, who: str, action: str) -> str:
    """Token bucket of one participant for one kind of action."""
    return f"{_event(slug)}:rate:{action}:{who}"


def presence(slug: str) -> str:
    """Sorted set: '<console id> <moderator name>' → expiry (ms)."""
    return f"{_event(slug)}:presence"


def sessions_pattern(slug: str) -> str:
    return f"{_event(slug)}:session:*"


def session(slug: str, sid_hash: str) -> str:
    """A moderator's session: the moderator's display name, with an idle expiry."""
    return f"{_event(slug)}:session:{sid_hash}"


def request(slug: str, token: str) -> str:
    """String, for ten seconds: the reply to one request (a batch of votes, a moderator's action), for a repeat of it
    (a client's retry) to get the same reply."""
    return f"{_event(slug)}:request:{token}"


def audit(slug: str) -> str:
    """Stream: who did what, when (moderators and operators), append-only."""
    return f"{_event(slug)}:audit"


def report(slug: str) -> str:
    """Hash: the aggregate figures kept after personal data is erased."""
    return f"{_event(slug)}:report"


def invites(slug: str) -> str:
    """Hash: invite code → organisation id: per-organisation codes that mark a participant as that organisation."""
    return f"{_event(slug)}:invites"


def invited(slug: str) -> str:
    """Hash: participant id → the organisation id an invite code gave them."""
    return f"{_event(slug)}:invited"


def floor_prefix(slug: str) -> str:
    """Prefix of the hashes of requests for the floor (+ their number)."""
    return f"{_event(slug)}:floor:"


def floor_seq(slug: str) -> str:
    return f"{_event(slug)}:floorseq"


def floor_requests(slug: str) -> str:
    """Sorted set of every request for the floor by time; and a hash '<pid>:<cid>' → id beside it."""
    return f"{_event(slug)}:floorreqs"


def floor_cids(slug: str) -> str:
    return f"{_event(slug)}:floorcids"


def speakers(slug: str) -> str:
    """List: the speakers' list, in the moderators' order (requests listed, not yet called)."""
    return f"{_event(slug)}:speakers"


def members(slug: str, qid: str) -> str:
    """Set of the ids of the questions merged into this one (it is their group's head)."""
    return f"{question(slug, qid)}:members"


def vectors(slug: str) -> str:
    """Hash: question id → '<model id>:<base64 little-endian float16 vector>', its sentence embedding, kept so
    that a restarted process rebuilds its similarity index without recomputing."""
    return f"{_event(slug)}:vectors"


def grouped(slug: str) -> str:
    """String: the highest question number the grouping step has decided on (every lower one is decided)."""
    return f"{_event(slug)}:grouped"


def grouper(slug: str) -> str:
    """String with expiry: the process currently running the event's grouping step (a lease)."""
    return f"{_event(slug)}:grouper"


def event_keys_pattern(slug: str) -> str:
    """Every key of one event, for deletion and for the tests that scan them."""
    return f"{_event(slug)}:*"
