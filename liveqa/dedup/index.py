"""One event's questions, in memory, for finding the ones a new question repeats.

Three layers: an exact repeat (same normalised text) is merged; otherwise the questions nearest by embedding
cosine are scored by a small logistic blend of cheap signals (cosine, shared words and character trigrams,
length ratio, languages, numbers and places), and the best one decides: MERGE at MERGE_AT or more when no
conflict (place, number, opposite ask) stands between the two, SUGGEST at SUGGEST_AT or more, NEW below.
The weights and thresholds were fitted on development data by `bench/dedup_eval.py --fit` (docs/dedup.md).

Pure and synchronous: no I/O, one instance per event, not thread-safe (use it from one thread or task).
Vectors come back from `add` and `decide` so that the caller can store them (`semantic.to_bytes`) and rebuild
an index after a restart without recomputing them.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from liveqa.dedup import conflicts
from liveqa.dedup.lexical import Profile, jaccard, length_ratio, profile, trigrams, unmatched
from liveqa.dedup.semantic import Embedder, Vector, default_embedder, from_bytes

SIGNALS = (
    "cosine",
    "cosine_cross_language",  # cosine again, when the two seem to be in different languages (translations)
    "cross_language",
    "word_overlap",  # Jaccard of the folded words (0 across languages)
    "trigram_overlap",  # Jaccard of character trigrams (0 across languages)
    "content_overlap",  # Jaccard of the content words' stems (0 across languages)
    "content_unmatched",  # content words only one side has, 0..1 (0 across languages)
    "length_ratio",
    "numbers_differ",
    "places_differ",
    "same_first_word",  # "how …" / "how …" (0 across languages)
)
# Logistic regression on SIGNALS, intercept first (bench/dedup_eval.py --fit).
WEIGHTS = (-8.008, 8.418, 2.717, 1.259, -1.813, 1.151, 1.849, 1.315, 0.11, -0.679, -0.204, -0.24)
SUGGEST_AT = 0.34  # possible duplicate: shown to moderators with a one-click merge
MERGE_AT = 0.75  # merged automatically (unless a conflict stands between the two)
HINT_AT = 0.25  # "similar questions" while a participant types
SHORTLIST = 12  # the nearest questions by cosine that are scored


@dataclass(frozen=True, slots=True)
class Scoring:
    """The blend's weights and the thresholds that turn its score into a decision.

    The server uses the fitted values (the module's WEIGHTS, SUGGEST_AT and MERGE_AT); bench/dedup_eval.py
    passes the weights and thresholds fitted on other folds to measure them on pairs they were not fitted on.
    """

    weights: tuple[float, ...] = WEIGHTS
    suggest_at: float = SUGGEST_AT
    merge_at: float = MERGE_AT


FITTED = Scoring()


class Outcome(enum.StrEnum):
    MERGE = "merge"
    SUGGEST = "suggest"
    NEW = "new"


@dataclass(frozen=True, slots=True)
class Match:
    """An indexed question compared with a new text."""

    id: str
    text: str
    group: str  # the group it belongs to (its own id until it is merged)
    score: float  # probability-like, 0..1 (1.0 for an exact repeat)
    cosine: float
    exact: bool
    conflicts: tuple[conflicts.Conflict, ...]


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with a new question; `match` is the question it merges with or is suggested for."""

    outcome: Outcome
    reason: str
    match: Match | None
    candidates: tuple[Match, ...]  # every match scored, best first, one per group
    vector: Vector  # the new question's vector, to store with it
    suggest_at: float = SUGGEST_AT  # the threshold the decision was made with

    @property
    def suggestions(self) -> tuple[Match, ...]:
        """Every group the question may repeat (score SUGGEST_AT or more), best first: "possible duplicate of …"."""
        return tuple(m for m in self.candidates if m.exact or m.score >= self.suggest_at)


def signals(a: Profile, b: Profile, cosine: float) -> tuple[float, ...]:
    """The blend's inputs for one pair, in the order of SIGNALS."""
    cross = 1.0 if _different_languages(a.language, b.language) else 0.0
    same = 1.0 - cross
    return (
        cosine,
        cosine * cross,
        cross,
        same * jaccard(a.words, b.words),
        same * jaccard(trigrams(a.key), trigrams(b.key)),
        same * jaccard(a.content, b.content),
        same * unmatched(a.content, b.content),
        length_ratio(a, b),
        1.0 if a.marks.numbers != b.marks.numbers else 0.0,
        1.0 if a.marks.places != b.marks.places else 0.0,
        same * (1.0 if a.first == b.first and a.first else 0.0),
    )


_LATIN = frozenset({"en", "es", "fr", "latin"})


def _different_languages(a: str, b: str) -> bool:
    if a == b:
        return False
    # "latin": Latin letters without a telling word; it may be in the other's language
    return not ("latin" in (a, b) and a in _LATIN and b in _LATIN)


def blend(values: tuple[float, ...], weights: tuple[float, ...] | None = None) -> float:
    """The blended score of SIGNALS values: a logistic function, 0..1 (with the fitted WEIGHTS by default)."""
    weights = WEIGHTS if weights is None else weights
    z = weights[0] + sum(w * x for w, x in zip(weights[1:], values, strict=True))
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


class Index:
    """The questions of one event: id, text, vector, group, and whether participants may see it."""

    def __init__(self, embedder: Embedder | None = None, *, capacity: int = 256, scoring: Scoring = FITTED) -> None:
        self.embedder = embedder if embedder is not None else default_embedder()
        self.scoring = scoring
        self._matrix = np.zeros((max(capacity, 1), self.embedder.dim), dtype=np.float32)
        self._visible = np.zeros(max(capacity, 1), dtype=bool)
        self._order = np.zeros(max(capacity, 1), dtype=np.int64)  # the id as a number (0 when it is not one)
        self._ids: list[str] = []
        self._texts: list[str] = []
        self._groups: list[str] = []
        self._profiles: list[Profile] = []
        self._rows: dict[str, int] = {}
        self._keys: dict[str, set[str]] = {}

    @classmethod
    def rebuild(cls, stored: Iterable[tuple[str, str, bytes | Vector]], embedder: Embedder | None = None) -> Index:
        """An index from stored (id, text, vector) rows, without computing any embedding."""
        index = cls(embedder)
        for qid, text, vector in stored:
            index.add(qid, text, vector)
        return index

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, qid: object) -> bool:
        return qid in self._rows

    def embed(self, text: str) -> Vector:
        """The text's unit vector (what `add` stores when it is given none)."""
        vector: Vector = self.embedder.encode([text])[0]
        return vector

    def add(
        self,
        qid: str,
        text: str,
        vector: bytes | Vector | None = None,
        *,
        group: str | None = None,
        visible: bool = True,
    ) -> Vector:
        """Index a question (again, if the id is known: its text, vector, group and visibility are replaced).

        `vector` is the stored one (bytes or array) or None to compute it; the vector used is returned.
        `visible`: whether participants may see it in their "similar questions" hints (approved questions,
        or every question in an event without pre-moderation).
        """
        if isinstance(vector, bytes):
            vec = from_bytes(vector, self.embedder.dim)
        elif vector is None:
            vec = self.embed(text)
        else:
            vec = np.asarray(vector, dtype=np.float32).reshape(-1)
        if vec.shape != (self.embedder.dim,):
            raise ValueError(f"a vector has {self.embedder.dim} dimensions, not {vec.shape}")
        norm = float(np.linalg.norm(vec))
        if norm > 0:
            vec = vec / norm
        if qid in self._rows:
            self.remove(qid)
        row = len(self._ids)
        if row == len(self._matrix):
            self._matrix = np.concatenate([self._matrix, np.zeros_like(self._matrix)])
            self._visible = np.concatenate([self._visible, np.zeros_like(self._visible)])
            self._order = np.concatenate([self._order, np.zeros_like(self._order)])
        self._matrix[row] = vec
        self._visible[row] = visible
        self._order[row] = int(qid) if qid.isdigit() else 0
        prof = profile(text)
        self._ids.append(qid)
        self._texts.append(text)
        self._groups.append(group or qid)
        self._profiles.append(prof)
        self._rows[qid] = row
        self._keys.setdefault(prof.key, set()).add(qid)
        return vec

    def remove(self, qid: str) -> None:
        """Forget a question (withdrawn, rejected, erased); unknown ids are ignored."""
        row = self._rows.pop(qid, None)
        if row is None:
            return
        same_key = self._keys[self._profiles[row].key]
        same_key.discard(qid)
        if not same_key:
            del self._keys[self._profiles[row].key]
        last = len(self._ids) - 1
        if row != last:  # move the last question into the hole
            self._matrix[row] = self._matrix[last]
            self._visible[row] = self._visible[last]
            self._order[row] = self._order[last]
            self._ids[row] = self._ids[last]
            self._texts[row] = self._texts[last]
            self._groups[row] = self._groups[last]
            self._profiles[row] = self._profiles[last]
            self._rows[self._ids[row]] = row
        self._visible[last] = False
        for column in (self._ids, self._texts, self._groups, self._profiles):
            column.pop()

    def set_group(self, qid: str, group: str | None) -> None:
        """Record that a question was merged into a group (or split off again, with None)."""
        self._groups[self._rows[qid]] = group or qid

    def set_visible(self, qid: str, visible: bool = True) -> None:
        """Show a question in participants' hints (when approved), or hide it again."""
        self._visible[self._rows[qid]] = visible

    def candidates(
        self,
        text: str,
        *,
        limit: int = 5,
        min_score: float = 0.0,
        visible_only: bool = False,
        vector: Vector | None = None,
    ) -> list[Match]:
        """The indexed questions most like `text`, best first, one per group, scoring `min_score` or more.

        For the "similar questions" hint: `candidates(draft, min_score=HINT_AT, visible_only=True)`.
        """
        vec = self.embed(text) if vector is None else vector
        found = self._scored(profile(text), vec, visible_only)
        return [m for m in found if m.score >= min_score][:limit]

    def any_visible(self) -> bool:
        return bool(self._visible[: len(self._ids)].any())

    def vector(self, qid: str) -> Vector:
        vector: Vector = self._matrix[self._rows[qid]].copy()
        return vector

    def text(self, qid: str) -> str:
        return self._texts[self._rows[qid]]

    def decide(self, text: str, *, vector: Vector | None = None, before: int = 0) -> Decision:
        """MERGE, SUGGEST or NEW for a question arriving now, against every indexed question (visible or not);
        with `before`, only against questions whose numeric id is lower (those that arrived before it)."""
        vec = self.embed(text) if vector is None else vector
        prof = profile(text)
        suggest_at, merge_at = self.scoring.suggest_at, self.scoring.merge_at
        if not prof.key:
            return Decision(Outcome.NEW, "no words to compare", None, (), vec, suggest_at)
        found = tuple(self._scored(prof, vec, visible_only=False, before=before))
        for match in found:
            if match.exact:
                return Decision(Outcome.MERGE, "the same text", match, found, vec, suggest_at)
            if match.score < merge_at:
                break
            if not match.conflicts:
                return Decision(Outcome.MERGE, f"score {match.score:.2f} ≥ {merge_at}", match, found, vec, suggest_at)
        if found and found[0].score >= suggest_at:
            best = found[0]
            reason = f"score {best.score:.2f} ≥ {suggest_at}"
            if best.conflicts:
                reason += "; not merged: " + "; ".join(str(c) for c in best.conflicts)
            return Decision(Outcome.SUGGEST, reason, best, found, vec, suggest_at)
        return Decision(Outcome.NEW, "no similar question", None, found, vec, suggest_at)

    def _scored(self, prof: Profile, vector: Vector, visible_only: bool, before: int = 0) -> list[Match]:
        n = len(self._ids)
        if n == 0:
            return []
        cosines = self._matrix[:n] @ np.asarray(vector, dtype=np.float32)
        allowed = self._visible[:n] if visible_only else np.ones(n, dtype=bool)
        if before:
            allowed = allowed & (self._order[:n] < before)
        cosines = np.where(allowed, cosines, -2.0)
        k = min(SHORTLIST, n)
        rows = set(np.argpartition(-cosines, k - 1)[:k].tolist())
        rows.update(self._rows[qid] for qid in self._keys.get(prof.key, ()) if prof.key)
        matches: list[Match] = []
        for row in rows:
            if not allowed[row]:
                continue
            other = self._profiles[row]
            cosine = float(cosines[row])
            exact = bool(prof.key) and other.key == prof.key
            score = 1.0 if exact else blend(signals(prof, other, cosine), self.scoring.weights)
            found = tuple(conflicts.between(prof.marks, other.marks))
            matches.append(Match(self._ids[row], self._texts[row], self._groups[row], score, cosine, exact, found))
        matches.sort(key=lambda m: (not m.exact, -m.score, m.id))
        seen: set[str] = set()
        best: list[Match] = []
        for match in matches:
            if match.group not in seen:
                seen.add(match.group)
                best.append(match)
        return best


__all__ = [
    "FITTED",
    "HINT_AT",
    "MERGE_AT",
    "SHORTLIST",
    "SIGNALS",
    "SUGGEST_AT",
    "WEIGHTS",
    "Decision",
    "Index",
    "Match",
    "Outcome",
    "Scoring",
    "blend",
    "signals",
]
