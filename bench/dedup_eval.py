"""Duplicate detection, measured with the server's own code and thresholds (liveqa.dedup), on labelled pairs.

    python -m bench.dedup_eval PAIRS.tsv --background QUESTIONS.txt [--size 10000]
    python -m bench.dedup_eval --fit PAIRS.tsv [PAIRS.tsv …]          # fit the blend on development data only

PAIRS.tsv: columns text_a, text_b, is_duplicate (0/1), optionally lang and source; QUESTIONS.txt: one
question per line. The event is filled with the first --size background questions, then for each pair
text_a is added, text_b is decided (timed: embedding, search and scoring, as when a question arrives), and
text_a is removed again. A pair counts as detected when the decision merges text_b with text_a or lists
text_a among its suggestions (Decision.suggestions: every group scoring SUGGEST_AT or more, what moderators
see as "possible duplicate of …"), and as merged only when the decision is MERGE with text_a (merging with a
background question instead is no merge with text_a). background_matched counts the decisions whose best
match was a background question.

Prints one JSON object: pairs, detect_precision, detect_recall, detect_f1, merge_false_rate (non-duplicates
merged / non-duplicates), merge_recall (duplicates merged / duplicates), p50_ms, p95_ms, index_size, and
per_language (when there is a lang column). Rows whose source is a --probe-source (default paws-x, a
word-order robustness probe) are left out of the headline figures and reported under "probe".

--fit cross-validates the blend (liveqa.dedup.index.SIGNALS) on the pairs alone (5 folds), then fits it on
all of them and prints the weights and thresholds to put into liveqa/dedup/index.py, with the fold figures.
Never fit on data you then report as held-out.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from liveqa.dedup import conflicts
from liveqa.dedup.index import MERGE_AT, SIGNALS, SUGGEST_AT, Index, Outcome, blend, signals
from liveqa.dedup.lexical import profile
from liveqa.dedup.semantic import default_embedder

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    duplicate: bool
    lang: str
    source: str


def read_pairs(path: Path) -> list[Pair]:
    with path.open(encoding="utf-8", newline="") as f:
        return [
            Pair(r["text_a"], r["text_b"], r["is_duplicate"].strip() == "1", r.get("lang") or "", r.get("source") or "")
            for r in csv.DictReader(f, delimiter="\t")
        ]


def read_background(path: Path, size: int) -> list[str]:
    with path.open(encoding="utf-8") as f:
        lines = [line.strip() for line in f if line.strip()]
    if len(lines) < size:
        sys.exit(f"{path} has {len(lines)} questions, fewer than --size {size}")
    return lines[:size]


def figures(pairs: Sequence[Pair], detected: Sequence[bool], merged: Sequence[bool]) -> dict[str, Any]:
    """Precision, recall and F1 of detection (merge or suggest), and the merge rates."""
    tp = sum(p.duplicate and d for p, d in zip(pairs, detected, strict=True))
    fp = sum(not p.duplicate and d for p, d in zip(pairs, detected, strict=True))
    dups = sum(p.duplicate for p in pairs)
    non = len(pairs) - dups
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / dups if dups else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    merged_dup = sum(p.duplicate and m for p, m in zip(pairs, merged, strict=True))
    merged_non = sum(not p.duplicate and m for p, m in zip(pairs, merged, strict=True))
    return {
        "pairs": len(pairs),
        "detect_precision": round(precision, 4),
        "detect_recall": round(recall, 4),
        "detect_f1": round(f1, 4),
        "merge_false_rate": round(merged_non / non, 4) if non else 0.0,
        "merge_recall": round(merged_dup / dups, 4) if dups else 0.0,
    }


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def evaluate(pairs_path: Path, background: Path, size: int, probe_sources: set[str]) -> dict[str, Any]:
    pairs = read_pairs(pairs_path)
    embedder = default_embedder()
    embedder.load()
    index = Index(embedder, capacity=size + 1)
    questions = read_background(background, size)
    started = time.perf_counter()
    for start in range(0, len(questions), 256):
        batch = questions[start : start + 256]
        for offset, (text, vector) in enumerate(zip(batch, embedder.encode(batch), strict=True)):
            index.add(f"bg{start + offset}", text, vector)
    fill_s = time.perf_counter() - started

    detected: list[bool] = []
    merged: list[bool] = []
    timings: list[float] = []
    other_won = 0
    for pair in pairs:
        index.add("a", pair.a)
        t0 = time.perf_counter()
        decision = index.decide(pair.b)
        timings.append((time.perf_counter() - t0) * 1000)
        index.remove("a")
        merged.append(decision.outcome is Outcome.MERGE and decision.match is not None and decision.match.id == "a")
        detected.append(merged[-1] or any(m.id == "a" for m in decision.suggestions))
        if decision.match is not None and decision.match.id != "a":
            other_won += 1

    headline = [i for i, p in enumerate(pairs) if p.source not in probe_sources]
    probe = [i for i, p in enumerate(pairs) if p.source in probe_sources]

    def subset(rows: list[int]) -> dict[str, Any]:
        return figures([pairs[i] for i in rows], [detected[i] for i in rows], [merged[i] for i in rows])

    result = subset(headline)
    result |= {
        "p50_ms": round(percentile(timings, 0.50), 2),
        "p95_ms": round(percentile(timings, 0.95), 2),
        "index_size": size,
        "fill_seconds": round(fill_s, 1),
        "background_matched": other_won,
        "thresholds": {"suggest_at": SUGGEST_AT, "merge_at": MERGE_AT},
    }
    if any(p.lang for p in pairs):
        langs = sorted({pairs[i].lang for i in headline})
        result["per_language"] = {lang: subset([i for i in headline if pairs[i].lang == lang]) for lang in langs}
    if probe:
        result["probe"] = subset(probe) | {"sources": sorted(probe_sources)}
        langs = sorted({pairs[i].lang for i in probe})
        result["probe"]["per_language"] = {lang: subset([i for i in probe if pairs[i].lang == lang]) for lang in langs}
    return result


# --- fitting the blend (development data only) ---


def _design(pairs: Sequence[Pair]) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """SIGNALS for every pair (intercept column first), and whether a conflict blocks merging it."""
    embedder = default_embedder()
    texts = sorted({t for p in pairs for t in (p.a, p.b)})
    vectors = dict(zip(texts, embedder.encode(texts), strict=True))
    rows: list[tuple[float, ...]] = []
    blocked: list[bool] = []
    for p in pairs:
        pa, pb = profile(p.a), profile(p.b)
        rows.append((1.0, *signals(pa, pb, float(vectors[p.a] @ vectors[p.b]))))
        blocked.append(bool(conflicts.between(pa.marks, pb.marks)) and pa.key != pb.key)
    return np.array(rows), np.array(blocked)


def _logistic(x: FloatArray, y: FloatArray, weight: FloatArray, l2: float) -> FloatArray:
    """Weighted, L2-regularised logistic regression (the intercept unpenalised), by Newton's method."""
    beta = np.zeros(x.shape[1])
    penalty = np.full(x.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ beta, -60, 60)))
        gradient = x.T @ (weight * (p - y)) + penalty * beta
        hessian = (x.T * (weight * p * (1 - p))) @ x + np.diag(penalty) + 1e-9 * np.eye(x.shape[1])
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return beta


def _f1(score: FloatArray, y: FloatArray, at: float) -> float:
    predicted = score >= at
    tp = float((predicted & (y == 1)).sum())
    return 2 * tp / max(float(predicted.sum() + y.sum()), 1.0)


def _merge_rates(score: FloatArray, y: FloatArray, blocked: npt.NDArray[np.bool_], at: float) -> tuple[float, float]:
    merged = (score >= at) & ~blocked
    return float((merged & (y == 0)).sum() / max((y == 0).sum(), 1)), float((merged & (y == 1)).sum() / max(y.sum(), 1))


def _thresholds(
    score: FloatArray, y: FloatArray, blocked: npt.NDArray[np.bool_], group: npt.NDArray[np.int_], max_false: float
) -> tuple[float, float]:
    """SUGGEST_AT: best mean F1 over the groups; MERGE_AT: the lowest with merge false rate ≤ max_false in each."""
    grid = [round(t, 2) for t in np.arange(0.05, 0.995, 0.01)]
    groups = sorted(set(group.tolist()))

    def mean_f1(at: float) -> float:
        return statistics.fmean(_f1(score[group == g], y[group == g], at) for g in groups)

    suggest = max(grid, key=mean_f1)
    merge = next(
        (
            at
            for at in grid
            if all(
                _merge_rates(score[group == g], y[group == g], blocked[group == g], at)[0] <= max_false for g in groups
            )
        ),
        grid[-1],
    )
    return suggest, max(merge, suggest)


def fit(paths: Sequence[Path], probe_sources: set[str], folds: int, l2: float, max_false: float) -> dict[str, Any]:
    pairs: list[Pair] = []
    group_list: list[int] = []
    names: list[str] = []
    for g, path in enumerate(paths):
        kept = [p for p in read_pairs(path) if p.source not in probe_sources]
        pairs += kept
        group_list += [g] * len(kept)
        names.append(path.name)
    x, blocked = _design(pairs)
    y = np.array([1.0 if p.duplicate else 0.0 for p in pairs])
    group = np.array(group_list)
    counts = np.bincount(group)
    weight = (len(pairs) / (len(counts) * counts))[group]  # each file weighs the same

    order = np.random.default_rng(20240601).permutation(len(pairs))
    per_fold: list[dict[str, Any]] = []
    for k, test in enumerate(np.array_split(order, folds)):
        train = np.setdiff1d(order, test)
        beta = _logistic(x[train], y[train], weight[train], l2)
        score_train = 1 / (1 + np.exp(-(x[train] @ beta)))
        suggest, merge = _thresholds(score_train, y[train], blocked[train], group[train], max_false)
        score = 1 / (1 + np.exp(-(x[test] @ beta)))
        fold: dict[str, Any] = {"fold": k, "suggest_at": suggest, "merge_at": merge}
        for g, name in enumerate(names):
            m = group[test] == g
            false, recall = _merge_rates(score[m], y[test][m], blocked[test][m], merge)
            fold[name] = {
                "detect_f1": round(_f1(score[m], y[test][m], suggest), 4),
                "merge_false_rate": round(false, 4),
                "merge_recall": round(recall, 4),
            }
        per_fold.append(fold)

    beta = _logistic(x, y, weight, l2)
    score = 1 / (1 + np.exp(-(x @ beta)))
    suggest, merge = _thresholds(score, y, blocked, group, max_false)
    weights = tuple(round(float(b), 3) for b in beta)
    check = blend(tuple(x[0, 1:]), weights)
    summary: dict[str, Any] = {}
    for name in names:
        for figure in ("detect_f1", "merge_false_rate", "merge_recall"):
            values = [f[name][figure] for f in per_fold]
            summary[f"{name} {figure}"] = {
                "mean": round(statistics.fmean(values), 4),
                "stdev": round(statistics.stdev(values), 4),
            }
    return {
        "signals": ["intercept", *SIGNALS],
        "WEIGHTS": weights,
        "SUGGEST_AT": suggest,
        "MERGE_AT": merge,
        "l2": l2,
        "max_merge_false_rate_on_dev": max_false,
        "pairs": {name: int(c) for name, c in zip(names, counts, strict=True)},
        "cross_validation": summary,
        "folds": per_fold,
        "check_first_pair_score": round(check, 4),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pairs", type=Path, nargs="+", help="TSV of labelled pairs (--fit: one or more)")
    parser.add_argument("--background", type=Path, help="one question per line, to fill the event")
    parser.add_argument("--size", type=int, default=10_000, help="background questions in the event (10,000)")
    parser.add_argument("--probe-source", action="append", help="source reported apart (default: paws-x)")
    parser.add_argument("--fit", action="store_true", help="cross-validate and fit the blend instead")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--l2", type=float, default=1.0)
    parser.add_argument("--max-merge-false-rate", type=float, default=0.03, help="MERGE_AT's limit on dev")
    args = parser.parse_args(argv)
    probe = set(args.probe_source or ["paws-x"])
    if args.fit:
        result = fit(args.pairs, probe, args.folds, args.l2, args.max_merge_false_rate)
    else:
        if len(args.pairs) != 1 or args.background is None:
            parser.error("evaluation takes one PAIRS.tsv and --background FILE")
        result = evaluate(args.pairs[0], args.background, args.size, probe)
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
