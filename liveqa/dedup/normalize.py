"""Text as the duplicate finder compares it: folded, tokenised, and keyed for exact repeats.

Folding is for matching only (the question keeps its own text): compatibility-normalised (NFKC), case-folded,
without accents or Arabic diacritics and letter variants, with the digits of every script as ASCII digits.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Arabic letter variants people type interchangeably, and the tatweel (a stretching stroke).
_ARABIC_FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ـ": None})
# A word: a run of letters, marks and digits; Chinese and Japanese characters are words of their own.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+")
_HAS_CJK = re.compile(f"[{_CJK}]")


def _ascii_digits(text: str) -> str:
    if text.isascii():
        return text
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() and not c.isascii() else c for c in text)


@lru_cache(maxsize=4096)
def fold(text: str) -> str:
    """Lowercase, compatibility-normalised, accent-free text with ASCII digits (punctuation kept)."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _ascii_digits(unicodedata.normalize("NFC", bare).translate(_ARABIC_FOLD))


def tokens(text: str) -> list[str]:
    """The folded words of a text; each Chinese or Japanese character is a word of its own."""
    return _TOKEN.findall(fold(text))


def key(text: str) -> str:
    """Equal for texts that differ only in case, accents, punctuation, spacing or the script of their digits."""
    return " ".join(tokens(text))


def has_cjk(text: str) -> bool:
    """Whether the text holds Chinese or Japanese characters (written without spaces between words)."""
    return _HAS_CJK.search(text) is not None


def script(text: str) -> str:
    """The script most of the text's letters are in: latin, cyrillic, arabic, han, greek, … or "" for none."""
    counts: dict[str, int] = {}
    for char in fold(text):
        if char.isalpha():
            name = unicodedata.name(char, "")
            first = name.split(" ", 1)[0].lower()
            if first == "cjk" or first in ("hiragana", "katakana"):
                first = "han"
            counts[first] = counts.get(first, 0) + 1
    return max(counts, key=lambda s: counts[s]) if counts else ""


# Frequent words that tell English, French and Spanish apart (all three are written in Latin letters).
_FUNCTION_WORDS = {
    "en": frozenset(
        "the of and to in is are a an what how why who which when where do does did for on with be will can "
        "would should could i you it that this there their they we our your have has was were not".split()
    ),
    "fr": frozenset(
        "le les des du et est un une qui pour dans sur au aux il elle ils pas ce cette ces quel quelle quels "
        "comment pourquoi avec sont ne nous vous leur leurs ou mais tres peut etre fait a".split()
    ),
    "es": frozenset(
        "el los las del y es un una por para con se su sus al como cual cuales porque son no lo muy puede "
        "esta este estos estan hay pero donde cuando quien ha han o".split()
    ),
}
_SCRIPT_LANGUAGE = {"han": "zh", "arabic": "ar", "cyrillic": "ru"}


def language(text: str) -> str:
    """A guess good enough to tell translations apart: ar, zh, ru, en, fr, es, or the script's name."""
    found = script(text)
    if found in _SCRIPT_LANGUAGE:
        return _SCRIPT_LANGUAGE[found]
    if found != "latin":
        return found
    words = tokens(text)
    counts = {lang: sum(w in vocabulary for w in words) for lang, vocabulary in _FUNCTION_WORDS.items()}
    best = max(counts, key=lambda lang: counts[lang])
    return best if counts[best] > 0 else "latin"
