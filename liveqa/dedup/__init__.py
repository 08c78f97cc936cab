"""Duplicate questions: exact repeats, near-duplicates and paraphrases across the six UN languages.

Pure (no Redis, no I/O but loading the embedding model from its installed package). See docs/dedup.md.

    index = Index()                                   # one per event
    index.add(qid, text, stored_vector_bytes)         # rebuild from Redis without recomputing
    decision = index.decide(new_text)                 # MERGE / SUGGEST / NEW, reason, match, vector
    index.add(new_id, new_text, decision.vector, group=..., visible=...)
    index.candidates(draft, min_score=HINT_AT, visible_only=True)   # "similar questions" while typing
"""

from __future__ import annotations

from liveqa.dedup.conflicts import Conflict
from liveqa.dedup.index import HINT_AT, MERGE_AT, SUGGEST_AT, Decision, Index, Match, Outcome
from liveqa.dedup.normalize import key
from liveqa.dedup.semantic import (
    MODEL_ID,
    Embedder,
    USEEmbedder,
    default_embedder,
    from_bytes,
    from_text,
    to_bytes,
    to_text,
)

__all__ = [
    "HINT_AT",
    "MERGE_AT",
    "MODEL_ID",
    "SUGGEST_AT",
    "Conflict",
    "Decision",
    "Embedder",
    "Index",
    "Match",
    "Outcome",
    "USEEmbedder",
    "default_embedder",
    "from_bytes",
    "from_text",
    "key",
    "to_bytes",
    "to_text",
]
