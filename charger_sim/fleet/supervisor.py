"""The fleet as a whole: one worker in this event loop, or ``--workers`` processes.

The parent owns the clock (``--duration``), the stop (a signal, the duration or
:meth:`Fleet.stop`), the progress line and the merged summary. Worker processes are started
with the ``spawn`` context (no inherited sockets or loop state) and send :class:`Stats`
snapshots over a queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import queue
import time
from collections.abc import Callable
from typing import Any

from charger_sim.fleet.options import FleetOptions
from charger_sim.fleet.report import Progress, build_summary
from charger_sim.fleet.stats import Stats
from charger_sim.fleet.worker import REPORT_INTERVAL, Worker, process_main, stop_grace

_QUEUE_POLL = 0.25  # seconds a reader thread blocks on the worker queue
_LAST_WORDS = 2.0  # seconds a dead worker's last report may still take to arrive


class Fleet:
    """Run :class:`FleetOptions`; :meth:`run` returns the summary (see ``report.py``)."""

    def __init__(self, options: FleetOptions) -> None:
        self.options = options
        self._worker: Worker | None = None
        if options.workers == 1:
            self._worker = Worker(options, range(options.count), options.seed)
        self._accepted = asyncio.Event()
        self._stopper: Callable[[], None] | None = None
        self._stop_requested = False

    @property
    def all_accepted(self) -> asyncio.Event:
        """Set once every charger of the fleet has been Accepted."""
        return self._worker.all_accepted if self._worker is not None else self._accepted

    @property
    def stopping(self) -> bool:
        return self._stop_requested

    def stop(self) -> None:
        """Stop cleanly: running transactions are stopped, then sockets closed."""
        self._stop_requested = True
        if self._stopper is not None:
            self._stopper()

    async def run(self, progress: Progress | None = None) -> dict[str, Any]:
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        timer = loop.call_later(self.options.duration, self.stop) if self.options.duration else None
        try:
            problems: list[str] = []
            if self._worker is not None:
                stats = await self._run_here(self._worker, progress)
            else:
                stats, problems = await self._run_processes(progress)
        finally:
            if timer is not None:
                timer.cancel()
            if progress is not None:
                progress.close()
        return build_summary(self.options, stats, time.perf_counter() - started, problems)

    def _listen(self, stopper: Callable[[], None]) -> None:
        self._stopper = stopper
        if self._stop_requested:
            stopper()

    async def _run_here(self, worker: Worker, progress: Progress | None) -> Stats:
        self._listen(worker.stop)
        task = asyncio.create_task(worker.run())
        while not task.done():
            await asyncio.wait([task], timeout=REPORT_INTERVAL)
            if progress is not None:
                progress.update(worker.stats)
        return task.result()

    async def _run_processes(self, progress: Progress | None) -> tuple[Stats, list[str]]:
        context = multiprocessing.get_context("spawn")
        reports: Any = context.Queue()
        stop = context.Event()
        slices = self.options.slices()
        processes = [
            context.Process(
                target=process_main,
                args=(self.options, number, indexes, reports, stop),
                name=f"charger-sim-fleet-{number}",
                daemon=True,
            )
            for number, indexes in enumerate(slices)
        ]
        for process in processes:
            process.start()
        latest = {n: Stats(chargers=len(indexes)) for n, indexes in enumerate(slices)}
        try:
            problems = await self._collect(processes, reports, stop, latest, progress)
            self._tick(Stats.merged(latest.values()), progress)
        except BaseException:  # given up (a second signal): no clean stop to wait for
            for process in processes:
                process.kill()
            raise
        finally:
            for process in processes:
                process.join(timeout=5)  # they sent their final report: they are exiting
                if process.is_alive():
                    process.kill()
                    process.join(timeout=5)
            reports.close()
        return Stats.merged(latest.values()), problems

    async def _collect(
        self,
        processes: list[Any],
        reports: Any,
        stop: Any,
        latest: dict[int, Stats],
        progress: Progress | None,
    ) -> list[str]:
        """Read worker snapshots until every worker sent its final one or is gone."""
        stop_asked: float | None = None

        def stopper() -> None:
            nonlocal stop_asked
            stop.set()
            stop_asked = stop_asked or time.monotonic()

        self._listen(stopper)
        final: set[int] = set()
        exited: dict[int, float] = {}
        problems: list[str] = []
        next_tick = time.monotonic() + REPORT_INTERVAL
        give_up = stop_grace(self.options) + 3 * REPORT_INTERVAL + 10
        while True:
            with contextlib.suppress(queue.Empty):
                number, stats, is_final = await asyncio.to_thread(reports.get, True, _QUEUE_POLL)
                latest[number] = stats
                if is_final:
                    final.add(number)
                    exited.pop(number, None)
            now = time.monotonic()
            for number in self._missing(final):
                if processes[number].exitcode is not None:
                    exited.setdefault(number, now)  # its last report may still be queued
            if now >= next_tick:
                next_tick = now + REPORT_INTERVAL
                self._tick(Stats.merged(latest.values()), progress)
            if len(final) + len(exited) == len(processes) and self._settled(exited, problems):
                return problems
            if stop_asked is not None and now - stop_asked > give_up:
                return [f"worker {n} did not stop in time" for n in self._missing(final)]

    def _settled(self, exited: dict[int, float], problems: list[str]) -> bool:
        """Workers gone without a final report count as failed once their queue had time."""
        now = time.monotonic()
        for number, since in sorted(exited.items()):
            if now - since < _LAST_WORDS:
                return False
            message = f"worker {number} exited before its final report"
            if message not in problems:
                problems.append(message)
        return True

    def _tick(self, merged: Stats, progress: Progress | None) -> None:
        if merged.accepted == self.options.count:
            self._accepted.set()
        if progress is not None:
            progress.update(merged)

    def _missing(self, final: set[int]) -> list[int]:
        return [n for n in range(self.options.workers) if n not in final]
