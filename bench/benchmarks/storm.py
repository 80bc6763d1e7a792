"""Reconnect storm: thousands of chargers connecting and booting at the same moment."""

from __future__ import annotations

from typing import Any

from bench.benchmarks.common import boot_timeout, fleet, fleet_facts, with_fleet
from bench.model import Case, Context, Metric, Target
from bench.servers import Server
from bench.sizes import Sizes

NAME = "storm"
TITLE = "Reconnect storm"
HOW = (
    "`charger-sim fleet --ramp-up 0 --protocol mix`: every charger opens its WebSocket at "
    "once (offering permessage-deflate, as websockets clients do by default), boots and "
    "reports Available; a failed handshake is retried after about 5 s (`--reconnect 5`). "
    "*Time until all Accepted* is the fleet's `chargers.all_accepted_seconds` (first connect "
    "attempt to the last charger's first Accepted BootNotification); *errors* are all the "
    "fleet's errors (refused or timed-out handshakes, CALLERRORs, call timeouts, drops). A "
    "storm that does not get every charger Accepted within its time limit is stopped and "
    "reported as it stands."
)
METRICS = [
    Metric("all_accepted_s", "time until all Accepted", "s", "lower", 2),
    Metric("errors", "fleet errors", "", "lower", 0),
    Metric("connect_failures", "failed handshakes", "", "lower", 0),
    Metric("connect_p99_ms", "handshake p99", "ms", "lower", 1),
    Metric("accepted", "chargers Accepted", "", "higher", 0),
]
TARGETS = [
    Target(
        "all_accepted_s",
        "<=",
        10,
        {"chargers": 10_000},
        "10,000-charger storm: all Accepted within 10 s",
    ),
    Target("errors", "<=", 0, {"chargers": 10_000}, "10,000-charger storm: zero errors"),
]
NEEDS_API_KEY = False


def cases(sizes: Sizes) -> list[Case]:
    return [Case(f"{n:,} chargers at once", {"chargers": n}) for n in sizes.storm_chargers]


def heartbeat(sizes: Sizes) -> int:
    return 300


async def measure(ctx: Context, server: Server, case: Case) -> dict[str, Any]:
    count = case.params["chargers"]

    async def nothing() -> None:
        return None

    args = ["--protocol", "mix", "--ramp-up", "0"]
    summary, _ = await with_fleet(
        fleet(ctx, server, count, args),
        boot_within=boot_timeout(count),
        booted=nothing,
        partial_ok=True,
    )
    chargers = summary["chargers"]
    metrics = {
        "all_accepted_s": chargers["all_accepted_seconds"],
        "errors": summary["errors"]["total"],
        "connect_failures": chargers["connect_failures"],
        "connect_p99_ms": summary["latency_ms"]["connect"]["p99"],
        "accepted": chargers["accepted"],
    }
    return {"metrics": metrics, "fleet": fleet_facts(summary)}
