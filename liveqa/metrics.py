"""Prometheus metrics, named liveqa_*, served at /metrics. Each server process exposes its own."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.core import REGISTRY, GaugeMetricFamily
from prometheus_client.registry import Collector

CONNECTIONS = Gauge("liveqa_connections", "Open WebSocket connections", ["role"])
FRAMES_IN = Counter("liveqa_frames_in_total", "Frames received from clients", ["role"])
FRAMES_OUT = Counter("liveqa_frames_out_total", "Frames queued to clients (one per socket)", ["role"])
LOG_ENTRIES = Counter("liveqa_log_entries_total", "Event-log entries read and fanned out")
SUBMISSIONS = Counter("liveqa_submissions_total", "Questions submitted, by outcome", ["result"])
ERRORS = Counter("liveqa_errors_total", "Error frames sent, by code", ["code"])
CLOSES = Counter("liveqa_closes_total", "Sockets closed by the server, by close code", ["code"])
REDIS_SECONDS = Histogram(
    "liveqa_redis_seconds",
    "Time for one Redis script or command issued by a client request",
    ["operation"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
BATCH_SIZE = Histogram(
    "liveqa_batch_size",
    "Requests sent to Redis in one call (votes, new participants or moderators' actions arriving together)",
    ["operation"],
    buckets=(1, 2, 5, 10, 20, 50, 100, 256),
)
GROUPED = Counter("liveqa_grouped_total", "Grouping decisions made by this process, by outcome", ["outcome"])
GROUPING_LAG = Histogram(
    "liveqa_grouping_lag_seconds",
    "From a new question reaching this process's log reader to its grouping decision (merge, suggest, new)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


class QueueDepth(Collector):
    """liveqa_outbox_frames: frames waiting to be written, over every socket of this process (read at scrape)."""

    def __init__(self) -> None:
        self.sources: list[Callable[[], int]] = []

    def collect(self) -> Iterable[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "liveqa_outbox_frames", "Frames waiting to be written to sockets", value=sum(f() for f in self.sources)
        )
        yield GaugeMetricFamily(
            "liveqa_active_events", "Events with a live feed in this process", value=len(self.sources)
        )


QUEUE_DEPTH = QueueDepth()
REGISTRY.register(QUEUE_DEPTH)
