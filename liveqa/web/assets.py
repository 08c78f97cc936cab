"""The pages' static files, served compact: scripts and style sheets without comments, indentation or blank
lines, translation tables without spaces. The files stay readable in the repository (no build step); what a
participant on a slow link downloads is what the page needs. Each compacted file is made once and kept while
the file is unchanged; anything that can't be compacted safely is served as it is."""

from __future__ import annotations

import hashlib
import json
import os
import re
from email.utils import formatdate

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.staticfiles import NotModifiedResponse, PathLike, StaticFiles
from starlette.types import Scope

_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".json": "application/json"}


def compact_js(source: str) -> str:
    """Drop whole-line comments, blank lines and indentation. Line breaks stay (automatic semicolons are
    unchanged); a file where that could change meaning (a template literal or a string across lines, a comment
    opened after code) comes back unchanged."""
    lines = source.split("\n")
    if any(line.count("`") % 2 or line.rstrip().endswith("\\") for line in lines):
        return source
    kept: list[str] = []
    in_comment = False
    for line in lines:
        text = line.strip()
        if in_comment or text.startswith("/*"):
            closes = text.find("*/", 0 if in_comment else 2)
            if closes >= 0 and closes != len(text) - 2:
                return source  # code (or another comment) after the comment on the same line
            in_comment = closes < 0
            continue
        if "/*" in text:
            return source
        if text and not text.startswith("//"):
            kept.append(_without_trailing_comment(text))
    return "\n".join(kept) + "\n"


def _without_trailing_comment(line: str) -> str:
    """`code; // why` → `code;`, when no quote is open before the `//` (it is not inside a string or a URL)."""
    at = line.find(" // ")
    if at < 0:
        return line
    before = line[:at]
    if any(before.count(quote) % 2 for quote in "'\"`") or "/" in before.replace("//", "") or "\\" in before:
        return line  # a quote open, or a slash that may start a regular expression: keep the line whole
    return before.rstrip()


def compact_css(source: str) -> str:
    without = _CSS_COMMENT.sub("", source)
    return "\n".join(line.strip() for line in without.split("\n") if line.strip()) + "\n"


_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def compact_html(source: str) -> str:
    """Drop comments, indentation and blank lines; a page with <pre> or a <textarea> holding text keeps them."""
    if "<pre" in source or re.search(r"<textarea[^>]*>[^<]", source):
        return source
    without = _HTML_COMMENT.sub("", source)
    return "\n".join(line.strip() for line in without.split("\n") if line.strip()) + "\n"


def compact_json(source: str) -> str:
    return json.dumps(json.loads(source), ensure_ascii=False, separators=(",", ":"))


COMPACTORS = {".js": compact_js, ".css": compact_css, ".json": compact_json}


class Assets(StaticFiles):
    """StaticFiles that serves .js, .css and .json compacted, with an ETag of what is sent."""

    def __init__(self, *, directory: str) -> None:
        super().__init__(directory=directory)
        self._compacted: dict[str, tuple[int, bytes, str]] = {}  # path → (mtime_ns, body, etag)

    def file_response(
        self, full_path: PathLike, stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        path = os.fspath(full_path)
        suffix = os.path.splitext(path)[1]
        if suffix not in COMPACTORS:
            return super().file_response(full_path, stat_result, scope, status_code)
        cached = self._compacted.get(path)
        if cached is None or cached[0] != stat_result.st_mtime_ns:
            with open(path, encoding="utf-8") as file:
                body = COMPACTORS[suffix](file.read()).encode()
            cached = (stat_result.st_mtime_ns, body, f'"{hashlib.sha256(body).hexdigest()[:32]}"')
            self._compacted[path] = cached
        _, body, etag = cached
        headers = {"etag": etag, "last-modified": formatdate(stat_result.st_mtime, usegmt=True)}
        if self.is_not_modified(Headers(headers), Headers(scope=scope)):
            return NotModifiedResponse(Headers(headers))
        return Response(body, status_code=status_code, headers=headers, media_type=MEDIA_TYPES[suffix])
