"""The fleet's counters: cheap to update per message, bounded in size, mergeable across workers.

One :class:`Stats` per worker; the chargers update it in place. A worker sends copies
(:meth:`Stats.snapshot`) to the parent, which adds them up with :meth:`Stats.merged`.
Latencies go into log-spaced :class:`Histogram` buckets (about 2 % wide), so their memory does
not grow with the number of chargers or messages.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

MAX_ERROR_KINDS = 20  # distinct error messages kept; the rest are counted together
OTHER_ERRORS = "(other errors)"

_LOWEST = 1e-5  # 10 µs: the upper edge of bucket 0
_GROWTH = 1.02
_LOG_GROWTH = math.log(_GROWTH)
_BUCKETS = 1000  # up to 10 µs * 1.02**1000, about 66 minutes
# bucket = ceil(log(seconds / _LOWEST) / _LOG_GROWTH), as one multiply and one subtract
_SCALE = 1 / _LOG_GROWTH
_OFFSET = math.log(_LOWEST) / _LOG_GROWTH


class Histogram:
    """Durations in log-spaced buckets: percentiles within about 2 %, the exact maximum."""

    __slots__ = ("buckets", "count", "max", "total")

    def __init__(self) -> None:
        self.buckets: dict[int, int] = {}
        self.count = 0
        self.total = 0.0
        self.max = 0.0

    def record(self, seconds: float) -> None:
        # Once or twice per message in a flood: kept to the cheapest operations.
        index = 0
        if seconds > _LOWEST:
            index = math.ceil(math.log(seconds) * _SCALE - _OFFSET)
            if index >= _BUCKETS:
                index = _BUCKETS - 1
        buckets = self.buckets
        buckets[index] = buckets.get(index, 0) + 1
        self.count += 1
        self.total += seconds
        if seconds > self.max:
            self.max = seconds

    def add(self, other: Histogram) -> None:
        for index, n in other.buckets.items():
            self.buckets[index] = self.buckets.get(index, 0) + n
        self.count += other.count
        self.total += other.total
        self.max = max(self.max, other.max)

    def percentile(self, q: float) -> float:
        """The ``q`` (0..1) quantile in seconds: its bucket's geometric middle, capped at max."""
        if not self.count:
            return 0.0
        rank = max(1, math.ceil(q * self.count))
        seen = 0
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            if seen >= rank:
                middle = _LOWEST * _GROWTH ** (index - 0.5) if index else _LOWEST
                return min(middle, self.max)
        return self.max

    def summary_ms(self) -> dict[str, Any]:
        ms = 1000.0
        return {
            "count": self.count,
            "mean": round(self.total / self.count * ms, 3) if self.count else None,
            "p50": round(self.percentile(0.50) * ms, 3) if self.count else None,
            "p90": round(self.percentile(0.90) * ms, 3) if self.count else None,
            "p99": round(self.percentile(0.99) * ms, 3) if self.count else None,
            "max": round(self.max * ms, 3) if self.count else None,
        }


def _per_protocol() -> dict[str, int]:
    return {"1.6": 0, "2.0.1": 0}


@dataclass(slots=True)
class Stats:
    """One worker's counters. Gauges (``online``, ``booted``, ``sessions_running``) go down too."""

    chargers: int = 0
    connect_attempts: int = 0
    connect_failures: int = 0
    connected: int = 0  # chargers that opened a WebSocket at least once
    online: int = 0  # open WebSockets now
    boot_answered: int = 0  # chargers whose BootNotification was answered at least once
    accepted: int = 0  # chargers Accepted at least once
    booted: int = 0  # online and Accepted now
    disconnects: int = 0  # connections the CSMS or the network closed
    online_at_stop: int = 0
    sessions_started: int = 0
    sessions_completed: int = 0
    sessions_running: int = 0
    calls_sent: int = 0
    calls_acked: int = 0
    call_errors: int = 0
    call_timeouts: int = 0
    calls_lost: int = 0  # the connection closed before the answer came
    samples_acked: int = 0
    energy_delivered_wh: dict[str, int] = field(default_factory=_per_protocol)
    energy_completed_wh: dict[str, int] = field(default_factory=_per_protocol)
    first_connect_at: float | None = None  # time.time(): comparable across worker processes
    last_accepted_at: float | None = None  # when the last charger was Accepted the first time
    stopped_at: float | None = None  # when the stop was asked
    acked_by_second: dict[int, int] = field(default_factory=dict)  # int(time.time()) -> calls
    call_latency: Histogram = field(default_factory=Histogram)
    sample_latency: Histogram = field(default_factory=Histogram)
    # Samples acknowledged once every charger of the worker has started a transaction: the
    # latency at a steady rate, without the transaction starts (the paced benchmark's p99).
    steady_sample_latency: Histogram = field(default_factory=Histogram)
    connect_latency: Histogram = field(default_factory=Histogram)
    error_total: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    open_files: dict[str, int] = field(default_factory=dict)

    def error(self, message: str) -> None:
        """Count one error; messages must not name a charger so that equal errors add up."""
        self.error_total += 1
        if message not in self.errors and len(self.errors) >= MAX_ERROR_KINDS:
            message = OTHER_ERRORS
        self.errors[message] = self.errors.get(message, 0) + 1

    def connect_attempt(self) -> None:
        self.connect_attempts += 1
        if self.first_connect_at is None:
            self.first_connect_at = time.time()

    def first_acceptance(self) -> None:
        self.accepted += 1
        self.last_accepted_at = time.time()

    def acked(self, seconds: float) -> None:
        self.calls_acked += 1
        self.call_latency.record(seconds)
        second = int(time.time())
        self.acked_by_second[second] = self.acked_by_second.get(second, 0) + 1

    def sample_acked(self, seconds: float) -> None:
        self.samples_acked += 1
        self.sample_latency.record(seconds)
        if self.sessions_started >= self.chargers > 0:
            self.steady_sample_latency.record(seconds)

    def snapshot(self) -> Stats:
        """A deep copy, safe to pickle while the chargers keep counting."""
        return copy.deepcopy(self)

    @classmethod
    def merged(cls, parts: Iterable[Stats]) -> Stats:
        """The sum of several workers' stats (times: earliest first connect, latest accept)."""
        total = cls()
        for part in parts:
            total._add(part)
        return total

    def _add(self, other: Stats) -> None:
        for f in dataclasses.fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if isinstance(mine, int):
                setattr(self, f.name, mine + theirs)
            elif isinstance(mine, Histogram):
                mine.add(theirs)
        for name in ("energy_delivered_wh", "energy_completed_wh", "acked_by_second"):
            mine = getattr(self, name)
            for key, n in getattr(other, name).items():
                mine[key] = mine.get(key, 0) + n
        self.first_connect_at = _pick(min, self.first_connect_at, other.first_connect_at)
        self.last_accepted_at = _pick(max, self.last_accepted_at, other.last_accepted_at)
        self.stopped_at = _pick(min, self.stopped_at, other.stopped_at)
        for message, n in other.errors.items():
            kept = message if message in self.errors or len(self.errors) < MAX_ERROR_KINDS else None
            key = kept or OTHER_ERRORS
            self.errors[key] = self.errors.get(key, 0) + n
        if other.open_files and (
            not self.open_files or other.open_files["soft"] < self.open_files["soft"]
        ):
            self.open_files = dict(other.open_files)


def _pick(choose: Any, a: float | None, b: float | None) -> float | None:
    if a is None or b is None:
        return a if b is None else b
    return float(choose(a, b))
