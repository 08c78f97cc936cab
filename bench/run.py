"""Run benchmark scenarios (S1–S8) and their floors, at the smoke or the full size.

    python -m bench.run all --size smoke --out bench/results/smoke
    python -m bench.run S1 S4 --size full --out bench/results/full
    python -m bench.run floors --size smoke

Each scenario writes OUT/<scenario>.json (every figure, its floor, the ratio, the checks, the environment);
OUT/summary.md is the results table of every scenario in OUT (`python -m bench.report OUT` renders it again).
Every run starts its own redis-server and servers on free loopback ports, is bounded in count and time, and
stops what it started.
The exit status is 0 when every scenario ran ("ok"), 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT
from bench.report import load, render
from bench.scenarios import SCENARIOS, SIZES, Suite, run_scenario


async def _floors(suite: Suite) -> dict[str, Any]:
    """The floors alone, at the parameters the scenarios of this size use."""
    sizes = suite.sizes
    s1, s2, s5, s6 = sizes["S1"], sizes["S2"], sizes["S5"], sizes["S6"]
    for n in s1["audiences"]:
        await suite.floor_fanout("a", n, s1["rate"], s1["changes"], s1["questions"])
        await suite.floor_fanout("b", n, s1["rate"], s1["changes"], s1["questions"])
    await suite.floor_lua(s2["moderators"], s2["submit_rate"], s2["submits"])
    await suite.floor_handshakes(s6["joins"], s6["concurrency"])
    await suite.floor_idle(s5["sockets"], s5["idle_s"])
    return {
        "scenario": "floors",
        "size": suite.size,
        "status": "ok",
        "environment": suite.environment,
        "command": f"python -m bench.run floors --size {suite.size}",
        "floors": suite.floors,
    }


async def main(args: argparse.Namespace) -> int:
    names = list(SCENARIOS) if "all" in args.scenarios else args.scenarios
    unknown = [n for n in names if n not in SCENARIOS and n != "floors"]
    if unknown:
        print(f"unknown scenario(s): {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}, all, floors")
        return 2
    out = Path(args.out or ROOT / "bench" / "results" / "tmp" / f"{args.size}-{time.strftime('%Y%m%d-%H%M%S')}")
    server_env = dict(item.split("=", 1) for item in args.server_env)
    overrides: dict[str, dict[str, Any]] = {}
    for item in args.set:
        key, _, value = item.partition("=")
        scenario, _, param = key.partition(".")
        if scenario not in SIZES[args.size] or param not in SIZES[args.size][scenario]:
            print(f"--set {item}: no parameter {param!r} in {scenario!r} (see bench/scenarios.py SIZES)")
            return 2
        overrides.setdefault(scenario, {})[param] = json.loads(value)
    results: list[dict[str, Any]] = []
    async with Suite(
        args.size,
        out,
        workers=args.workers,
        persistence=args.redis_persistence,
        server_env=server_env,
        keep=args.keep,
        share_servers=False if args.fresh_servers else None,
        dump=args.dump_frames,
        overrides=overrides,
    ) as suite:
        for name in names:
            print(f"{name} ({args.size}) …", flush=True)
            if name == "floors":
                result = await _floors(suite)
            else:
                result = await run_scenario(suite, name)
                result["command"] += _options(args)
            results.append(result)
            (out / f"{name}.json").write_text(json.dumps(result, indent=1, ensure_ascii=False))
            line = f"  {result['status']} in {result.get('elapsed_s', '?')} s"
            print(line + (f": {result['error'][:300]}" if result.get("error") else ""), flush=True)
        if args.keep:
            print(f"kept the run's Redis data, logs and plans in {suite.tmp}")
    # OUT/summary.md covers every scenario's result in OUT, from this run or an earlier one (a scenario run again
    # replaces its own); the run prints its own.
    (out / "summary.md").write_text(render(load([out])))
    print(render([r for r in results if r["scenario"] != "floors"]))
    print(f"results: {out}")
    return 0 if all(r["status"] == "ok" for r in results) else 1


def _options(args: argparse.Namespace) -> str:
    parts = []
    if args.workers:
        parts.append(f"--workers {args.workers}")
    if args.redis_persistence != "always":
        parts.append(f"--redis-persistence {args.redis_persistence}")
    parts.extend(f"--server-env {item}" for item in args.server_env)
    if args.fresh_servers:
        parts.append("--fresh-servers")
    parts.extend(f"--set '{item}'" for item in args.set)
    return (" " + " ".join(parts)) if parts else ""


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenarios", nargs="+", help="S1 … S8, all, or floors")
    parser.add_argument("--size", choices=sorted(SIZES), default="smoke")
    parser.add_argument("--out", help="results directory (default: bench/results/tmp/<size>-<time>)")
    parser.add_argument(
        "--workers",
        type=int,
        help="load generator processes for 1,000+ sockets: one sends, the others receive (default: 1 smoke, 3 full)",
    )
    parser.add_argument(
        "--redis-persistence",
        choices=["always", "everysec", "none"],
        default="always",
        help="appendfsync of the benchmark Redis (its data is on tmpfs when /dev/shm exists)",
    )
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="LIVEQA_X=V",
        help="extra environment for the LiveQA servers (repeatable)",
    )
    parser.add_argument("--keep", action="store_true", help="keep Redis data, logs and plans of the run")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="S1.changes=50",
        help="override one parameter of one scenario's size, as JSON (repeatable); the command recorded says so",
    )
    parser.add_argument(
        "--dump-frames",
        action="store_true",
        help="keep every frame's receive time and log id (OUT/frames/<phase>/frames-<worker>.jsonl) beside the "
        "send times (settle.json) and plans",
    )
    parser.add_argument(
        "--fresh-servers",
        action="store_true",
        help="a fresh LiveQA and floor server for every scenario and floor (the default at full size; smoke runs "
        "share one of each to stay within seconds)",
    )
    sys.exit(asyncio.run(main(parser.parse_args())))


if __name__ == "__main__":
    cli()
