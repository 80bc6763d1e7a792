"""What the benchmarks share: running a fleet around a measurement, percentiles, checks."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from bench.fleet import FleetProcess, workers_for
from bench.model import Context
from bench.procs import BenchError
from bench.servers import Server

T = TypeVar("T")


def fleet(ctx: Context, server: Server, count: int, args: list[str]) -> FleetProcess:
    """A fleet of ``count`` chargers against ``server``, seeded, in the run's directory."""
    workers = workers_for(count, ctx.fleet_workers)
    return FleetProcess(
        server.workdir, server.ws_url, count, [*args, "--seed", "1"], workers=workers
    )


def boot_timeout(count: int, ramp_up: float = 0.0) -> float:
    """How long a fleet may take until every charger is Accepted: generous, but bounded
    (25 boots a second, a slow server's pace, plus a minute)."""
    return 60 + ramp_up + count / 25


async def with_fleet(
    fleet: FleetProcess,
    *,
    boot_within: float,
    booted: Callable[[], Awaitable[T]],
    partial_ok: bool = False,
) -> tuple[dict[str, Any], T]:
    """Start ``fleet``, run ``booted()`` once every charger is Accepted, stop it cleanly.

    The fleet's summary and what ``booted()`` returned. A fleet that has not got every
    charger Accepted within ``boot_within`` seconds is a :class:`BenchError`, unless
    ``partial_ok``: then ``booted()`` runs anyway, with the chargers that made it.
    """
    await fleet.start()
    try:
        try:
            await fleet.wait_booted(boot_within)
        except BenchError:
            if not partial_ok:
                raise
        result = await booted()
        return await fleet.stop(), result
    except BaseException:
        await fleet.kill()
        raise


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..1); None without values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def fleet_facts(summary: dict[str, Any]) -> dict[str, Any]:
    """The parts of a fleet summary worth keeping in the report (not the timeline)."""
    calls = {k: v for k, v in summary["calls"].items() if k != "acknowledged_timeline"}
    keep = ("ok", "exit_code", "wall_seconds", "chargers", "sessions", "meter_samples")
    facts = {k: summary.get(k) for k in keep}
    return {
        **facts,
        "calls": calls,
        "latency_ms": summary["latency_ms"],
        "errors": summary["errors"],
    }


def charger_id(index: int, count: int, prefix: str = "SIM") -> str:
    """The fleet's id for charger ``index`` (0-based), as ``charger-sim fleet`` numbers them."""
    width = max(5, len(str(count)))
    return f"{prefix}{index + 1:0{width}d}"
