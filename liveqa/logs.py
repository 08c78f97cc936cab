"""Logging without personal data or secrets: uvicorn's access lines lose their query strings (screen tokens
travel there) and the client's address."""

from __future__ import annotations

import logging


class RedactAccess(logging.Filter):
    """uvicorn.access records carry (client address, method, path with query, HTTP version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5:
            _, method, path, version, status = args
            record.args = ("-", method, str(path).split("?", 1)[0], version, status)
        return True


def install() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactAccess) for f in access.filters):
        access.addFilter(RedactAccess())
