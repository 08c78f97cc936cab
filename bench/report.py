"""Render results (the JSON files `bench.run` writes) as Markdown tables: every figure, its floor, the ratio,
the target, and the checks. docs/benchmarks.md quotes this output; nothing in it is typed by hand.

    python -m bench.report bench/results/smoke
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ORDER = ["S1", "S2", "S3", "S4", "S5", "S6", "S7", "S8"]


def _num(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.3g}"
    return str(value)


def _value(value: Any, unit: str) -> str:
    text = _num(value)
    return f"{text} {unit}".strip() if value is not None and unit else text


def _checks(phase: dict[str, Any]) -> str:
    checks = phase["checks"]
    against = {"redis": " (against Redis)", "votes_sent": " (against the votes sent)"}
    parts = [
        f"missing {checks['frames_missing']}",
        f"reordered {checks['order_violations']}",
        f"tallies wrong {checks['tally_mismatches']}{against.get(checks.get('tallies_checked_against') or '', '')}",
        *([] if checks.get("queue_mismatches") is None else [f"queues wrong {checks['queue_mismatches']}"]),
        f"closed {sum(checks['sockets_closed'].values())}",
        f"unanswered {checks['unanswered_actions']}",
    ]
    if checks["join_failures"]:
        parts.append(f"join failures {checks['join_failures']}")
    # Not losses: the server refusing votes and submissions under load (refused submissions are sent again, as
    # the page does; those still refused in the end are given up), sockets it closed that resumed, and what went
    # with them.
    votes: dict[str, int] = checks.get("votes_refused") or {}
    submits: dict[str, int] = checks.get("submits_refused") or {}
    given_up = checks.get("submissions_given_up") or 0
    if votes:
        parts.append(f"votes refused {votes}")
    if submits or given_up:
        parts.append(
            f"submissions refused {submits} (sent again {_num(checks.get('submits_retried') or 0)} times), "
            f"submissions given up {_num(given_up)}"
        )
    refused = {code: votes.get(code, 0) + submits.get(code, 0) for code in {*votes, *submits}}
    other = {code: n - refused.get(code, 0) for code, n in checks["error_replies"].items() if n > refused.get(code, 0)}
    if other:
        parts.append(f"errors {other}" if not refused else f"other errors {other}")
    if checks.get("reconnects"):
        parts.append(f"resumed after close {checks['reconnects']}")
    if checks.get("resume_failures"):
        parts.append(f"could not resume {checks['resume_failures']}")
    for key, label in (
        ("interrupted_actions", "actions interrupted by a close"),
        ("covered_by_snapshot", "ids covered by a resume snapshot"),
        ("superseded", "audience moves/shows superseded by a later update"),
        ("duplicates_after_resume", "frames replayed twice"),
    ):
        if checks.get(key):
            parts.append(f"{label} {checks[key]}")
    if checks.get("tally_truth_moved_after_settling"):
        parts.append("stored tallies moved after settling")
    return ", ".join(parts)


def _header(phase: dict[str, Any]) -> str:
    """Where the phase's time went, and how busy the machine was meanwhile."""
    p = phase["join"] if phase["mode"] == "join" else phase["phase"]
    what = {"join": "joining", "idle": "idle", "load": "under load"}[phase["mode"]]
    return (
        f"{what} for {_num(p['wall_s'])} s: server {_num(p['server_cores'])} cores, Redis "
        f"{_num(p['redis_cpu_us'] / 1e3)} ms CPU, load generator {_num(p['loadgen_cpu_us'] / 1e3)} ms CPU, other "
        f"processes on the machine {_num(p['other_cpu_us'] / 1e3)} ms CPU; load average {p['loadavg_before'][0]} → "
        f"{p['loadavg_after'][0]}"
    )


def render(results: list[dict[str, Any]]) -> str:
    results = sorted(results, key=lambda r: ORDER.index(r["scenario"]) if r["scenario"] in ORDER else 99)
    lines: list[str] = []
    if results:
        env = results[0]["environment"]
        versions = ", ".join(f"{k} {v}" for k, v in env["versions"].items() if v != "not installed")
        lines += [
            f"Measured on {env['cpu_model']}, {env['cores']} cores, {env['memory_mib']:,} MiB, Linux "
            f"{env['kernel']}, Python {env['python']}; {versions}; {env['redis_server'].split(' sha')[0]}; "
            f"LiveQA at {env['git_commit']}{' with uncommitted changes' if env['git_dirty'] else ''}. "
            f"Load average at the start: {', '.join(str(x) for x in env['loadavg'])}.",
            "",
        ]
    for result in results:
        lines.append(f"### {result['scenario']} — {result['title']} ({result['size']})")
        lines.append("")
        lines.append(f"`{result['command']}` — {result['status']}, {result.get('elapsed_s', '?')} s")
        lines.append("")
        if result.get("error"):
            lines += [f"> {result['error'].splitlines()[0][:600]}", ""]
        for run in result.get("runs", []):
            phase = run["liveqa"]
            lines.append(f"**{run['label']}** — {_header(phase)}")
            lines.append("")
            lines.append("| figure | LiveQA | floor | ratio | target |")
            lines.append("| --- | ---: | ---: | ---: | --- |")
            for fig in run["figures"]:
                floor = f"{fig['floor']}: {_value(fig['floor_value'], fig['unit'])}" if fig["floor"] else ""
                ratio = f"{fig['ratio']:.3g}×" if fig["ratio"] is not None else ""
                lines.append(
                    f"| {fig['name']} | {_value(fig['value'], fig['unit'])} | {floor} | {ratio} | {fig['target']} |"
                )
            lines.append("")
            lines.append(f"Checks: {_checks(phase)}.")
            for step in run.get("steps", []):
                lines.append(
                    f"- offered {_num(step['offered_per_s'])}/s, achieved {_num(step['achieved_per_s'])}/s, "
                    f"held: {_num(step['held'])} ({_checks(step['phase'])}; caught up in "
                    f"{_num(step['phase']['settle_s'])} s)"
                )
            if run.get("notes"):
                lines.append(f"Note: {run['notes']}.")
            lines.append("")
    return "\n".join(lines)


def load(paths: list[Path]) -> list[dict[str, Any]]:
    results = []
    for path in paths:
        files = sorted(path.glob("S*.json")) if path.is_dir() else [path]
        for file in files:
            results.append(json.loads(file.read_text()))
    return results


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", type=Path, help="result directories or files")
    args = parser.parse_args()
    sys.stdout.write(render(load(args.paths)) + "\n")


if __name__ == "__main__":
    cli()
