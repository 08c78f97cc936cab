"""Plots of a results directory, for readers who would rather look than read tables: latency distributions
against the floors, CPU and memory against the number of sockets, scaling with K processes.

    python -m bench.plots bench/results/full        # writes bench/results/full/plots/*.svg (--format png)

Every plot is drawn from the JSON results alone (the same numbers `bench.report` renders), with matplotlib and
fixed SVG metadata, so the same results give the same files.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from bench.stats import Histogram

plt.rcParams.update({"svg.hashsalt": "liveqa", "svg.fonttype": "none", "font.size": 9})


def merged(hists: Iterable[dict[str, Any]]) -> Histogram:
    total = Histogram()
    for data in hists:
        part = Histogram.from_json(data)
        for bucket, n in part.buckets.items():
            total.buckets[bucket] = total.buckets.get(bucket, 0) + n
        total.count += part.count
        total.max_ns = max(total.max_ns, part.max_ns)
    return total


def cdf(hist: Histogram) -> tuple[list[float], list[float]]:
    """(latency in ms at each bucket's upper edge, share of frames at or under it)."""
    xs, ys, seen = [], [], 0
    for bucket in sorted(hist.buckets):
        seen += hist.buckets[bucket]
        xs.append(Histogram.upper_ns(bucket) / 1e6)
        ys.append(seen / hist.count)
    return xs, ys


def audiences(phase: dict[str, Any], prefix: str) -> Histogram | None:
    hists = [h for key, h in (phase.get("latency_hist") or {}).items() if key.startswith(prefix)]
    hist = merged(hists)
    return hist if hist.count else None


def latency_figure(title: str, run: dict[str, Any]) -> Figure | None:
    """CDFs of LiveQA's audience (and moderator) latencies against the floors' audience latencies."""
    curves: list[tuple[str, Histogram, str]] = []
    liveqa = run.get("liveqa") or {}
    for label, prefix, style in (("LiveQA audience", "public/", "-"), ("LiveQA moderators", "moderator/", "-.")):
        if (hist := audiences(liveqa, prefix)) is not None:
            curves.append((label, hist, style))
    for name, floor in sorted((run.get("floors") or {}).items()):
        if isinstance(floor, dict) and (hist := audiences(floor, "public/")) is not None:
            curves.append((f"floor {name}", hist, "--"))
    if not curves:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for label, hist, style in curves:
        xs, ys = cdf(hist)
        ax.step(xs, ys, style, where="post", label=f"{label} (n = {hist.count:,})")
    ax.set_xscale("log")
    ax.set_xlabel("latency, send → receive (ms, log scale)")
    ax.set_ylabel("share of frames")
    ax.axhline(0.99, color="grey", linewidth=0.5)
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=7)
    ax.grid(True, which="both", linewidth=0.2)
    fig.tight_layout()
    return fig


def figure_value(run: dict[str, Any], name: str) -> tuple[float | None, float | None]:
    for fig in run.get("figures", []):
        if fig["name"] == name:
            return fig["value"], fig["floor_value"]
    return None, None


def sockets_figure(s1: dict[str, Any], s5: dict[str, Any] | None) -> Figure | None:
    """S1's CPU per delivered frame and RSS against the number of sockets, LiveQA and floor a; S5's 10,000."""
    points = []
    for run in s1.get("runs", []):
        match = re.match(r"(\d+)", run.get("label", ""))
        cpu, cpu_floor = figure_value(run, "server CPU per delivered frame")
        rss_end, rss_end_floor = figure_value(run, "server RSS at the end")
        if match and cpu is not None:
            points.append((int(match.group(1)), cpu, cpu_floor, rss_end, rss_end_floor))
    if not points:
        return None
    fig, (cpu_ax, rss_ax) = plt.subplots(1, 2, figsize=(7.2, 3.2))
    n = [p[0] for p in points]
    cpu_ax.plot(n, [p[1] for p in points], "o-", label="LiveQA")
    cpu_ax.plot(n, [p[2] for p in points], "s--", label="floor a")
    cpu_ax.set_xlabel("participant sockets (S1)")
    cpu_ax.set_ylabel("server CPU per delivered frame (µs)")
    cpu_ax.set_ylim(bottom=0)
    cpu_ax.legend(fontsize=7)
    rss_n = list(n)
    rss_liveqa: list[float | None] = [p[3] for p in points]
    rss_floor: list[float | None] = [p[4] for p in points]
    if s5 is not None:
        for run in s5.get("runs", []):
            value, floor = figure_value(run, "server RSS with every socket open")
            match = re.match(r"(\d+)", run.get("label", ""))
            if value is not None and match:
                rss_n.append(int(match.group(1)))
                rss_liveqa.append(value)
                rss_floor.append(floor)
    rss_ax.plot(rss_n, rss_liveqa, "o-", label="LiveQA")
    rss_ax.plot(rss_n, rss_floor, "s--", label="floor (a in S1, e in S5)")
    rss_ax.set_xlabel("sockets (S1; the last point S5, idle)")
    rss_ax.set_ylabel("server RSS (MiB)")
    rss_ax.set_ylim(bottom=0)
    rss_ax.legend(fontsize=7)
    for ax in (cpu_ax, rss_ax):
        ax.grid(True, linewidth=0.2)
    fig.tight_layout()
    return fig


def scaling_figure(s7: dict[str, Any]) -> Figure | None:
    """S7: CPU per delivered frame (all processes) and Redis CPU per change against K."""
    ks, cpu, redis = [], [], []
    for run in s7.get("runs", []):
        value, _ = figure_value(run, "server CPU per delivered frame (all K)")
        per_change, _ = figure_value(run, "Redis CPU per change")
        if value is not None and run.get("processes"):
            ks.append(int(run["processes"]))
            cpu.append(value)
            redis.append(per_change)
    if not ks:
        return None
    fig, (cpu_ax, redis_ax) = plt.subplots(1, 2, figsize=(7.2, 3.0))
    cpu_ax.plot(ks, cpu, "o-")
    cpu_ax.set_ylabel("server CPU per delivered frame (µs)")
    redis_ax.plot(ks, redis, "o-", color="tab:red")
    redis_ax.set_ylabel("Redis CPU per change (µs)")
    for ax in (cpu_ax, redis_ax):
        ax.set_xlabel("server processes K (S7)")
        ax.set_xticks(ks)
        ax.set_ylim(bottom=0)
        ax.grid(True, linewidth=0.2)
    fig.tight_layout()
    return fig


def render(out: Path, fmt: str = "svg") -> list[Path]:
    """Write every plot the results in `out` allow (as `fmt`: svg or png); returns the files written."""
    results = {path.stem: json.loads(path.read_text()) for path in sorted(out.glob("S*.json"))}
    plots = out / "plots"
    plots.mkdir(exist_ok=True)
    written: list[Path] = []

    def save(fig: Figure | None, name: str) -> None:
        if fig is None:
            return
        path = plots / f"{name}.{fmt}"
        metadata = {"Date": None, "Creator": "bench.plots"} if fmt == "svg" else {}
        fig.savefig(path, metadata=metadata, dpi=110)
        plt.close(fig)
        written.append(path)

    for scenario, result in results.items():
        for i, run in enumerate(result.get("runs", [])):
            title = f"{scenario}: {run.get('label', '')}"
            save(latency_figure(title, run), f"latency-{scenario}-{i + 1}")
    if "S1" in results:
        save(sockets_figure(results["S1"], results.get("S5")), "sockets")
    if "S7" in results:
        save(scaling_figure(results["S7"]), "scaling-k")
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="a results directory (bench.run --out)")
    parser.add_argument("--format", choices=["svg", "png"], default="svg")
    args = parser.parse_args()
    for path in render(args.out, args.format):
        print(path)


if __name__ == "__main__":
    main()
