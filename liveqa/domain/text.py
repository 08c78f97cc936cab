"""Question text as stored: normalised, free of control and bidi-override characters, limited in length."""

from __future__ import annotations

import re
import unicodedata

import regex

from liveqa.domain.errors import InvalidText

MAX_LINES = 10
# C0/C1 controls except newline and tab, bidi embeddings/overrides/isolates, and the BOM.
_FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufeff]")
_EDGE_INVISIBLE = "\u200b\u200c\u200d\u2060 \t\n\r\u00a0\u3000"
_SPACES = re.compile(r"[ \t\u00a0\u3000]+")
_GRAPHEME = regex.compile(r"\X")


def graphemes(text: str) -> int:
    """How many characters a reader sees (extended grapheme clusters), as the pages count them."""
    return len(_GRAPHEME.findall(text))


def clean(text: str, *, max_length: int) -> str:
    """Normalise a question's text, or raise InvalidText saying why it can't be stored."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _FORBIDDEN.sub("", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    # Collapse runs of blank lines and keep at most MAX_LINES lines.
    kept: list[str] = []
    for line in lines:
        if line or (kept and kept[-1]):
            kept.append(line)
    text = "\n".join(kept[:MAX_LINES]).strip(_EDGE_INVISIBLE)
    if not text:
        raise InvalidText("the question is empty")
    if graphemes(text) > max_length:
        raise InvalidText(f"the question is longer than {max_length} characters")
    return text
