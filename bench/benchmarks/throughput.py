"""Throughput: every charger in a transaction, sending meter samples as fast as they are acked."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.benchmarks.common import boot_timeout, fleet, fleet_facts, with_fleet
from bench.model import Case, Context, Metric, Target
from bench.procs import cpu_seconds
from bench.servers import Server
from bench.sizes import Sizes

NAME = "throughput"
TITLE = "Throughput"
HOW = (
    "`charger-sim fleet --flood --compression none --protocol mix`: half the chargers OCPP 1.6 "
    "(MeterValues), half 2.0.1 (TransactionEvent Updated); each starts one transaction, then "
    "sends the next meter sample as soon as the previous one is acknowledged. Once every "
    "charger has its transaction running, the flood runs for the profile's seconds, then the "
    "fleet stops cleanly (transactions stopped). *msgs/s* is the acknowledged rate over that "
    "window (from the fleet's progress lines, time-weighted); *fleet steady msgs/s* is the "
    "fleet's own `calls.steady_acknowledged_per_second`, which starts when the last charger "
    "is Accepted and so also counts the Authorize / start-transaction phase. Latencies are "
    "the fleet's meter-sample ack latencies (send to CALLRESULT) over the whole run. After the "
    "server has stopped, its database is opened and the stored periodic energy samples are "
    "counted: every acknowledged sample must be there, and the stored transactions' energy "
    "must equal the energy of the transactions the fleet completed. *Server CPU per msg* is "
    "the server process's CPU time (all its threads, and its SQLite writer process) over the "
    "window divided by the messages acknowledged in it: what each message costs the server, "
    "which sets the rate when the server's loop is the bottleneck (it moves with the machine's "
    "speed too)."
)
METRICS = [
    Metric("msgs_per_s", "acknowledged msgs/s, all flooding", "msg/s", "higher", 0),
    Metric("steady_msgs_per_s", "fleet steady msgs/s", "msg/s", "higher", 0),
    Metric("server_cpu_us_per_msg", "server CPU per acknowledged msg", "µs", "lower", 0),
    Metric("p50_ms", "ack latency p50", "ms", "lower", 2),
    Metric("p99_ms", "ack latency p99", "ms", "lower", 2),
    Metric("samples_acked", "meter samples acknowledged", "", "higher", 0),
    Metric("errors", "fleet errors", "", "lower", 0),
]
TARGETS = [
    Target(
        "msgs_per_s",
        ">=",
        6000,
        {"chargers": 1000},
        ">= 6,000 durable, schema-validated msgs/s at 1,000 chargers",
    ),
    Target("p99_ms", "<=", 50, {"chargers": 1000}, "p99 ack <= 50 ms at 1,000 chargers"),
]
NEEDS_API_KEY = False


def cases(sizes: Sizes) -> list[Case]:
    return [Case(f"{n:,} chargers", {"chargers": n}) for n in sizes.throughput_chargers]


def heartbeat(sizes: Sizes) -> int:
    return 300  # the CSMS default; heartbeats are not what this measures


async def measure(ctx: Context, server: Server, case: Case) -> dict[str, Any]:
    count, seconds = case.params["chargers"], ctx.extra["sizes"].throughput_seconds
    flood = fleet(ctx, server, count, ["--flood", "--compression", "none", "--protocol", "mix"])

    async def window() -> tuple[float | None, float | None]:
        """The flood rate once every transaction runs, and the server's CPU µs per message
        acknowledged meanwhile (None, None if they never all did)."""
        running = await flood.wait_until(lambda p: p.running >= count, boot_timeout(count))
        first = len(flood.progress) - 1
        cpu, started = cpu_seconds(server.pid), time.monotonic()
        await asyncio.sleep(seconds)
        cpu, elapsed = cpu_seconds(server.pid) - cpu, time.monotonic() - started
        rate = flood.mean_rate(first, len(flood.progress)) if running else None
        return rate, (1e6 * cpu / (rate * elapsed) if rate else None)

    summary, (rate, cpu_per_msg) = await with_fleet(
        flood, boot_within=boot_timeout(count), booted=window
    )
    await server.stop()  # everything flushed and closed before we read the database
    latency = summary["latency_ms"]["meter_samples"]
    metrics = {
        "msgs_per_s": rate,
        "steady_msgs_per_s": summary["calls"]["steady_acknowledged_per_second"],
        "server_cpu_us_per_msg": cpu_per_msg,
        "p50_ms": latency["p50"],
        "p99_ms": latency["p99"],
        "samples_acked": summary["meter_samples"]["acknowledged"],
        "errors": summary["errors"]["total"],
    }
    facts = fleet_facts(summary)
    return {"metrics": metrics, "db_check": db_check(summary, server), "fleet": facts}


def db_check(summary: dict[str, Any], server: Server) -> dict[str, Any]:
    """Every acknowledged sample stored; stored energy equal to the fleet's completed energy."""
    stored = server.stored()
    if stored is None:
        return {"checked": False, "why": f"the {server.kind} baseline keeps no database"}
    acked = summary["meter_samples"]["acknowledged"]
    completed_wh = summary["energy_wh"]["completed_transactions"]["total"]
    missing = max(0, acked - int(stored["meter_samples"]))
    energy_equal = abs(stored["energy_wh"] - completed_wh) < 0.5
    return {
        "checked": True,
        "ok": missing == 0 and energy_equal,
        "samples_acknowledged": acked,
        "samples_stored": int(stored["meter_samples"]),
        "samples_missing": missing,
        "energy_wh_completed": completed_wh,
        "energy_wh_stored": stored["energy_wh"],
        "energy_equal": energy_equal,
        "transactions_stored": int(stored["sessions"]),
        "transactions_ended": int(stored["sessions_ended"]),
        "transactions_completed_by_fleet": summary["sessions"]["completed"],
    }
