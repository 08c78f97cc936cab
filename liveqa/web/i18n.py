"""The pages' language: chosen per request (?lang=, the language picker's cookie, then the browser's
Accept-Language), and that language's messages put into the page, English under any key a translation lacks,
so a page needs no second request for its words. The tables are static/i18n/<page>.<lang>.json."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from starlette.requests import Request

LANGUAGES = ("ar", "en", "es", "fr", "ru", "zh")
COOKIE = "liveqa_lang"


def choose(request: Request) -> str:
    """The language to show, one of LANGUAGES."""
    for wanted in (request.query_params.get("lang", ""), request.cookies.get(COOKIE, "")):
        if wanted.lower() in LANGUAGES:
            return wanted.lower()
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(request.headers.get("accept-language", "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        base = tag.strip().lower().split("-")[0]
        if base in LANGUAGES and quality > 0:
            ranked.append((-quality, position, base))
    return min(ranked)[2] if ranked else "en"


def localize(html: str, static_dir: str, page: str, lang: str) -> str:
    """The page with `lang` and `dir` on <html> and its messages in a JSON data block (never executed)."""
    messages, direction = _messages(static_dir, page, lang, _stamp(static_dir, page, lang))
    html = html.replace('<html lang="en">', f'<html lang="{lang}" dir="{direction}">', 1)
    block = f'<script type="application/json" id="messages">{messages}</script>\n'
    return html.replace("</head>", block + "</head>", 1)


def _stamp(static_dir: str, page: str, lang: str) -> tuple[int, ...]:
    files = (Path(static_dir) / "i18n" / f"{page}.{code}.json" for code in ("en", lang))
    return tuple(f.stat().st_mtime_ns if f.exists() else 0 for f in files)


@functools.lru_cache(maxsize=128)
def _messages(static_dir: str, page: str, lang: str, stamp: tuple[int, ...]) -> tuple[str, str]:
    folder = Path(static_dir) / "i18n"
    table = json.loads((folder / f"{page}.en.json").read_text("utf-8"))
    translated = folder / f"{page}.{lang}.json"
    if lang != "en" and translated.exists():
        table.update(json.loads(translated.read_text("utf-8")))
    direction = "rtl" if table.get("_dir") == "rtl" else "ltr"
    text = json.dumps(table, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")  # no markup at all
    return text, direction


__all__ = ["COOKIE", "LANGUAGES", "choose", "localize"]
