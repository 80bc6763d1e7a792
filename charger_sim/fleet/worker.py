"""One worker: a slice of the fleet's chargers on one event loop.

:class:`Worker` runs in the caller's loop (``--workers 1`` and the tests);
:func:`process_main` is the entry point of a worker process, which sends snapshots of its
:class:`Stats` to the parent about once a second and stops when the parent says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import random
import signal
import time
from typing import Any

from charger_sim.fleet.charger import FleetContext, SimCharger
from charger_sim.fleet.connection import tls_context
from charger_sim.fleet.options import FleetOptions
from charger_sim.fleet.stats import Stats

try:
    import resource
except ImportError:  # not on Windows
    resource = None  # type: ignore[assignment]

REPORT_INTERVAL = 1.0
GC_THRESHOLD_0 = 50_000  # allocations between generation-0 collections (see process_main)


def stop_grace(options: FleetOptions) -> float:
    """How long chargers get to stop transactions and close sockets before being cancelled."""
    return 2 * options.call_timeout + 10


def raise_open_files_limit() -> dict[str, int]:
    """Raise the soft RLIMIT_NOFILE to the hard limit: one socket per charger adds up fast."""
    if resource is None:
        return {}
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    before = soft
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1_048_576)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    return {"soft": soft, "hard": hard, "soft_before": before}


class Worker:
    """Runs chargers ``indexes`` of the fleet until :meth:`stop`, or until all have given up."""

    def __init__(self, options: FleetOptions, indexes: range, seed: int | None = None) -> None:
        self.options = options
        self.stats = Stats(chargers=len(indexes))
        rng = random.Random(seed)
        tls = tls_context(options)
        self._ctx = FleetContext(options, self.stats, rng, len(indexes), tls)
        self._chargers = [
            SimCharger(self._ctx, options.charger_id(i), options.protocol_of(i)) for i in indexes
        ]
        self._stop = asyncio.Event()

    @property
    def all_accepted(self) -> asyncio.Event:
        """Set once every charger of this worker has been Accepted."""
        return self._ctx.all_accepted

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> Stats:
        """Connect the chargers (spread over ``--ramp-up``), then stop them cleanly."""
        self.stats.open_files = raise_open_files_limit()
        soft = self.stats.open_files.get("soft")
        if soft is not None and len(self._chargers) + 64 > soft:
            self.stats.error(f"{len(self._chargers)} chargers need more than {soft} open files")
        n, ramp = len(self._chargers), self.options.ramp_up
        tasks = [
            asyncio.create_task(charger.live(ramp * k / n), name=charger.id)
            for k, charger in enumerate(self._chargers)
        ]
        alive = len(tasks)

        def ended(_: object) -> None:
            nonlocal alive
            alive -= 1
            if not alive:
                self._stop.set()

        for task in tasks:
            task.add_done_callback(ended)
        await self._stop.wait()
        self.stats.online_at_stop = self.stats.online
        self.stats.stopped_at = time.time()
        for charger in self._chargers:
            charger.stop()
        done, pending = await asyncio.wait(tasks, timeout=stop_grace(self.options))
        for task in pending:
            task.cancel()
            self.stats.error("a charger did not stop within the stop grace time")
        await asyncio.gather(*pending, return_exceptions=True)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                self.stats.error(f"internal error: {task.exception()!r}"[:200])
        return self.stats


def process_main(
    options: FleetOptions,
    number: int,
    indexes: range,
    reports: Any,  # multiprocessing Queue of (number, Stats, final)
    stop: Any,  # multiprocessing Event set by the parent
) -> None:
    """A worker process: run ``indexes``, report to the parent, stop when ``stop`` is set."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the group; the parent decides
    # A worker holds thousands of chargers, each built from many small objects: with the default
    # generation-0 threshold (700 allocations) the cyclic collector walked that heap so often
    # that it took about 40 % of a worker's CPU in a 10,000-charger storm (issue 5). Collections
    # still run, about 70 times less often.
    gc.set_threshold(GC_THRESHOLD_0, *gc.get_threshold()[1:])
    asyncio.run(_report_while_running(options, number, indexes, reports, stop))


async def _report_while_running(
    options: FleetOptions, number: int, indexes: range, reports: Any, stop: Any
) -> None:
    seed = None if options.seed is None else options.seed + number
    worker = Worker(options, indexes, seed)
    with contextlib.suppress(NotImplementedError):  # SIGTERM to the whole group: stop cleanly
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, worker.stop)
    task = asyncio.create_task(worker.run())
    parent = os.getppid()
    while not task.done():
        await asyncio.wait([task], timeout=REPORT_INTERVAL)
        if stop.is_set() or os.getppid() != parent:
            worker.stop()
        reports.put((number, worker.stats.snapshot(), False))
    stats = worker.stats
    if task.exception() is not None:
        stats.error(f"internal error: {task.exception()!r}"[:200])
    reports.put((number, stats.snapshot(), True))
