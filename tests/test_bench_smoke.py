"""The benchmark harness works (bench/, issue 6): every scenario at its smoke size, in one run of
`python -m bench.run all --size smoke` (real redis-server, real LiveQA and floor servers, real clients, all on
loopback), and the load generator's own checks against frames made up here.

These are not timed tests: they assert that results carry their fields, that nothing was lost or reordered,
and that every ratio to a floor was computed; never how fast anything was.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.typing import Subprotocol

from bench.loadgen import Frame, Plan, QuestionLite, Sock, Worker
from bench.plots import render
from bench.scenarios import grouping_lag
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
    results["dir"] = out
    return results


def _result(smoke: dict[str, Any], name: str) -> dict[str, Any]:
    result: dict[str, Any] = smoke[name]
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


def test_plots_are_drawn_from_the_results(smoke: dict[str, Any]) -> None:
    """bench.plots: a latency plot per run with LiveQA against its floors, sockets and K plots, all SVG."""
    written = {path.name: path.read_text() for path in render(smoke["dir"])}
    assert {"latency-S1-1.svg", "latency-S4-1.svg", "latency-S8-1.svg", "sockets.svg", "scaling-k.svg"} <= set(written)
    s1 = written["latency-S1-1.svg"]
    assert "LiveQA audience" in s1 and "floor a" in s1 and "floor b" in s1
    assert "<svg" in written["sockets.svg"] and "floor a" in written["sockets.svg"]


# --- the load generator's checks, on frames made up here --------------------------------------------------


def _worker() -> Worker:
    return Worker(Plan(targets=["http://127.0.0.1:1"], participants=1, moderators=0))


def _deliver(worker: Worker, sock: Sock, *frames: Frame) -> None:
    for i, frame in enumerate(frames):
        worker._on_message(sock, frame, 1_000_000 * (i + 1))


def test_order_check_catches_a_frame_out_of_order() -> None:
    worker = _worker()
    sock = worker.participants[0]
    worker.phase = True
    _deliver(worker, sock, Frame("update", id="100-0"), Frame("own", id="100-0"), Frame("update", id="100-1"))
    assert sock.violations == []  # update and own of one entry share an id
    _deliver(worker, sock, Frame("update", id="99-5"), Frame("update", id="100-1"))
    assert len(sock.violations) == 2  # older than the last id, and the same frame twice


def test_a_batch_is_one_message_whose_frames_are_each_checked() -> None:
    worker = _worker()
    sock = worker.participants[0]
    worker.phase = True
    batch = Frame("batch", id="101-0", frames=[Frame("update", id="100-1"), Frame("votes", id="101-0", votes={"1": 2})])
    _deliver(worker, sock, Frame("update", id="100-0"), batch)
    assert sock.violations == [] and sock.phase_frames == 2 and sock.tallies == {"1": 2}
    assert [log_id for _, log_id, _ in sock.records] == ["100-0", "100-1", "101-0"]
    _deliver(worker, sock, Frame("batch", id="101-1", frames=[Frame("update", id="101-1"), Frame("own", id="99-0")]))
    assert len(sock.violations) == 1  # a frame inside a batch older than the one before it


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


def test_report_counts_a_move_a_later_update_followed_as_superseded_not_missing() -> None:
    """The server sends participants only the latest queue order of what it read at once: a move that never came
    but that a later update followed is superseded, its latency that update's; other changes are still missing."""
    worker = _worker()
    sock = worker.participants[0]
    sock.ws = object()  # type: ignore[assignment]
    _deliver(worker, sock, Frame("snapshot", id="1-0", queue=["7"]))
    worker.phase = True
    _deliver(worker, sock, Frame("update", id="2-0"), Frame("update", id="2-3"))  # received at 1 ms, 2 ms
    sends = {
        "2-0": [0, "move", ["public"]],
        "2-1": [500_000, "move", ["public"]],  # replaced by 2-3
        "2-2": [0, "approve", ["public"]],  # a question's change is never replaced
        "2-3": [0, "move", ["public"]],
        "2-4": [0, "move", ["public"]],  # nothing came after it
    }
    report = worker.report({"public": list(sends)}, sends, {})
    assert (report["superseded"], report["missing"]) == (1, 2)
    moves = Histogram.from_json(report["latency"]["public/move"])
    # 1 ms (2-0), 2 ms (2-3) and, in the middle, 1.5 ms: 2-1 was sent at 0.5 ms and its state arrived at 2 ms
    assert moves.count == 3 and 1490 <= (moves.quantile_us(0.5) or 0) <= 1520


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


def test_report_checks_tallies_against_the_stored_counts_and_counts_refused_votes() -> None:
    """A vote the server refused (`unavailable`) may or may not have been applied: the stored count is the truth."""
    worker = _worker()
    sock = worker.participants[0]
    sock.ws = object()  # type: ignore[assignment]
    _deliver(worker, sock, Frame("snapshot", id="1-0", questions=[QuestionLite(id="7", votes=2)], queue=["7"]))
    sock.baseline = dict(sock.tallies)
    worker.phase = True
    _deliver(worker, sock, Frame("votes", id="3-0", votes={"7": 3}), Frame("error", code="unavailable", qid="7"))
    assert worker._tallies_right(sock, {"7": 2}, {"7": 3})  # 2 votes sent, 1 refused but applied: Redis says 3
    report = worker.report({}, {}, {"7": 2}, {"7": 3})
    assert report["tally_mismatches"] == 0
    assert report["vote_refusals"] == {"unavailable": 1}
    assert worker.report({}, {}, {"7": 2}, {"7": 4})["tally_mismatches"] == 1  # the socket never got the last one
    assert worker.report({}, {}, {"7": 2})["tally_mismatches"] == 1  # no truth: the votes sent (2 + 2 ≠ 3)


async def _one_participant(
    handler: Callable[[ServerConnection], Awaitable[None]],
    go: asyncio.Event,
    log: list[str],
    *,
    resume_attempts: int,
    truth: dict[str, int],
) -> dict[str, Any]:
    """One load-generator participant against a made-up server `handler`: joined, then `go` is set and the
    participant expects every id of `log` (moves) and the tallies `truth`; its report."""
    async with serve(handler, "127.0.0.1", 0, subprotocols=[Subprotocol("liveqa.v1")]) as server:
        port = server.sockets[0].getsockname()[1]
        plan = Plan(
            targets=[f"http://127.0.0.1:{port}"],
            slug="x",
            participants=1,
            reply_timeout_s=5,
            resume_attempts=resume_attempts,
        )
        worker = Worker(plan)
        try:
            assert (await worker.join_all())["joined"] == 1
            worker.phase = True
            go.set()
            expected = {"public": log}
            sends = {log_id: [0, "move", ["public"]] for log_id in log}
            await worker.settle(expected, {}, 6.0, truth)
            return worker.report(expected, sends, {}, truth)
        finally:
            await worker.close()


@pytest.mark.parametrize("resumable", [True, False])
async def test_a_socket_the_server_closes_mid_load_resumes_from_its_last_id(resumable: bool) -> None:
    """A made-up server closes the participant's socket (1011, as a keepalive timeout does) after five of ten
    updates. Resumed from its last id, the replay counts as delivery; the one frame replayed twice is ignored, not
    a reorder; the participant keeps its token. If every reconnection is refused, the rest counts as missing."""
    log = [f"{100 + i}-0" for i in range(10)]
    go = asyncio.Event()
    hellos: list[dict[str, Any]] = []

    def update(log_id: str) -> str:
        return json.dumps({"type": "update", "id": log_id, "queue": ["7"]})

    async def handler(ws: ServerConnection) -> None:
        hello = json.loads(await ws.recv())
        hellos.append(hello)
        if hello.get("last_id") and not resumable:
            await ws.close(1011, "keepalive ping timeout")
            return
        welcome = {"type": "welcome", "role": "participant", "epoch": "e1", "pid": "p1", "token": "t" * 20}
        await ws.send(json.dumps(welcome))
        if not hello.get("last_id"):
            questions = [{"id": "7", "status": "approved", "votes": 0}]
            await ws.send(json.dumps({"type": "snapshot", "id": "1-0", "epoch": "e1", "questions": questions}))
            await go.wait()
            for log_id in log[:5]:
                await ws.send(update(log_id))
            await ws.close(1011, "keepalive ping timeout")
            return
        await ws.send(json.dumps({"type": "resumed", "from_id": hello["last_id"]}))
        # Replay from the last id itself (one frame too many), then the rest and a tally.
        for log_id in [i for i in log if i >= hello["last_id"]]:
            await ws.send(update(log_id))
        await ws.send(json.dumps({"type": "votes", "id": "200-0", "votes": {"7": 4}}))
        await ws.wait_closed()

    report = await _one_participant(handler, go, log, resume_attempts=3, truth={"7": 4})
    if resumable:
        assert report["reconnects"] == {"1011": 1} and not report["closed"], report
        assert report["missing"] == 0 and report["order_violations"] == 0 and report["duplicates"] == 1, report
        assert report["tally_mismatches"] == 0
        assert Histogram.from_json(report["latency"]["public/move"]).count == len(log)  # the duplicate is no delivery
        assert hellos[1] == {"type": "hello", "v": 1, "token": "t" * 20, "epoch": "e1", "last_id": log[4]}
    else:
        assert len(hellos) == 4  # the first connection and 3 attempts
        assert report["resume_failures"] == {"1011": 1} and report["closed"] == {"1011": 1}, report
        assert report["missing"] == 5 and report["tally_mismatches"] == 1, report


async def test_each_close_gets_the_whole_cap_of_resume_attempts_again() -> None:
    """With one attempt per close, a socket closed twice (1011) resumes both times: a successful resume starts
    the count again."""
    log = [f"{100 + i}-0" for i in range(6)]
    go = asyncio.Event()
    hellos: list[dict[str, Any]] = []

    async def handler(ws: ServerConnection) -> None:
        hello = json.loads(await ws.recv())
        hellos.append(hello)
        welcome = {"type": "welcome", "role": "participant", "epoch": "e1", "pid": "p1", "token": "t" * 20}
        await ws.send(json.dumps(welcome))
        if not hello.get("last_id"):
            questions = [{"id": "7", "status": "approved", "votes": 0}]
            await ws.send(json.dumps({"type": "snapshot", "id": "1-0", "epoch": "e1", "questions": questions}))
            await go.wait()
        else:
            await ws.send(json.dumps({"type": "resumed", "from_id": hello["last_id"]}))
        rest = [i for i in log if i > hello.get("last_id", "")]
        for log_id in rest[:2] if len(hellos) < 3 else rest:
            await ws.send(json.dumps({"type": "update", "id": log_id, "queue": ["7"]}))
        if len(hellos) < 3:
            await ws.close(1011, "keepalive ping timeout")
            return
        await ws.wait_closed()

    report = await _one_participant(handler, go, log, resume_attempts=1, truth={})
    assert len(hellos) == 3, hellos
    assert report["reconnects"] == {"1011": 2} and not report["closed"] and report["missing"] == 0, report


@pytest.mark.parametrize("refusals", [2, 99])
async def test_a_refused_submission_is_sent_again_as_the_page_does(refusals: int) -> None:
    """A made-up server answers the first `refusals` submits of a cid with `unavailable` (retry after 50 ms), then
    acks. As the participant page does, the load generator sends the same message again after 50 ms: acked once
    after two resends, its latency counted from the first send. Refused every time, it is given up after the
    fifth resend: neither acknowledged (so no audience expects it) nor unanswered."""
    received: list[tuple[float, dict[str, Any]]] = []

    async def handler(ws: ServerConnection) -> None:
        await ws.recv()  # hello
        welcome = {"type": "welcome", "role": "participant", "epoch": "e1", "pid": "p1", "token": "t" * 20}
        await ws.send(json.dumps(welcome))
        await ws.send(json.dumps({"type": "snapshot", "id": "1-0", "epoch": "e1", "questions": []}))
        async for message in ws:
            frame = json.loads(message)
            received.append((asyncio.get_running_loop().time(), frame))
            if sum(1 for _, f in received if f["cid"] == frame["cid"]) <= refusals:
                error = {"type": "error", "code": "unavailable", "detail": "busy", "cid": frame["cid"]}
                await ws.send(json.dumps({**error, "retry_after_ms": 50}))
            else:
                await ws.send(json.dumps({"type": "ack", "cid": frame["cid"], "qid": "q1", "id": "5-0"}))

    async with serve(handler, "127.0.0.1", 0, subprotocols=[Subprotocol("liveqa.v1")]) as server:
        port = server.sockets[0].getsockname()[1]
        plan = Plan(
            targets=[f"http://127.0.0.1:{port}"],
            slug="x",
            participants=1,
            submitters=1,
            submit_rate=10,
            submit_count=1,
            max_load_s=5,
            reply_timeout_s=4,
        )
        worker = Worker(plan)
        try:
            assert (await worker.join_all())["joined"] == 1
            sent = await worker.run_load()
            report = worker.report({}, sent["sends"], {})
        finally:
            await worker.close()
    attempts = min(refusals + 1, 6)  # the first send and at most 5 resends
    assert len(received) == attempts and all(frame == received[0][1] for _, frame in received)  # same cid, text
    assert all(b - a >= 0.05 for (a, _), (b, _) in zip(received, received[1:], strict=False))
    assert sent["unanswered"] == 0
    counts = report["counts"]
    assert counts["submits_sent"] == 1 and counts["submits_retried"] == attempts - 1
    assert report["submit_refusals"] == {"unavailable": min(refusals, 6)}
    assert report["vote_refusals"] == {}
    if refusals == 2:
        assert counts["acked"] == 1 and "submits_given_up" not in counts
        first_send = worker.submit_span[0]
        assert sent["sends"] == {"5-0": [first_send, "submit", ["moderator"]]}  # expected by the consoles
        acked_at = next(at for at, log_id, kind in worker.participants[0].records if kind == "ack")
        assert worker.ack_latency.count == 1 and worker.ack_latency.max_ns == acked_at - first_send >= 100_000_000
    else:
        assert counts["submits_given_up"] == 1 and "acked" not in counts
        assert sent["sends"] == {} and worker.ack_latency.count == 0


async def test_the_wait_for_grouping_ends_when_no_decision_comes() -> None:
    """A server whose grouping step decides nothing (dedup off, or stuck): the wait gives up after `stalled_s`
    without a decision, not after the whole `within_s`, and says it did not catch up."""
    metrics = (
        b"# HELP liveqa_grouping_lag_seconds lag\n# TYPE liveqa_grouping_lag_seconds histogram\n"
        b'liveqa_grouping_lag_seconds_bucket{le="0.05"} 0.0\nliveqa_grouping_lag_seconds_bucket{le="+Inf"} 0.0\n'
        b"liveqa_grouping_lag_seconds_count 0.0\nliveqa_grouping_lag_seconds_sum 0.0\n"
    )

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(metrics), metrics))
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    loop = asyncio.get_running_loop()
    start = loop.time()
    async with server:
        fake = SimpleNamespace(url=f"http://127.0.0.1:{port}")
        result = await grouping_lag([fake], {}, 5, within_s=60, stalled_s=1)  # type: ignore[list-item]
    assert result["decided"] == 0 and not result["caught_up"]
    assert loop.time() - start < 10
