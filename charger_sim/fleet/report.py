"""What a fleet run shows: the live progress line and the summary JSON (fields documented in
docs/charger-sim-fleet.md; a benchmark reads them, so rename nothing without updating it)."""

from __future__ import annotations

import time
from typing import Any, TextIO

from charger_sim.fleet.options import FleetOptions
from charger_sim.fleet.stats import Stats

FIRST_ERRORS = 10  # error messages listed in the summary, in the order they first happened


class Progress:
    """One status line about once a second: ``\\r``-refreshed on a terminal, plain lines else."""

    def __init__(self, stream: TextIO, count: int) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._count = count
        self._started = time.monotonic()
        self._last: tuple[float, int] = (self._started, 0)
        self._width = 0

    def update(self, stats: Stats) -> None:
        now = time.monotonic()
        then, acked = self._last
        rate = (stats.calls_acked - acked) / (now - then) if now > then else 0.0
        self._last = (now, stats.calls_acked)
        line = (
            f"{now - self._started:7.1f}s  connected {stats.online}/{self._count}"
            f"  booted {stats.booted}  sessions {stats.sessions_running} running"
            f" {stats.sessions_completed} done  {rate:,.0f} msg/s  errors {stats.error_total}"
        )
        if self._tty:
            self._stream.write("\r" + line.ljust(self._width))
            self._width = len(line)
        else:
            self._stream.write(line + "\n")
        self._stream.flush()

    def close(self) -> None:
        if self._tty and self._width:
            self._stream.write("\n")
            self._stream.flush()


def build_summary(
    options: FleetOptions, stats: Stats, wall_seconds: float, problems: list[str]
) -> dict[str, Any]:
    """The end-of-run summary; ``problems`` are failures outside the chargers (a dead worker)."""
    errors = dict(stats.errors)
    for problem in problems:
        errors[problem] = errors.get(problem, 0) + 1
    error_total = stats.error_total + len(problems)
    all_accepted = stats.accepted == options.count
    boot_seconds = None
    if all_accepted and stats.first_connect_at is not None and stats.last_accepted_at:
        boot_seconds = round(stats.last_accepted_at - stats.first_connect_at, 3)
    wall = max(wall_seconds, 1e-9)
    return {
        "ok": all_accepted and error_total == 0,
        "parameters": options.public(),
        "open_files_limit": stats.open_files or None,
        "wall_seconds": round(wall_seconds, 3),
        "chargers": {
            "count": options.count,
            "connected": stats.connected,
            "booted": stats.boot_answered,
            "accepted": stats.accepted,
            "all_accepted_seconds": boot_seconds,
            "online_at_stop": stats.online_at_stop,
            "connect_attempts": stats.connect_attempts,
            "connect_failures": stats.connect_failures,
            "disconnects": stats.disconnects,
        },
        "sessions": {
            "started": stats.sessions_started,
            "completed": stats.sessions_completed,
        },
        "calls": {
            "sent": stats.calls_sent,
            "acknowledged": stats.calls_acked,
            "callerror": stats.call_errors,
            "timeouts": stats.call_timeouts,
            "lost": stats.calls_lost,
            "acknowledged_per_second": round(stats.calls_acked / wall, 1),
            "steady_acknowledged_per_second": _steady_rate(stats),
            "acknowledged_timeline": _timeline(stats),
        },
        "meter_samples": {
            "acknowledged": stats.samples_acked,
            "acknowledged_per_second": round(stats.samples_acked / wall, 1),
        },
        "latency_ms": {
            "calls": stats.call_latency.summary_ms(),
            "meter_samples": stats.sample_latency.summary_ms(),
            "meter_samples_steady": stats.steady_sample_latency.summary_ms(),
            "connect": stats.connect_latency.summary_ms(),
        },
        "energy_wh": {
            "delivered": _with_total(stats.energy_delivered_wh),
            "completed_transactions": _with_total(stats.energy_completed_wh),
        },
        "errors": {
            "total": error_total,
            "first": [{"message": m, "count": n} for m, n in list(errors.items())[:FIRST_ERRORS]],
        },
    }


def exit_code(summary: dict[str, Any]) -> int:
    """0 when every charger was Accepted and nothing failed, else 1."""
    return 0 if summary["ok"] else 1


def _timeline(stats: Stats) -> list[int]:
    """Acknowledged calls in each wall-clock second from the first connect on."""
    if stats.first_connect_at is None or not stats.acked_by_second:
        return []
    first, last = int(stats.first_connect_at), max(stats.acked_by_second)
    return [stats.acked_by_second.get(second, 0) for second in range(first, last + 1)]


def _steady_rate(stats: Stats) -> float | None:
    """Mean acknowledged calls/s over the whole seconds after the last first Accepted and
    before the stop: the rate without the connect ramp and the shutdown."""
    if stats.last_accepted_at is None or stats.stopped_at is None:
        return None
    seconds = range(int(stats.last_accepted_at) + 1, int(stats.stopped_at))
    if not seconds:
        return None
    return round(sum(stats.acked_by_second.get(s, 0) for s in seconds) / len(seconds), 1)


def _with_total(per_protocol: dict[str, int]) -> dict[str, int]:
    return {"total": sum(per_protocol.values()), **per_protocol}
