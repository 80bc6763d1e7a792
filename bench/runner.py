"""Run a benchmark's cases on every server, ``runs`` times each; aggregate the results.

Runs are interleaved (run 1 on every server, then run 2...), each on a fresh server process,
so slow drift of the machine spreads over all servers instead of favouring one.
"""

from __future__ import annotations

import statistics
import time
import traceback
from collections.abc import Sequence
from typing import Any

from bench.model import Benchmark, Case, Context, Metric, Target
from bench.procs import BenchError
from bench.servers import ServerKind, make_server


async def run_benchmark(
    ctx: Context, bench: Benchmark, servers: Sequence[ServerKind], runs: int
) -> dict[str, Any]:
    """Every case of ``bench`` on every server; the benchmark's part of the report."""
    sizes = ctx.extra["sizes"]
    results = []
    for case in bench.cases(sizes):
        records: dict[str, list[dict[str, Any]]] = {kind: [] for kind in servers}
        for run in range(1, runs + 1):
            for kind in servers:
                ctx.log(f"{bench.NAME}: {case.label}, {kind}, run {run}/{runs}")
                record = await _one_run(ctx, bench, case, kind, run)
                records[kind].append(record)
                ctx.log(f"  -> {_brief(bench.METRICS, record)}")
        results.append(_aggregate(bench, case, records))
    return {
        "name": bench.NAME,
        "title": bench.TITLE,
        "how": bench.HOW,
        "metrics": [vars(m) for m in bench.METRICS],
        "cases": results,
    }


async def _one_run(
    ctx: Context, bench: Benchmark, case: Case, kind: ServerKind, run: int
) -> dict[str, Any]:
    workdir = ctx.workdir / f"{bench.NAME}-{case.slug}-{kind}-{run}"
    heartbeat = bench.heartbeat(ctx.extra["sizes"])
    server = make_server(kind, workdir, ctx.db, heartbeat, api_key=bench.NEEDS_API_KEY)
    began = time.monotonic()
    record: dict[str, Any] = {"run": run}
    try:
        await server.start()
        record.update(await bench.measure(ctx, server, case))
    except BenchError as exc:
        record["error"] = str(exc)
    except Exception as exc:  # a benchmark bug must not lose the other runs' results
        record["error"] = f"{type(exc).__name__}: {exc}"
        record["traceback"] = traceback.format_exc()
    finally:
        await server.stop()
    record["server_exit_code"] = server.exit_code
    record["seconds"] = round(time.monotonic() - began, 1)
    record["workdir"] = str(workdir)
    return record


def _aggregate(
    bench: Benchmark, case: Case, records: dict[str, list[dict[str, Any]]]
) -> dict[str, Any]:
    servers: dict[str, dict[str, Any]] = {
        kind: {"runs": runs, "stats": {m.key: spread(m, runs) for m in bench.METRICS}}
        for kind, runs in records.items()
    }
    ours = servers.get("csms", {}).get("stats", {})
    ratios: dict[str, dict[str, float | None]] = {}
    for metric in bench.METRICS:
        mine = (ours.get(metric.key) or {}).get("median")
        ratios[metric.key] = {
            kind: _ratio(mine, (data["stats"].get(metric.key) or {}).get("median"))
            for kind, data in servers.items()
            if kind != "csms"
        }
    runs = records.get("csms", [])
    targets = [verdict(t, case, runs) for t in bench.TARGETS if t.related(case)]
    return {
        "label": case.label,
        "params": case.params,
        "servers": servers,
        "ratios": ratios,
        "targets": targets,
    }


def spread(metric: Metric, runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """min / median / max of ``metric`` over the runs that produced it."""
    values = [v for v in (r.get("metrics", {}).get(metric.key) for r in runs) if v is not None]
    if not values:
        return None
    return {
        "min": min(values),
        "median": statistics.median(values),
        "max": max(values),
        "runs": len(values),
    }


def verdict(target: Target, case: Case, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Pass or fail on the worst of our runs; indicative only when the size differs."""
    values = [v for v in (r.get("metrics", {}).get(target.metric) for r in runs) if v is not None]
    missing = len(values) < len(runs) or not values
    worst = target.worst(values) if values else None
    if worst is None:
        outcome = "no data"
    else:
        outcome = "pass" if target.met(worst) and not missing else "fail"
    return {
        "target": target.text,
        "metric": target.metric,
        "op": target.op,
        "value": target.value,
        "worst_run": worst,
        "verdict": outcome,
        "at_target_size": target.applies(case),
    }


def checks_ok(report: dict[str, Any]) -> bool:
    """Every run finished and every database check that ran passed."""
    for case in report["cases"]:
        for data in case["servers"].values():
            for run in data["runs"]:
                if "error" in run:
                    return False
                check = run.get("db_check")
                if check and check.get("checked") and not check.get("ok"):
                    return False
    return True


def _ratio(ours: float | None, base: float | None) -> float | None:
    if ours is None or base is None or base == 0:
        return None
    return ours / base


def _brief(metrics: list[Metric], record: dict[str, Any]) -> str:
    if "error" in record:
        return f"error: {record['error']}"
    values = record.get("metrics", {})
    shown = [f"{m.key}={_num(values.get(m.key), m.digits)}" for m in metrics[:3]]
    check = record.get("db_check")
    if check and check.get("checked"):
        shown.append(f"db_check={'ok' if check['ok'] else 'FAILED'}")
    return ", ".join(shown)


def _num(value: Any, digits: int) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"
