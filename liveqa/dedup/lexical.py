"""Cheap lexical signals between two questions: shared words, shared content words, character trigrams, length.

A question's Profile is computed once (when it enters the index) so that comparing a new question with its
candidates costs a few set operations each.

Content words are the folded words without the frequent function words of the six UN languages (below), each
cut to a short stem so that inflections match ("learn" / "learning", "sanction" / "sanctions", "Судан" /
"Судана"); Arabic words lose a leading conjunction, preposition or article first (والسودان → سودان).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from liveqa.dedup import conflicts
from liveqa.dedup.normalize import fold, language, tokens

# Function words (folded like the questions): left out of the content words.
_STOPWORDS = frozenset(
    fold(w)
    for w in """
    a an the of and or to in on at by for from with about into over as is are was were be been being am do does did
    done have has had will would shall should can could may might must what how why who whom whose which when where
    i me my we us our you your he him his she her it its they them their this that these those there here some any
    all not no so if then than too very just also more most much many get got one ones
    le la les l un une des du de d et ou a au aux en dans sur par pour avec sans sous est sont etre ete a ont avoir
    fait faire ce cet cette ces ca qui que qu quoi quel quelle quels quelles comment pourquoi quand combien il elle
    ils elles on nous vous je j me m te t se s leur leurs son sa ses mon ma mes ton ta tes notre votre nos vos y ne pas
    plus tres peut peuvent va vont
    el la los las lo un una unos unas de del al y o e en con sin por para sobre es son ser fue estar esta estan este
    esto estos estas ese esa que quien quienes cual cuales como cuando donde cuanto cuantos cuanta cuantas porque se
    su sus mi mis tu tus nuestro nuestra le les me te nos hay ha han muy mas puede pueden va van
    и в во на с со к ко у о об обо из за от до для по при что чем как кто где когда почему зачем какой какая какие
    каков ли ли бы же а но или это этот эта эти тот та те то его ее её их мы вы он она оно они я ты быть был была
    были будет будут есть можно нужно ну уже еще ещё очень
    في من على الى عن مع او ام ما ماذا هل هو هي هم كيف لماذا متى اين اي كم التي الذي الذين ان انه لا لم لن هذا
    هذه ذلك تلك كان كانت يكون تكون قد ثم بين عند كل بعض
    的 了 是 在 和 与 及 或 吗 呢 吧 啊 么 什 怎 样 如 何 为 哪 谁
    这 那 个 些 我 你 他 她 它 们 有 会 能 要 将 把 被 对 从
    """.split()
)
_ARABIC_CLITICS = ("وال", "بال", "فال", "كال", "لل", "ال", "و", "ف", "ب", "ل", "ك")
_ARABIC = re.compile("[\u0600-\u06ff]")
_STEM = 6  # letters kept of a Latin or Cyrillic content word


@dataclass(frozen=True, slots=True)
class Profile:
    """What the lexical signals need from one text."""

    key: str  # equal keys: an exact repeat
    words: frozenset[str]
    content: frozenset[str]  # stems of the words that are not function words
    language: str  # ar, en, es, fr, ru, zh, or a script name (a guess, see normalize.language)
    length: int  # words (each Chinese character counts as one)
    first: str  # the first word ("how", "what", "почему", …)
    marks: conflicts.Marks  # places, numbers and asks, for the conflict checks


def profile(text: str) -> Profile:
    words = tokens(text)
    return Profile(
        key=" ".join(words),
        words=frozenset(words),
        content=content_words(words),
        language=language(text),
        length=len(words),
        first=words[0] if words else "",
        marks=conflicts.marks(text),
    )


def _stem(word: str) -> str:
    if _ARABIC.match(word):
        for clitic in _ARABIC_CLITICS:
            if word.startswith(clitic) and len(word) - len(clitic) >= 3:
                return word[len(clitic) :]
        return word
    return word[:_STEM]


def content_words(words: list[str]) -> frozenset[str]:
    """Stems of the words that are not function words (each Chinese character is a word of its own)."""
    found = set()
    for word in words:
        if word in _STOPWORDS:
            continue
        stem = _stem(word)
        if stem not in _STOPWORDS:
            found.add(stem)
    return frozenset(found)


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


def unmatched(a: frozenset[str], b: frozenset[str], most: int = 6) -> float:
    """How many content words only one side has, capped at `most` and scaled to 0..1."""
    return min(len(a ^ b), most) / most


def length_ratio(a: Profile, b: Profile) -> float:
    return min(a.length, b.length) / max(a.length, b.length, 1)


__all__ = [
    "Profile",
    "content_words",
    "jaccard",
    "length_ratio",
    "profile",
    "trigrams",
    "unmatched",
]
