"""Real faults for the fault tests: a SQLite lock held by another process, log-driven waits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from charger_sim.runner import RunResult
from csms.domain.model import ENERGY_REGISTER, MeterSample

Sample = tuple[datetime, float, str]  # timestamp, Wh, context

# Holds BEGIN EXCLUSIVE on the database until a line arrives on stdin, then rolls back.
_LOCK_HOLDER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
print("released", flush=True)
"""


@contextlib.asynccontextmanager
async def sqlite_locked(path: Path) -> AsyncIterator[Callable[[], Any]]:
    """Another process holds an exclusive lock on the SQLite file ``path``.

    Yields ``release``: an awaitable function that ends the lock (the block's end does too).
    """
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _LOCK_HOLDER,
        str(path),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None
    stdin, stdout = proc.stdin, proc.stdout

    async def release() -> None:
        if proc.returncode is None and not stdin.is_closing():
            stdin.write(b"go\n")
            await stdin.drain()
            stdin.close()
            async with asyncio.timeout(10):
                assert await stdout.readline() == b"released\n"
                await proc.wait()

    try:
        async with asyncio.timeout(10):
            assert await stdout.readline() == b"locked\n"
        yield release
    finally:
        try:
            await release()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


async def short_busy_timeout(engine: AsyncEngine, milliseconds: int) -> None:
    """Make every connection of ``engine`` wait ``milliseconds`` for a lock (default 5 s).

    The wait blocks the event loop (ADR 0006), so tests keep it short; the pool is emptied so
    that no connection keeps the old setting.
    """

    def _set(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout={int(milliseconds)}")
        finally:
            cursor.close()

    event.listen(engine.sync_engine, "connect", _set)
    await engine.dispose()


class LogCount(logging.Handler):
    """Sets ``reached`` once ``count`` records matched ``matches`` (their message text)."""

    def __init__(self, matches: Callable[[str], bool], count: int) -> None:
        super().__init__(logging.DEBUG)
        self._matches, self.left = matches, count
        self.reached = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self._matches(record.getMessage()):
            self.left -= 1
            if self.left <= 0:
                self.reached.set()


@contextlib.contextmanager
def log_count(name: str, matches: Callable[[str], bool], count: int) -> Iterator[asyncio.Event]:
    """An event set once logger ``name`` logged ``count`` matching records (INFO and up)."""
    logger = logging.getLogger(name)
    handler = LogCount(matches, count)
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield handler.reached
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def acknowledged_register_samples(result: RunResult) -> Counter[Sample]:
    """Every energy register sample in the transaction messages the CSMS acknowledged."""
    sent: Counter[Sample] = Counter()
    for _action, payload in result.acknowledged:
        for meter_value in payload.get("meterValue") or payload.get("transactionData") or []:
            at = datetime.fromisoformat(meter_value["timestamp"])
            for sampled in meter_value["sampledValue"]:
                if sampled.get("measurand", ENERGY_REGISTER) == ENERGY_REGISTER:
                    context = sampled.get("context", "Sample.Periodic")
                    sent[(at, float(sampled["value"]), context)] += 1
    return sent


def register_samples(samples: Iterable[MeterSample]) -> Counter[Sample]:
    """The stored energy register samples, comparable with :func:`acknowledged_register_samples`."""
    return Counter(
        (s.timestamp, s.value, s.context or "Sample.Periodic")
        for s in samples
        if s.measurand == ENERGY_REGISTER
    )
