"""``charger-sim fleet`` as a separate process: start it, follow its progress, stop it, read it.

The fleet prints a progress line about once a second on stderr (``connected N/M  booted B
sessions R running D done  X msg/s``, see docs/charger-sim-fleet.md). We follow it to know when
every charger is online and Accepted (or has its transaction running), which works against
any server, ours or a baseline. Most numbers we report come from the summary JSON the fleet
writes at the end (``--summary FILE``); the one exception is the acknowledged rate over a
window the harness chooses, which only the progress lines can give (:meth:`mean_rate`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.procs import BenchError, console_script, start_process, terminate

_PROGRESS = re.compile(
    r"([\d.]+)s\s+connected (\d+)/\d+\s+booted (\d+)\s+sessions (\d+) running (\d+) done"
    r"\s+([\d,]+) msg/s\s+errors (\d+)"
)
CALL_TIMEOUT = 30.0  # the fleet's --call-timeout
STOP_GRACE = 2 * CALL_TIMEOUT + 10 + 30  # the fleet's own stop budget, plus start-up slack


def workers_for(count: int, override: int | None = None) -> int:
    """Fleet processes for ``count`` chargers: one for small fleets, else 2 to 4 by cores."""
    if override:
        return min(override, count)
    if count <= 200:
        return 1
    return max(2, min(4, (os.cpu_count() or 2) // 2))


@dataclass(frozen=True)
class Progress:
    """One progress line: seconds since the fleet started, its counters, the recent rate."""

    elapsed: float
    connected: int
    booted: int
    running: int
    done: int
    rate: float  # calls acknowledged per second since the previous line
    errors: int


class FleetProcess:
    """One ``charger-sim fleet`` run; ``args`` are its options after ``--url/--count``."""

    def __init__(
        self, workdir: Path, url: str, count: int, args: list[str], *, workers: int
    ) -> None:
        self.count = count
        self.summary_path = workdir / "fleet-summary.json"
        self._log_path = workdir / "fleet.log"
        self._command = [
            *console_script("charger-sim", "charger_sim"),
            "fleet",
            *("--url", url, "--count", str(count), "--workers", str(workers)),
            *("--call-timeout", str(CALL_TIMEOUT), "--summary", str(self.summary_path)),
            *args,
        ]
        self.progress: list[Progress] = []
        self.last_line = ""
        self._changed = asyncio.Event()
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        log = self._log_path.open("wb")
        try:
            self._proc = await start_process(self._command, log=log, stderr_pipe=True)
        finally:
            log.close()  # the child has its own descriptor
        assert self._proc.stderr is not None
        self._reader = asyncio.create_task(self._follow(self._proc.stderr))

    async def wait_booted(self, timeout: float) -> None:
        """Until every charger is online and Accepted; BenchError after ``timeout`` s."""
        if not await self.wait_until(lambda p: p.booted >= self.count, timeout):
            state = "exited" if self._ended() else f"not all booted within {timeout:g} s"
            raise BenchError(f"fleet {state} (last progress: {self.last_line or 'none'})")

    async def wait_until(self, check: Callable[[Progress], bool], timeout: float) -> bool:
        """Until a progress line passes ``check``; False after ``timeout`` s or at exit."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not (self.progress and check(self.progress[-1])):
            if self._ended() or loop.time() >= deadline:
                return False
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(deadline):
                    await self._changed.wait()
        return True

    def mean_rate(self, first: int, end: int) -> float | None:
        """Acknowledged calls per second over progress lines ``first`` to ``end`` (exclusive).

        Each line's rate covers the time since the line before, so the time-weighted mean of
        lines ``first + 1 .. end - 1`` is the exact rate between lines ``first`` and
        ``end - 1`` (up to the rounding of the printed rates). None if that is no time at all.
        """
        lines = self.progress[first:end]
        spans = [(b.elapsed - a.elapsed, b.rate) for a, b in itertools.pairwise(lines)]
        seconds = sum(span for span, _ in spans)
        if seconds <= 0:
            return None
        return sum(span * rate for span, rate in spans) / seconds

    async def stop(self) -> dict[str, Any]:
        """The clean stop (SIGTERM: transactions stopped, sockets closed); the summary."""
        proc, reader = self._running()
        await terminate(proc, grace=STOP_GRACE)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):  # stderr closes when the fleet's workers are gone
                await reader
        return self._summary(proc)

    async def kill(self) -> None:
        """Give up at once (used when the benchmark itself failed)."""
        if self._proc is not None:
            await terminate(self._proc, grace=5)
        if self._reader is not None:
            self._reader.cancel()

    def _summary(self, proc: asyncio.subprocess.Process) -> dict[str, Any]:
        try:
            summary: dict[str, Any] = json.loads(self.summary_path.read_text())
        except (OSError, ValueError) as exc:
            raise BenchError(
                f"fleet exited {proc.returncode} without a summary ({exc}); see {self._log_path}"
            ) from None
        summary["exit_code"] = proc.returncode
        return summary

    def _ended(self) -> bool:
        return self._reader is not None and self._reader.done()

    def _running(self) -> tuple[asyncio.subprocess.Process, asyncio.Task[None]]:
        if self._proc is None or self._reader is None:
            raise BenchError("fleet not started")
        return self._proc, self._reader

    async def _follow(self, stream: asyncio.StreamReader) -> None:
        """Copy stderr to the log and track the latest progress line, until EOF."""
        pending = b""
        try:
            with self._log_path.open("ab") as log:
                while chunk := await stream.read(65536):
                    log.write(chunk)
                    pending += chunk
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        self._progress(line.decode(errors="replace"))
        finally:
            self._changed.set()  # wake waiters: the fleet has exited

    def _progress(self, line: str) -> None:
        found = _PROGRESS.search(line)
        if found is None:
            return
        self.last_line = line.strip()
        numbers = [int(found[i].replace(",", "")) for i in range(2, 8)]
        self.progress.append(Progress(float(found[1]), *numbers))
        self._changed.set()
