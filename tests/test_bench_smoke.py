"""The benchmark harness works (bench/, issue 6): every scenario at its smoke size, in one run of
`python -m bench.run all --size smoke` (real redis-server, real LiveQA and floor servers, real clients, all on
loopback), and the load generator's own checks against frames made up here.

These are not timed tests: they assert that results carry their fields, that nothing was lost or reordered,
and that every ratio to a floor was computed; never how fast anything was.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.loadgen import Frame, Plan, QuestionLite, Sock, Worker
from bench.stats import Histogram

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ["S1", "S2", "S3", "S4", "S5", "S6", "S7", "S8"]
ENVIRONMENT = ["cpu_model", "cores", "memory_mib", "python", "versions", "redis_server", "loadavg", "git_commit"]
VERSIONS = ["uvicorn", "websockets", "redis", "starlette"]
PHASE = ["wall_s", "server_cpu_us", "server_cpu_us_stat", "server_rss_kib", "redis_cpu_us", "loadgen_cpu_us"]
PHASE += ["other_cpu_us", "loadavg_before", "loadavg_after"]

pytestmark = pytest.mark.timeout(400)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every scenario at its smoke size, once for the module: {scenario: result, "summary": markdown}."""
    out = tmp_path_factory.mktemp("bench")
    command = [sys.executable, "-m", "bench.run", "all", "--size", "smoke", "--out", str(out)]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=360)
    results: dict[str, Any] = {}
    for name in SCENARIOS:
        path = out / f"{name}.json"
        assert path.exists(), f"no result for {name}:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
        results[name] = json.loads(path.read_text())
    results["summary"] = (out / "summary.md").read_text()
    return results


def _result(smoke: dict[str, Any], name: str) -> dict[str, Any]:
    result: dict[str, Any] = smoke[name]
    if result["status"] == "server_unsupported":
        # The harness worked (S8: the cluster came up and the server started) but LiveQA could not run it.
        assert name == "S8", result["error"]
        assert result["details"]["cluster"]["state"] == "ok"
        assert result["details"]["cluster"]["masters"] == 3
        pytest.xfail(f"LiveQA cannot run {name} yet: {result['error'][:300]}")
    assert result["status"] == "ok", result.get("error")
    return result


def _phases(result: dict[str, Any]) -> list[dict[str, Any]]:
    phases = []
    for run in result["runs"]:
        phases.append(run["liveqa"])
        phases.extend(step["phase"] for step in run.get("steps", []))
        phases.extend(run["floors"].values())
    return phases


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_ran_and_lost_nothing(smoke: dict[str, Any], name: str) -> None:
    result = _result(smoke, name)
    assert result["size"] == "smoke"
    assert result["command"].startswith(f"python -m bench.run {name} --size smoke")
    assert all(key in result["environment"] for key in ENVIRONMENT)
    assert all(result["environment"]["versions"][v] != "not installed" for v in VERSIONS)
    assert result["runs"], "no run recorded"
    for phase in _phases(result):
        checks = phase["checks"]
        assert phase["lost"] == 0, (phase["name"], checks)
        assert checks["frames_missing"] == 0 and checks["order_violations"] == 0, (phase["name"], checks)
        assert not checks["sockets_closed"] and not checks["join_failures"], (phase["name"], checks)
        assert not checks["error_replies"] and not checks["unanswered_actions"], (phase["name"], checks)
        assert all(key in phase["phase"] for key in PHASE), phase["name"]
        assert phase["join"]["joined"] >= sum(phase["sockets"].values()), phase["name"]
        if phase["mode"] == "load":
            assert phase["phase"]["delivered_frames"] > 0, phase["name"]
            assert phase["acknowledged_changes"] > 0 or phase["counts"].get("votes_sent"), phase["name"]


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_figure_has_its_ratio(smoke: dict[str, Any], name: str) -> None:
    result = _result(smoke, name)
    for run in result["runs"]:
        figures = run["figures"]
        assert figures
        for figure in figures:
            assert {"name", "value", "unit", "floor", "floor_value", "ratio", "target"} <= figure.keys()
            if figure["floor"] and figure["value"] is not None and figure["floor_value"]:
                assert figure["ratio"] == pytest.approx(figure["value"] / figure["floor_value"], rel=1e-3), figure
        assert any(f["ratio"] is not None for f in figures), (name, run["label"], figures)


def test_fan_out_latency_covers_every_delivery(smoke: dict[str, Any]) -> None:
    """S1: one latency sample per participant per acknowledged move, so none slipped past the checks."""
    result = _result(smoke, "S1")
    for run in result["runs"]:
        phase = run["liveqa"]
        expected = phase["sockets"]["participants"] * phase["acknowledged_changes"]
        assert phase["latency_us"]["public/move"]["n"] == expected
        assert phase["latency_us"]["public/move"]["p99_us"] is not None
        assert run["floors"]["a"]["latency_us"]["public/floor"]["n"] > 0


def test_ingest_steps_and_idle_and_join_figures(smoke: dict[str, Any]) -> None:
    s3 = _result(smoke, "S3")
    assert [run["label"] for run in s3["runs"]] == ["votes", "questions"]
    for run in s3["runs"]:
        assert run["steps"] and all(step["achieved_per_s"] for step in run["steps"])
    votes = s3["runs"][0]["steps"][0]
    assert votes["phase"]["counts"]["votes_sent"] == int(votes["offered_per_s"] * s3["params"]["vote_seconds"])
    s5 = _result(smoke, "S5")
    assert s5["runs"][0]["liveqa"]["idle"]["rss_per_socket_kib"] is not None
    assert s5["runs"][0]["floors"]["e"]["idle"]["rss_per_socket_kib"] is not None
    s6 = _result(smoke, "S6")
    assert s6["runs"][0]["liveqa"]["join"]["latency_us"]["n"] == s6["params"]["joins"]
    s7 = _result(smoke, "S7")
    assert [run["processes"] for run in s7["runs"]] == s7["params"]["processes"]


def test_summary_table_lists_every_scenario(smoke: dict[str, Any]) -> None:
    for name in SCENARIOS:
        assert f"### {name} —" in smoke["summary"]


# --- the load generator's checks, on frames made up here --------------------------------------------------


def _worker() -> Worker:
    return Worker(Plan(targets=["http://127.0.0.1:1"], participants=1, moderators=0))


def _deliver(worker: Worker, sock: Sock, *frames: Frame) -> None:
    for i, frame in enumerate(frames):
        worker._on_frame(sock, frame, 1_000_000 * (i + 1))


def test_order_check_catches_a_frame_out_of_order() -> None:
    worker = _worker()
    sock = worker.participants[0]
    worker.phase = True
    _deliver(worker, sock, Frame("update", id="100-0"), Frame("own", id="100-0"), Frame("update", id="100-1"))
    assert sock.violations == []  # update and own of one entry share an id
    _deliver(worker, sock, Frame("update", id="99-5"), Frame("update", id="100-1"))
    assert len(sock.violations) == 2  # older than the last id, and the same frame twice


def test_report_counts_acknowledged_ids_that_never_came_and_wrong_tallies() -> None:
    worker = _worker()
    sock = worker.participants[0]
    sock.ws = object()  # type: ignore[assignment]  # "joined"; report() only checks it is there
    _deliver(worker, sock, Frame("snapshot", id="1-0", questions=[QuestionLite(id="7", votes=2)], queue=["7"]))
    sock.baseline = dict(sock.tallies)
    worker.phase = True
    _deliver(worker, sock, Frame("update", id="2-0"), Frame("votes", id="3-0", votes={"7": 3}))
    sends = {"2-0": [0, "move", ["public"]], "2-1": [0, "move", ["public"]]}
    report = worker.report({"public": ["2-0", "2-1"]}, sends, {"7": 2})
    assert report["missing"] == 1  # 2-1 was acknowledged for the public and never arrived
    assert report["tally_mismatches"] == 1  # 2 + 2 votes sent, 3 shown
    assert Histogram.from_json(report["latency"]["public/move"]).count == 1


def test_histogram_quantiles_are_within_one_percent() -> None:
    histogram = Histogram()
    for us in range(1, 1001):
        histogram.add(us * 1000)
    p50, p99 = histogram.quantile_us(0.5), histogram.quantile_us(0.99)
    assert p50 is not None and p99 is not None
    assert 500 <= p50 <= 505 and 990 <= p99 <= 1000
    merged = Histogram.from_json(histogram.to_json())
    merged.merge(histogram)
    assert merged.count == 2000 and merged.quantile_us(0.5) == p50
