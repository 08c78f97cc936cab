"""Logging without personal data or secrets: uvicorn's access and WebSocket lines lose their query strings
(screen tokens travel there) and the client's address; a client's invalid UTF-8 is one line, not a traceback."""

from __future__ import annotations

import json
import logging
import os


def _path(value: object) -> str:
    return str(value).split("?", 1)[0]


class RedactAccess(logging.Filter):
    """uvicorn.access records carry (client address, method, path with query, HTTP version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5:
            _, method, path, version, status = args
            record.args = ("-", method, _path(path), version, status)
        return True


class RedactWebSocket(logging.Filter):
    """uvicorn.error records about handshakes carry (client address, path with query[, status]); its trace lines
    start with the client's address; and the websockets library, logging through it, prints every header
    (cookies included) and frame at debug level: those are dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno <= logging.DEBUG and f"{os.sep}websockets{os.sep}" in record.pathname:
            return False
        args = record.args
        if isinstance(record.msg, str) and record.msg.startswith("%s") and isinstance(args, tuple) and args:
            if record.msg.startswith("%sWebSocket"):  # uvicorn's trace lines: the prefix is the client address
                record.args = ("", *args[1:])
        if isinstance(record.msg, str) and '"WebSocket ' in record.msg and isinstance(args, tuple) and len(args) >= 2:
            record.args = ("-", _path(args[1]), *args[2:])
        if record.msg == "Invalid UTF-8 sequence received from client.":
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def install() -> None:
    for name, kind in (("uvicorn.access", RedactAccess), ("uvicorn.error", RedactWebSocket)):
        target = logging.getLogger(name)
        if not any(isinstance(f, kind) for f in target.filters):
            target.addFilter(kind())


# Fields a log line may carry besides its message: an allowlist, so nothing personal slips in through `extra`.
EXTRA_FIELDS = ("event", "conn", "audience", "close_code", "error", "keys", "path")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, and the allowlisted extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in EXTRA_FIELDS:
            if (value := record.__dict__.get(name)) is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def config(log_format: str, level: str) -> dict[str, object]:
    """A logging dictConfig for uvicorn.run(log_config=…): our lines and uvicorn's in one format, redacted."""
    formatter: dict[str, object] = (
        {"()": "liveqa.logs.JsonFormatter"}
        if log_format == "json"
        else {"format": "%(asctime)s %(levelname)-7s %(name)s: %(message)s"}
    )
    handler = {"class": "logging.StreamHandler", "formatter": "default", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "filters": {
            "access": {"()": "liveqa.logs.RedactAccess"},
            "websocket": {"()": "liveqa.logs.RedactWebSocket"},
        },
        "handlers": {"default": handler},
        "loggers": {
            "uvicorn.access": {"level": level.upper(), "filters": ["access"]},
            "uvicorn.error": {"level": level.upper(), "filters": ["websocket"]},
            "uvicorn": {"level": level.upper()},
        },
        "root": {"handlers": ["default"], "level": level.upper()},
    }
