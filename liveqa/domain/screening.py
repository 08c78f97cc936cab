"""Word lists that hold a question for review: matching that ignores case and accents, in every script."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

LANGUAGES = ("ar", "en", "es", "fr", "ru", "zh")
_WORD = re.compile(r"\w+")
_SCRIPTIO_CONTINUA = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")  # Chinese (and Japanese) text
_ARABIC_FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ـ": None})


def fold(text: str) -> str:
    """Lowercase, compatibility-normalised, without accents or Arabic diacritics and letter variants."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", bare).translate(_ARABIC_FOLD)


@dataclass(frozen=True)
class WordList:
    """Entries: whole words or phrases, prefixes (`word*`), and Chinese substrings."""

    phrases: frozenset[tuple[str, ...]] = frozenset()
    prefixes: tuple[str, ...] = ()
    substrings: tuple[str, ...] = ()
    longest: int = field(default=1)

    @classmethod
    def of(cls, entries: Iterable[str]) -> WordList:
        phrases: set[tuple[str, ...]] = set()
        prefixes: list[str] = []
        substrings: list[str] = []
        for raw in entries:
            entry = fold(raw.split("#", 1)[0].strip())
            if not entry:
                continue
            if _SCRIPTIO_CONTINUA.search(entry):
                substrings.append(entry.rstrip("*"))
            elif entry.endswith("*") and " " not in entry:
                prefixes.append(entry[:-1])
            else:
                phrases.add(tuple(_WORD.findall(entry)))
        longest = max((len(p) for p in phrases), default=1)
        return cls(frozenset(phrases), tuple(sorted(set(prefixes))), tuple(sorted(set(substrings))), longest)

    def __or__(self, other: WordList) -> WordList:
        return WordList(
            self.phrases | other.phrases,
            tuple(sorted(set(self.prefixes) | set(other.prefixes))),
            tuple(sorted(set(self.substrings) | set(other.substrings))),
            max(self.longest, other.longest),
        )

    def match(self, text: str) -> str:
        """The first entry the text matches, or ''."""
        folded = fold(text)
        for entry in self.substrings:
            if entry in folded:
                return entry
        words = _WORD.findall(folded)
        for i, word in enumerate(words):
            if word.startswith(self.prefixes) and self.prefixes:
                return next(p + "*" for p in self.prefixes if word.startswith(p))
            for size in range(1, min(self.longest, len(words) - i) + 1):
                if tuple(words[i : i + size]) in self.phrases:
                    return " ".join(words[i : i + size])
        return ""


def bundled(language: str) -> list[str]:
    return files("liveqa").joinpath("wordlists", f"{language}.txt").read_text("utf-8").splitlines()


def load(directory: str = "") -> WordList:
    """The bundled lists, each replaced by the operator's file of the same name in `directory`, plus any other
    `*.txt` file there."""
    entries: list[str] = []
    folder = Path(directory) if directory else None
    for language in LANGUAGES:
        own = folder / f"{language}.txt" if folder else None
        entries += own.read_text("utf-8").splitlines() if own and own.exists() else bundled(language)
    if folder:
        for extra in sorted(folder.glob("*.txt")):
            if extra.stem not in LANGUAGES:
                entries += extra.read_text("utf-8").splitlines()
    return WordList.of(entries)
