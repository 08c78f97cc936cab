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
from liveqa.dedup.index import FITTED, SIGNALS, Index, Outcome, Scoring, blend, signals
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


def fill_event(background: Path, size: int) -> tuple[Index, float]:
    """An index holding the first `size` background questions (embedded in batches), and the seconds it took."""
    embedder = default_embedder()
    embedder.load()
    index = Index(embedder, capacity=size + 1)
    questions = read_background(background, size)
    started = time.perf_counter()
    for start in range(0, len(questions), 256):
        batch = questions[start : start + 256]
        for offset, (text, vector) in enumerate(zip(batch, embedder.encode(batch), strict=True)):
            index.add(f"bg{start + offset}", text, vector)
    return index, time.perf_counter() - started


@dataclass
class Outcomes:
    """What the server decided for each pair."""

    detected: list[bool]
    merged: list[bool]
    timings: list[float]
    background_matched: int


def decide_pairs(index: Index, pairs: Sequence[Pair], scorings: Sequence[Scoring]) -> Outcomes:
    """For each pair: add text_a, decide text_b (timed) with the pair's scoring, remove text_a."""
    out = Outcomes([], [], [], 0)
    for pair, scoring in zip(pairs, scorings, strict=True):
        index.scoring = scoring
        index.add("a", pair.a)
        t0 = time.perf_counter()
        decision = index.decide(pair.b)
        out.timings.append((time.perf_counter() - t0) * 1000)
        index.remove("a")
        merged = decision.outcome is Outcome.MERGE and decision.match is not None and decision.match.id == "a"
        out.merged.append(merged)
        out.detected.append(merged or any(m.id == "a" for m in decision.suggestions))
        if decision.match is not None and decision.match.id != "a":
            out.background_matched += 1
    index.scoring = FITTED
    return out


def report(pairs: Sequence[Pair], got: Outcomes, probe_sources: set[str]) -> dict[str, Any]:
    """Headline figures (probe sources apart), latency, and figures per language."""
    headline = [i for i, p in enumerate(pairs) if p.source not in probe_sources]
    probe = [i for i, p in enumerate(pairs) if p.source in probe_sources]

    def subset(rows: list[int]) -> dict[str, Any]:
        return figures([pairs[i] for i in rows], [got.detected[i] for i in rows], [got.merged[i] for i in rows])

    result = subset(headline)
    result |= {
        "p50_ms": round(percentile(got.timings, 0.50), 2),
        "p95_ms": round(percentile(got.timings, 0.95), 2),
        "background_matched": got.background_matched,
    }
    if any(p.lang for p in pairs):
        langs = sorted({pairs[i].lang for i in headline})
        result["per_language"] = {lang: subset([i for i in headline if pairs[i].lang == lang]) for lang in langs}
    if probe:
        result["probe"] = subset(probe) | {"sources": sorted(probe_sources)}
        langs = sorted({pairs[i].lang for i in probe})
        result["probe"]["per_language"] = {lang: subset([i for i in probe if pairs[i].lang == lang]) for lang in langs}
    return result


def evaluate(pairs_path: Path, background: Path, size: int, probe_sources: set[str]) -> dict[str, Any]:
    """The server's fitted weights and thresholds on one file of pairs, in an event of `size` questions."""
    pairs = read_pairs(pairs_path)
    index, fill_s = fill_event(background, size)
    result: dict[str, Any] = {"measured": "development figures: the weights and thresholds were fitted on these pairs"}
    result |= report(pairs, decide_pairs(index, pairs, [FITTED] * len(pairs)), probe_sources)
    result |= {
        "index_size": size,
        "fill_seconds": round(fill_s, 1),
        "thresholds": {"suggest_at": FITTED.suggest_at, "merge_at": FITTED.merge_at},
    }
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


@dataclass
class Dataset:
    """The pairs of several files, with what fitting needs: signals, labels, file and weight of each pair."""

    pairs: list[Pair]
    names: list[str]  # file names
    group: npt.NDArray[np.int_]  # the file of each pair
    x: FloatArray  # intercept column, then SIGNALS
    y: FloatArray
    blocked: npt.NDArray[np.bool_]
    weight: FloatArray


def dataset(paths: Sequence[Path], keep: Any, balance: str) -> Dataset:
    """The pairs of every file that `keep(pair)` accepts. balance="file": each file weighs the same in the fit;
    "source": each (file, source) does (Quora, Arabic Q2Q and STSb-MT weigh a third each)."""
    pairs: list[Pair] = []
    group_list: list[int] = []
    names: list[str] = []
    for g, path in enumerate(paths):
        kept = [p for p in read_pairs(path) if keep(p)]
        pairs += kept
        group_list += [g] * len(kept)
        names.append(path.name)
    x, blocked = _design(pairs)
    y = np.array([1.0 if p.duplicate else 0.0 for p in pairs])
    group = np.array(group_list)
    if balance == "source":
        labels = [f"{g}/{p.source}" for g, p in zip(group_list, pairs, strict=True)]
        codes = {label: i for i, label in enumerate(sorted(set(labels)))}
        balance_group = np.array([codes[label] for label in labels])
    else:
        balance_group = group
    counts = np.bincount(balance_group)
    weight = (len(pairs) / (len(counts) * counts))[balance_group]
    return Dataset(pairs, names, group, x, y, blocked, weight)


def fit_scoring(data: Dataset, rows: npt.NDArray[np.int_], l2: float, max_false: float) -> Scoring:
    """The blend fitted on the given rows, with SUGGEST_AT and MERGE_AT chosen on the same rows."""
    beta = _logistic(data.x[rows], data.y[rows], data.weight[rows], l2)
    score = 1 / (1 + np.exp(-(data.x[rows] @ beta)))
    suggest, merge = _thresholds(score, data.y[rows], data.blocked[rows], data.group[rows], max_false)
    return Scoring(tuple(round(float(b), 3) for b in beta), suggest, merge)


def folds_of(n: int, folds: int) -> list[npt.NDArray[np.int_]]:
    """The rows of each fold (a fixed shuffle, so that every run splits the same way)."""
    order = np.random.default_rng(20240601).permutation(n)
    return [np.sort(part) for part in np.array_split(order, folds)]


def fit(
    paths: Sequence[Path], probe_sources: set[str], folds: int, l2: float, max_false: float, balance: str
) -> dict[str, Any]:
    """Pair-level cross-validation (no event around the pairs), then the fit on all pairs."""
    data = dataset(paths, lambda p: p.source not in probe_sources, balance)
    everything = np.arange(len(data.pairs))
    per_fold: list[dict[str, Any]] = []
    for k, test in enumerate(folds_of(len(data.pairs), folds)):
        scoring = fit_scoring(data, np.setdiff1d(everything, test), l2, max_false)
        score = 1 / (1 + np.exp(-(data.x[test] @ np.array(scoring.weights))))
        fold: dict[str, Any] = {"fold": k, "suggest_at": scoring.suggest_at, "merge_at": scoring.merge_at}
        for g, name in enumerate(data.names):
            m = data.group[test] == g
            y = data.y[test][m]
            false, recall = _merge_rates(score[m], y, data.blocked[test][m], scoring.merge_at)
            fold[name] = {
                "detect_f1": round(_f1(score[m], y, scoring.suggest_at), 4),
                "merge_false_rate": round(false, 4),
                "merge_recall": round(recall, 4),
            }
        per_fold.append(fold)

    final = fit_scoring(data, everything, l2, max_false)
    check = blend(tuple(data.x[0, 1:]), final.weights)
    summary: dict[str, Any] = {}
    for name in data.names:
        for figure in ("detect_f1", "merge_false_rate", "merge_recall"):
            values = [f[name][figure] for f in per_fold]
            summary[f"{name} {figure}"] = {
                "mean": round(statistics.fmean(values), 4),
                "stdev": round(statistics.stdev(values), 4),
            }
    return {
        "measured": "pair-level cross-validation (each fold fitted on the other folds), then the fit on all pairs",
        "signals": ["intercept", *SIGNALS],
        "WEIGHTS": final.weights,
        "SUGGEST_AT": final.suggest_at,
        "MERGE_AT": final.merge_at,
        "l2": l2,
        "balance": balance,
        "max_merge_false_rate_on_dev": max_false,
        "pairs": {name: int((data.group == g).sum()) for g, name in enumerate(data.names)},
        "cross_validation": summary,
        "folds": per_fold,
        "check_first_pair_score": round(check, 4),
    }


def crossval(
    paths: Sequence[Path],
    background: Path,
    size: int,
    probe_sources: set[str],
    folds: int,
    l2: float,
    max_false: float,
    balance: str,
) -> dict[str, Any]:
    """Held-out figures measured as the server decides: each pair is decided in an event of `size` background
    questions with the weights and thresholds fitted on the other folds (never on itself). Probe pairs are in
    no fit; each is decided with the scoring of the fold it falls in."""
    data = dataset(paths, lambda p: True, balance)
    fit_rows = np.array([i for i, p in enumerate(data.pairs) if p.source not in probe_sources])
    everything = np.arange(len(data.pairs))
    scorings: list[Scoring] = [FITTED] * len(data.pairs)
    per_fold: list[dict[str, Any]] = []
    for k, test in enumerate(folds_of(len(data.pairs), folds)):
        scoring = fit_scoring(data, np.intersect1d(np.setdiff1d(everything, test), fit_rows), l2, max_false)
        per_fold.append({"fold": k, "suggest_at": scoring.suggest_at, "merge_at": scoring.merge_at})
        for row in test:
            scorings[row] = scoring
    index, fill_s = fill_event(background, size)
    result: dict[str, Any] = {
        "measured": (
            f"held out: {folds}-fold cross-validation in an event of {size} background questions; "
            "every pair decided with weights and thresholds fitted on the other folds"
        ),
        "l2": l2,
        "balance": balance,
        "max_merge_false_rate_on_dev": max_false,
        "index_size": size,
        "fill_seconds": round(fill_s, 1),
        "folds": per_fold,
    }
    for g, name in enumerate(data.names):
        rows = [int(i) for i in np.flatnonzero(data.group == g)]
        pairs = [data.pairs[i] for i in rows]
        result[name] = report(pairs, decide_pairs(index, pairs, [scorings[i] for i in rows]), probe_sources)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pairs", type=Path, nargs="+", help="TSV of labelled pairs (--fit: one or more)")
    parser.add_argument("--background", type=Path, help="one question per line, to fill the event")
    parser.add_argument("--size", type=int, default=10_000, help="background questions in the event (10,000)")
    parser.add_argument("--probe-source", action="append", help="source reported apart (default: paws-x)")
    parser.add_argument("--fit", action="store_true", help="cross-validate and fit the blend instead")
    parser.add_argument("--cv", action="store_true", help="held-out figures, fold by fold, in the event (slow)")
    parser.add_argument("--balance", choices=("file", "source"), default="file", help="what weighs the same")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--l2", type=float, default=1.0)
    parser.add_argument("--max-merge-false-rate", type=float, default=0.03, help="MERGE_AT's limit on dev")
    args = parser.parse_args(argv)
    probe = set(args.probe_source or ["paws-x"])
    if args.fit:
        result = fit(args.pairs, probe, args.folds, args.l2, args.max_merge_false_rate, args.balance)
    elif args.cv:
        if args.background is None:
            parser.error("--cv takes --background FILE")
        result = crossval(
            args.pairs, args.background, args.size, probe, args.folds, args.l2, args.max_merge_false_rate, args.balance
        )
    else:
        if len(args.pairs) != 1 or args.background is None:
            parser.error("evaluation takes one PAIRS.tsv and --background FILE")
        result = evaluate(args.pairs[0], args.background, args.size, probe)
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
