"""Remote start latency: REST session start -> charger accepts -> HTTP response."""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from bench.benchmarks.common import (
    boot_timeout,
    charger_id,
    fleet,
    fleet_facts,
    percentile,
    with_fleet,
)
from bench.http_client import HttpError, KeptAliveClient
from bench.model import Case, Context, Metric, Target
from bench.procs import BenchError
from bench.servers import Server, StartRequest
from bench.sizes import Sizes

NAME = "remote_start"
TITLE = "Remote start latency"
HOW = (
    "`charger-sim fleet --protocol mix` connects the chargers idle. Then, one after the other "
    "over one kept-alive HTTP/1.1 connection, the harness starts a session on a different "
    "charger each time and times the request from send to response: for our CSMS "
    '`POST /v1/sessions {"connector": "<charger>:1", "user": "SIMTAG01"}` with an API '
    "key made by `csms api-keys create` (the CSMS stores the session, sends "
    "RemoteStartTransaction / RequestStartTransaction, and answers once the charger has), for "
    "the baselines `POST /start/<charger>`. *Answered* counts the starts the charger answered "
    "(the HTTP response carries its verdict; the runs list the answers). Fleet chargers now "
    "answer **Rejected** (docs/charger-sim-fleet.md: in fleet mode nobody would start the "
    "session), so this times the full round trip with a rejection, after which our CSMS "
    "marks the session `start_failed` instead of keeping it `created`. "
    "Latencies are exact nearest-rank percentiles over all starts. The client is "
    "`bench/http_client.py`, a minimal one: httpx spent about 2 ms of the load generator's "
    "CPU on every request here, which the figures would otherwise count as the server's."
)
METRICS = [
    Metric("p50_ms", "latency p50", "ms", "lower", 2),
    Metric("p99_ms", "latency p99", "ms", "lower", 2),
    Metric("mean_ms", "latency mean", "ms", "lower", 2),
    Metric("answered", "starts the charger answered", "", "higher", 0),
    Metric("unanswered", "starts without the charger's answer", "", "lower", 0),
]
TARGETS = [
    Target(
        "p99_ms",
        "<=",
        20,
        {"chargers": 1000},
        "remote start p99 <= 20 ms at 1,000 connected chargers",
    ),
]
NEEDS_API_KEY = True
HTTP_TIMEOUT = 60.0  # per request; the CSMS waits up to its call_timeout (30 s) for the charger


def cases(sizes: Sizes) -> list[Case]:
    n, starts = sizes.remote_chargers, min(sizes.remote_starts, sizes.remote_chargers)
    return [Case(f"{starts:,} starts, {n:,} connected", {"chargers": n, "starts": starts})]


def heartbeat(sizes: Sizes) -> int:
    return 300


async def measure(ctx: Context, server: Server, case: Case) -> dict[str, Any]:
    sizes: Sizes = ctx.extra["sizes"]
    count, starts = case.params["chargers"], case.params["starts"]
    ramp_up = count / sizes.connect_rate

    async def start_sessions() -> dict[str, Any]:
        return await _starts(server, count, starts)

    args = ["--protocol", "mix", "--ramp-up", f"{ramp_up:g}", "--compression", "none"]
    summary, timed = await with_fleet(
        fleet(ctx, server, count, args),
        boot_within=boot_timeout(count, ramp_up),
        booted=start_sessions,
    )
    return {**timed, "fleet": fleet_facts(summary)}


async def _starts(server: Server, count: int, starts: int) -> dict[str, Any]:
    """Time ``starts`` sequential session starts, each on the next charger."""
    latencies: list[float] = []
    answers: dict[str, int] = {}
    budget = 120 + starts * 0.5  # seconds for all of them: bounded even if the server stalls
    async with KeptAliveClient("127.0.0.1", server.http_port, timeout=HTTP_TIMEOUT) as client:
        await client.request("GET", "/health")  # open the connection before timing
        try:
            async with asyncio.timeout(budget):
                for index in range(starts):
                    request = server.start_request(charger_id(index, count))
                    began = time.perf_counter()
                    answer = await _start(server, client, request)
                    latencies.append((time.perf_counter() - began) * 1000)
                    answers[answer] = answers.get(answer, 0) + 1
        except TimeoutError:
            done = len(latencies)
            raise BenchError(f"only {done} of {starts} starts done in {budget:g} s") from None
    answered = answers.get("Accepted", 0) + answers.get("Rejected", 0)
    metrics = {
        "p50_ms": percentile(latencies, 0.50),
        "p99_ms": percentile(latencies, 0.99),
        "mean_ms": statistics.fmean(latencies) if latencies else None,
        "answered": answered,
        "unanswered": starts - answered,
    }
    return {"metrics": metrics, "max_ms": max(latencies, default=None), "answers": answers}


async def _start(server: Server, client: KeptAliveClient, request: StartRequest) -> str:
    """Send one start: the charger's answer (Accepted, Rejected), or what went wrong."""
    try:
        response = await client.request(
            "POST", request.path, json_body=request.body, headers=request.headers
        )
    except HttpError:
        return "HttpError"
    try:
        body = response.json()
    except ValueError:
        body = None
    answer = server.start_answer(response.status, body)
    if answer is not None:
        return answer
    message = body.get("message") or body.get("error") if isinstance(body, dict) else None
    return f"HTTP {response.status}: {str(message)[:100]}"  # without ids: they add up
