"""``python -m bench``: run the benchmarks, write the report, exit 0 if every run finished.

Exit codes: 0 every run finished and every database check passed (targets do not count: these
are benchmarks, not tests), 1 otherwise, 2 bad usage.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import importlib.util
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from bench.benchmarks import connections, paced, remote_start, storm, throughput
from bench.model import Benchmark, Context
from bench.postgres import PostgresServer
from bench.procs import BenchError, raise_open_files_limit
from bench.report import machine, versions, write
from bench.runner import checks_ok, run_benchmark
from bench.servers import REPO, Database, ServerKind
from bench.sizes import SIZES, Sizes, sizes_for

BENCHMARKS: dict[str, Benchmark] = {
    b.NAME: b for b in (throughput, paced, connections, storm, remote_start)
}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description="CSMS benchmarks")
    add = p.add_argument
    add("--only", help=f"comma-separated subset of: {', '.join(BENCHMARKS)} (default: all)")
    add("--size", choices=list(SIZES), default="full", help="small = smoke sizes (default full)")
    add("--runs", type=int, default=3, help="runs per case and server (default 3)")
    add("--db", choices=["sqlite", "postgres"], default="sqlite", help="where servers store")
    add("--out", type=Path, default=REPO / "bench" / "results", help="report directory")
    add("--baselines", default="naive,echo", help="comma-separated baselines, or 'none'")
    add("--fleet-workers", type=int, help="charger-sim fleet --workers (default: by size)")
    add("--keep", action="store_true", help="keep the work directory (logs, databases)")
    add("--throughput-chargers", type=_ints, help="e.g. 100,1000")
    add("--throughput-seconds", type=float, help="flood seconds after all are Accepted")
    add("--connections-chargers", type=_ints, help="e.g. 1000,10000,19000")
    add("--connections-hold", type=float, help="idle seconds before reading RSS")
    add("--connections-compression", type=_compressions, help="none,deflate (default both)")
    add("--heartbeat-interval", type=int, help="seconds, in the connections benchmark")
    add("--storm-chargers", type=_ints, help="e.g. 10000")
    add("--remote-chargers", type=int, help="chargers connected for remote starts")
    add("--remote-starts", type=int, help="remote starts (at most one per charger)")
    add("--connect-rate", type=float, help="connects per second when ramping up")
    add("--paced-chargers", type=_ints, help="chargers in the paced benchmark, e.g. 1000")
    add("--paced-rates", type=_floats, help="samples per second per charger, e.g. 1,2,4")
    add("--paced-seconds", type=float, help="paced seconds after every transaction runs")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser().parse_args(argv)
    args.argv = argv
    try:
        only = _names(args.only, list(BENCHMARKS), "--only")
        baselines = [] if args.baselines == "none" else _names(args.baselines, ["naive", "echo"])
        if args.runs < 1:
            raise BenchError("--runs must be at least 1")
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    overrides = {f: getattr(args, f) for f in Sizes.__dataclass_fields__ if hasattr(args, f)}
    sizes = sizes_for(args.size, **overrides)
    servers = [cast(ServerKind, name) for name in ("csms", *baselines)]
    try:
        return asyncio.run(_run(args, only, servers, sizes))
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("bench: interrupted; servers and fleets stopped", file=sys.stderr)
        return 130


async def _run(
    args: argparse.Namespace, only: list[str], servers: list[ServerKind], sizes: Sizes
) -> int:
    if args.db == "postgres" and importlib.util.find_spec("asyncpg") is None:
        raise BenchError("--db postgres needs asyncpg: pip install -e '.[postgres]'")
    main_task = asyncio.current_task()
    assert main_task is not None
    # SIGTERM (SIGINT too, through asyncio.run) cancels us: the finally blocks then stop the
    # servers and fleets, which run in sessions of their own and would not get the signal.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    limit = raise_open_files_limit()
    workdir = Path(tempfile.mkdtemp(prefix="csms-bench-"))
    started, began = datetime.now(UTC), time.monotonic()
    report: dict[str, Any] = {
        "schema": 1,
        "started_at": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "size": args.size,
        "runs": args.runs,
        "db": args.db,
        "servers": servers,
        "command": ["python", "-m", "bench", *args.argv],
        "sizes": dataclasses.asdict(sizes),
        "machine": machine(),
        "versions": versions(REPO),
        "open_files_limit": limit,
        "workdir": str(workdir),
        "benchmarks": [],
    }
    ok = True
    try:
        pg = PostgresServer() if args.db == "postgres" else None
        with pg if pg is not None else contextlib.nullcontext():
            if pg is not None:
                report["postgres"] = pg.version()
            ctx = Context(workdir, Database(args.db, pg), args.fleet_workers, _log)
            ctx.extra["sizes"] = sizes
            for name in only:
                result = await run_benchmark(ctx, BENCHMARKS[name], servers, args.runs)
                report["benchmarks"].append(result)
                ok = ok and checks_ok(result)
    except BaseException:
        ok = False
        raise
    finally:
        report["finished_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        report["seconds"] = round(time.monotonic() - began, 1)
        report["ok"] = ok
        json_path, md_path = write(report, args.out)
        _log(f"report: {md_path} and {json_path}")
        if ok and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            _log(f"logs and databases kept in {workdir}")
    return 0 if ok else 1


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _floats(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from None
    if not values or min(values) <= 0:
        raise argparse.ArgumentTypeError(f"rates must be above 0: {text!r}")
    return values


def _ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v.replace("_", "")) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of integers: {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"counts must be at least 1: {text!r}")
    return values


def _compressions(text: str) -> tuple[str, ...]:
    values = tuple(v.strip() for v in text.split(",") if v.strip())
    if not values or not set(values) <= {"none", "deflate"}:
        raise argparse.ArgumentTypeError(f"none and/or deflate, not {text!r}")
    return values


def _names(text: str | None, known: list[str], option: str = "--baselines") -> list[str]:
    if not text:
        return known
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise BenchError(f"{option}: unknown {', '.join(unknown)} (known: {', '.join(known)})")
    return [n for n in known if n in names]  # in the canonical order
