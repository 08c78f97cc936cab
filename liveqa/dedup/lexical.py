"""Cheap lexical signals between two questions: shared words, shared character trigrams, length, numbers.

A question's Profile is computed once (when it enters the index) so that comparing a new question with its
candidates costs a few set operations each.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from liveqa.dedup import conflicts
from liveqa.dedup.normalize import language, tokens


@dataclass(frozen=True, slots=True)
class Profile:
    """What the lexical signals need from one text."""

    key: str  # equal keys: an exact repeat
    words: frozenset[str]
    language: str  # ar, en, es, fr, ru, zh, or a script name (a guess, see normalize.language)
    length: int  # words (each Chinese character counts as one)
    first: str  # the first word ("how", "what", "почему", …)
    marks: conflicts.Marks  # places, numbers and asks, for the conflict checks


def profile(text: str) -> Profile:
    words = tokens(text)
    return Profile(
        key=" ".join(words),
        words=frozenset(words),
        language=language(text),
        length=len(words),
        first=words[0] if words else "",
        marks=conflicts.marks(text),
    )


@lru_cache(maxsize=4096)
def trigrams(key: str) -> frozenset[str]:
    """The character trigrams of a key, with a space at each end (computed when compared, not kept)."""
    padded = f" {key} "
    return frozenset(padded[i : i + 3] for i in range(len(padded) - 2))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 0.0
    shared = len(a & b)
    return shared / (len(a) + len(b) - shared)


def length_ratio(a: Profile, b: Profile) -> float:
    return min(a.length, b.length) / max(a.length, b.length, 1)


__all__ = ["Profile", "jaccard", "length_ratio", "profile", "trigrams"]
