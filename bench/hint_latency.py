"""Server-side cost of the "similar questions" hint, with the server's own code: an event holding --size
approved questions (from a file, one per line), then --samples drafts (other lines of the file) each embedded
and searched exactly as `liveqa.grouping.Grouping.hints` does (embedding with the process's embedder, then
`Index.candidates(..., min_score=HINT_AT, visible_only=True)`).

    python -m bench.hint_latency --background QUESTIONS.txt [--size 10000] [--samples 500]

Prints one JSON object: index_size, samples, p50_ms, p95_ms, p99_ms, max_ms, embed_p50_ms, search_p50_ms,
hits (drafts that got at least one hint). The target (issue 3) is p95 ≤ 20 ms at 10,000 questions.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

from liveqa.dedup import HINT_AT, Index, default_embedder


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--background", type=Path, required=True, help="one question per line")
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=500)
    args = parser.parse_args(argv)
    lines = [line.strip() for line in args.background.read_text("utf-8").splitlines() if line.strip()]
    if len(lines) < args.size + args.samples:
        parser.error(f"{args.background} has {len(lines)} questions; --size + --samples need more")
    embedder = default_embedder()
    embedder.load()
    stored, drafts = lines[: args.size], lines[args.size : args.size + args.samples]
    vectors = embedder.encode(stored)
    index = Index(embedder, capacity=args.size)
    for number, (text, vector) in enumerate(zip(stored, vectors, strict=True), start=1):
        index.add(str(number), text, vector, visible=True)
    totals, embeds, searches, hits = [], [], [], 0
    for draft in drafts:
        start = time.perf_counter()
        vector = embedder.encode([draft])[0]
        embedded = time.perf_counter()
        found = index.candidates(draft, vector=vector, limit=5, min_score=HINT_AT, visible_only=True)
        done = time.perf_counter()
        hits += bool(found)
        totals.append((done - start) * 1000)
        embeds.append((embedded - start) * 1000)
        searches.append((done - embedded) * 1000)
    print(
        json.dumps(
            {
                "index_size": len(index),
                "samples": len(drafts),
                "p50_ms": round(statistics.median(totals), 2),
                "p95_ms": round(percentile(totals, 0.95), 2),
                "p99_ms": round(percentile(totals, 0.99), 2),
                "max_ms": round(max(totals), 2),
                "embed_p50_ms": round(statistics.median(embeds), 2),
                "search_p50_ms": round(statistics.median(searches), 2),
                "hits": hits,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
