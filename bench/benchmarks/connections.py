"""Connections: many chargers booted and idle with heartbeats; server memory per connection."""

from __future__ import annotations

import asyncio
from typing import Any

from bench.benchmarks.common import boot_timeout, fleet, fleet_facts, with_fleet
from bench.model import Case, Context, Metric, Target
from bench.servers import Server
from bench.sizes import Sizes

NAME = "connections"
TITLE = "Connections"
SETTLE = 1.0  # seconds between the server answering /health and the first RSS reading
HOW = (
    "The server's RSS (`VmRSS` in `/proc/<pid>/status`) is read once it answers `/health`, "
    "then `charger-sim fleet --protocol mix` connects the chargers (ramped up at the "
    "profile's connects per second), each boots, reports Available and sends heartbeats at "
    "the interval the server gives (the profile's heartbeat interval). Once every charger is "
    "Accepted they idle for the profile's hold time (at least one heartbeat each), RSS is "
    "read again, and the fleet stops. *KiB per connection* is (RSS after - RSS before) / "
    "chargers. Run once with the fleet offering permessage-deflate (`--compression deflate`; "
    "every server here accepts it, so it is negotiated) and once without (`none`). The "
    "harness and the fleet raise their soft open-files limit to the hard limit at start-up."
)
METRICS = [
    Metric("kib_per_connection", "server RSS per connection", "KiB", "lower", 1),
    Metric("rss_before_mib", "server RSS before", "MiB", "lower", 1),
    Metric("rss_after_mib", "server RSS with all connected", "MiB", "lower", 1),
    Metric("online_at_stop", "chargers online at the end", "", "higher", 0),
    Metric("errors", "fleet errors", "", "lower", 0),
]
TARGETS = [
    Target(
        "kib_per_connection",
        "<=",
        24,
        {"chargers": 19_000, "compression": "none"},
        "19,000 connected chargers at <= 24 KiB each without compression",
    ),
    Target(
        "kib_per_connection",
        "<=",
        40,
        {"chargers": 19_000, "compression": "deflate"},
        "19,000 connected chargers at <= 40 KiB each with permessage-deflate",
    ),
]
NEEDS_API_KEY = False


def cases(sizes: Sizes) -> list[Case]:
    return [
        Case(f"{n:,} chargers, {compression}", {"chargers": n, "compression": compression})
        for n in sizes.connections_chargers
        for compression in sizes.connections_compression
    ]


def heartbeat(sizes: Sizes) -> int:
    return sizes.heartbeat_interval


async def measure(ctx: Context, server: Server, case: Case) -> dict[str, Any]:
    sizes: Sizes = ctx.extra["sizes"]
    count, compression = case.params["chargers"], case.params["compression"]
    ramp_up = count / sizes.connect_rate
    await asyncio.sleep(SETTLE)
    before = server.rss_kib()
    args = ["--protocol", "mix", "--ramp-up", f"{ramp_up:g}", "--compression", compression]
    chargers = fleet(ctx, server, count, args)

    async def idle() -> tuple[int, int]:
        await asyncio.sleep(sizes.connections_hold)
        online = chargers.progress[-1].connected if chargers.progress else 0
        return server.rss_kib(), online

    summary, (after, online) = await with_fleet(
        chargers, boot_within=boot_timeout(count, ramp_up), booted=idle, partial_ok=True
    )
    metrics = {
        # Only a figure for the whole fleet online counts; a partial one goes to "partial".
        "kib_per_connection": (after - before) / count if online >= count else None,
        "rss_before_mib": before / 1024,
        "rss_after_mib": after / 1024,
        "online_at_stop": summary["chargers"]["online_at_stop"],
        "errors": summary["errors"]["total"],
    }
    heartbeats = {"interval_s": sizes.heartbeat_interval, "hold_s": sizes.connections_hold}
    record = {"metrics": metrics, "heartbeats": heartbeats, "fleet": fleet_facts(summary)}
    if online < count:  # not every charger got Accepted in time: what was there, for the record
        record["partial"] = {"online_at_reading": online, "rss_after_kib": after}
    return record
