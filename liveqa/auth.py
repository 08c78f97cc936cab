"""Moderator passwords (Argon2id), and the checks every handshake and state-changing request goes through."""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()

SESSION_COOKIE = "liveqa_session"
MIN_PASSWORD = 8


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a moderator password has at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def check_password(stored_hash: str, password: str) -> bool:
    if not stored_hash:
        return False
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def same_secret(expected: str, given: str) -> bool:
    """Constant-time comparison; an empty expected secret matches nothing."""
    return bool(expected) and hmac.compare_digest(expected.encode(), given.encode())


def origin_allowed(origin: str | None, host: str | None, scheme: str, allowed: list[str]) -> bool:
    """Whether a browser at `origin` may open a socket or post here: the same origin as the request, or one
    configured exactly. A missing Origin (not a browser) is allowed: sessions and tokens still apply."""
    if origin is None:
        return True
    if origin in allowed:
        return True
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc or origin == "null":
        return False
    expected_scheme = {"ws": "http", "wss": "https"}.get(scheme, scheme)
    return parts.scheme == expected_scheme and host is not None and parts.netloc.lower() == host.lower()
