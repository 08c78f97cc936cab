"""Light helpers the load generator needs (it imports nothing heavier, so its processes start quickly):
latency histograms, log id ordering, own CPU time, ratios."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any


def self_cpu_us() -> int:
    times = os.times()
    return int((times.user + times.system) * 1_000_000)


_GROWTH = 1.01  # bucket width: quantiles are exact to within 1 %
_LOG_GROWTH = math.log(_GROWTH)


class Histogram:
    """Latencies in ns, in log buckets (1 % wide) so workers can send them compactly and the coordinator can
    merge them exactly. Quantiles report the bucket's upper edge (never optimistic)."""

    def __init__(self, buckets: Mapping[int, int] | None = None) -> None:
        self.buckets: dict[int, int] = dict(buckets or {})
        self.count = sum(self.buckets.values())
        self.max_ns = 0

    @staticmethod
    def bucket(ns: int) -> int:
        return 0 if ns < 1000 else int(math.log(ns / 1000) / _LOG_GROWTH) + 1

    @staticmethod
    def upper_ns(bucket: int) -> float:
        return 1000.0 * _GROWTH**bucket

    def add(self, ns: int) -> None:
        b = self.bucket(max(ns, 0))
        self.buckets[b] = self.buckets.get(b, 0) + 1
        self.count += 1
        self.max_ns = max(self.max_ns, ns)

    def merge(self, other: Histogram) -> None:
        for b, n in other.buckets.items():
            self.buckets[b] = self.buckets.get(b, 0) + n
        self.count += other.count
        self.max_ns = max(self.max_ns, other.max_ns)

    def quantile_us(self, q: float) -> float | None:
        if not self.count:
            return None
        rank = max(1, math.ceil(q * self.count))
        seen = 0
        for b in sorted(self.buckets):
            seen += self.buckets[b]
            if seen >= rank:
                return round(min(self.upper_ns(b), float(self.max_ns) or self.upper_ns(b)) / 1000, 1)
        return round(self.max_ns / 1000, 1)

    def to_json(self) -> dict[str, Any]:
        return {"buckets": {str(b): n for b, n in self.buckets.items()}, "max_ns": self.max_ns}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Histogram:
        histogram = cls({int(b): int(n) for b, n in data["buckets"].items()})
        histogram.max_ns = int(data["max_ns"])
        return histogram

    def summary(self) -> dict[str, Any]:
        return {
            "n": self.count,
            "p50_us": self.quantile_us(0.50),
            "p90_us": self.quantile_us(0.90),
            "p99_us": self.quantile_us(0.99),
            "max_us": round(self.max_ns / 1000, 1) if self.count else None,
        }


def log_id_key(log_id: str) -> tuple[int, int]:
    """A Redis stream id ("1700000000000-3") as a sortable pair."""
    ms, _, seq = log_id.partition("-")
    return int(ms or 0), int(seq or 0)


def ratio(value: float | None, floor: float | None) -> float | None:
    """value ÷ floor to 4 significant digits; None when either is missing or the floor is not positive."""
    if value is None or floor is None or floor <= 0:
        return None
    return float(f"{value / floor:.4g}")
