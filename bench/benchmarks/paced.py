"""Ack latency at a steady rate: every charger in a transaction, R samples a second.

The throughput benchmark floods: each charger sends its next sample the moment the last one is
acknowledged, so the mean ack latency there is the charger count divided by the rate (Little's
law) -- at 1,000 chargers, 20 ms would take 50,000 msgs/s. Here each charger waits 1/R s after
an acknowledgement before its next sample, as real chargers pace their meter values, and the
benchmark measures how long an acknowledgement takes at that rate.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bench.benchmarks.common import boot_timeout, fleet, fleet_facts, with_fleet
from bench.model import Case, Context, Metric, Target
from bench.servers import Server
from bench.sizes import Sizes

NAME = "paced"
TITLE = "Ack latency at a steady rate"
HOW = (
    "`charger-sim fleet --protocol mix --compression none --meter-interval 60 --time-scale "
    "60*R` with sessions starting at once and never ending: every charger (half OCPP 1.6, half "
    "2.0.1) starts one transaction, then sends a meter sample 1/R s after the last one was "
    "acknowledged, so the offered load is just under chargers x R msgs/s while "
    "acknowledgements are quick (and falls as they slow down). Chargers connect (and so "
    "start their transactions) at most 100 a second; the samples' ack latencies (send to "
    "CALLRESULT) are the fleet's over the whole run, the transaction starts included, and "
    "*steady* over the samples a fleet worker acknowledged once each of its chargers had "
    "started its transaction (the target's figure); *acknowledged msgs/s* is the fleet's "
    "acknowledged rate over the window after every transaction runs. Unlike in the throughput "
    "benchmark the latency is not the charger count divided by "
    "the rate: the wait between samples dominates."
)
METRICS = [
    Metric("offered_msgs_per_s", "offered msgs/s (at most)", "msg/s", "higher", 0),
    Metric("msgs_per_s", "acknowledged msgs/s", "msg/s", "higher", 0),
    Metric("p50_ms", "ack latency p50", "ms", "lower", 2),
    Metric("p99_ms", "ack latency p99", "ms", "lower", 2),
    Metric("max_ms", "ack latency max", "ms", "lower", 2),
    Metric("steady_p50_ms", "steady ack latency p50", "ms", "lower", 2),
    Metric("steady_p99_ms", "steady ack latency p99", "ms", "lower", 2),
    Metric("errors", "fleet errors", "", "lower", 0),
]
TARGETS = [
    Target(
        "steady_p99_ms",
        "<=",
        50,
        {"chargers": 1000},
        "p99 ack <= 50 ms at 1,000 chargers (here at a steady offered rate, once all run)",
    ),
]
NEEDS_API_KEY = False
STARTS_PER_S = 100


def cases(sizes: Sizes) -> list[Case]:
    return [
        Case(f"{n:,} chargers x {rate:g}/s", {"chargers": n, "rate": rate})
        for n in sizes.paced_chargers
        for rate in sizes.paced_rates
    ]


def heartbeat(sizes: Sizes) -> int:
    return 300


async def measure(ctx: Context, server: Server, case: Case) -> dict[str, Any]:
    count, rate = case.params["chargers"], case.params["rate"]
    sizes: Sizes = ctx.extra["sizes"]
    # At most STARTS_PER_S connects (and so transaction starts) a second: 1,000 transactions
    # starting within 2 s would queue the first samples behind them and dominate the p99.
    ramp_up = max(1.0, count / STARTS_PER_S, count / sizes.connect_rate)
    args = [
        *("--protocol", "mix", "--compression", "none"),
        *("--sessions-per-hour", "3600", "--session-minutes", "1000000"),
        *("--meter-interval", "60", "--time-scale", f"{60 * rate:g}"),
        *("--ramp-up", f"{ramp_up:g}"),
    ]
    paced = fleet(ctx, server, count, args)

    async def window() -> float | None:
        """The acknowledged rate once every transaction runs (None if they never all did)."""
        running = await paced.wait_until(lambda p: p.running >= count, boot_timeout(count))
        first = len(paced.progress) - 1
        await asyncio.sleep(sizes.paced_seconds)
        return paced.mean_rate(first, len(paced.progress)) if running else None

    summary, acked_rate = await with_fleet(
        paced, boot_within=boot_timeout(count, ramp_up), booted=window
    )
    latency = summary["latency_ms"]["meter_samples"]
    steady = summary["latency_ms"]["meter_samples_steady"]
    metrics = {
        "offered_msgs_per_s": count * rate,
        "msgs_per_s": acked_rate,
        "p50_ms": latency["p50"],
        "p99_ms": latency["p99"],
        "max_ms": latency["max"],
        "steady_p50_ms": steady["p50"],
        "steady_p99_ms": steady["p99"],
        "errors": summary["errors"]["total"],
    }
    return {"metrics": metrics, "fleet": fleet_facts(summary)}
