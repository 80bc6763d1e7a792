"""The unit of work and the ``Database`` port over SQL, with group commit.

Writes are durable before they are acknowledged, so every ``write`` waits for a commit. To keep
throughput up, one writer task commits concurrent writes together: it takes everything queued
(up to ``max_batch`` items), runs each work function in turn inside one transaction (the
changes of ``apply`` calls become multi-row statements, see ``changes.py``), commits once,
then answers every caller. If any item raises or the commit fails, the batch is rolled
back and each item is re-run alone in its own transaction, so one bad write fails only its own
caller. Work functions must therefore be safe to run again (the port says so). When a write
alone fails because the database itself is unavailable (locked past the busy timeout,
unreachable, connection lost), the rest of the batch fails with it at once instead of waiting
for the same error one by one (ADR 0009); nothing of a failed transaction is kept, and no caller
is answered before its commit.

On SQLite a batch made only of changes (the meter-value path's ``apply``) skips the session.
On a database file its statements and the commit run in the SQLite writer process
(``sqlite_writer``, ADR 0016), on the other core; in memory, on a sqlite3 connection the
writer keeps for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from csms.domain import ports
from csms.domain.changes import Change
from csms.domain.ports import Work
from csms.storage.sql.changes import StagedChanges
from csms.storage.sql.checkpoints import PRAGMAS as checkpoint_pragmas
from csms.storage.sql.checkpoints import WalCheckpointer
from csms.storage.sql.engine import SQLITE_PRAGMAS, execute_pragmas, sqlite_file
from csms.storage.sql.inline_sqlite import InlineConnection
from csms.storage.sql.lean_reads import LeanReads
from csms.storage.sql.reads import LazyUnitOfWork
from csms.storage.sql.sqlite_writer import SqliteWriterProcess

T = TypeVar("T")

_log = logging.getLogger(__name__)


class SqlUnitOfWork(LazyUnitOfWork):
    """The repositories of one ``AsyncSession``: one transaction, one use case."""

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(lambda: session, None)


@dataclass(slots=True)
class _Write:
    work: Work[Any] | Sequence[Change]  # a function to run, or changes to stage (``apply``)
    future: asyncio.Future[Any] | None  # None for write_soon: nobody waits


class SqlDatabase:
    """The ``Database`` port: group-committed writes, plain reads.

    Args:
        engine: the engine to use; ``close()`` disposes it.
        max_batch: the most writes committed together.
        checkpointer: SQLite only: checkpoints the WAL in a thread of its own, and the
            engine's connections then never do (``checkpoints.py``); started by ``start``,
            stopped by ``close``.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        max_batch: int = 256,
        checkpointer: WalCheckpointer | None = None,
    ) -> None:
        self._engine = engine
        self._checkpointer = checkpointer
        if checkpointer is not None:
            event.listen(engine.sync_engine, "connect", _no_checkpoints)
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._max_batch = max_batch
        self._queue: asyncio.Queue[_Write | None] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._closed = False
        self._lean: LeanReads | None = None
        self._lean_connection: AsyncConnection | None = None
        self._lean_checked = False
        # SQLite in memory or by URI: the connection batches of changes alone are committed on
        # (``_apply_inline``); None until the first such batch, and again after a failed one.
        self._inline_writer: tuple[AsyncConnection, sqlite3.Connection] | None = None
        self._inline_checked = False
        # A SQLite file: those batches run in a process of their own instead (ADR 0016).
        self._sqlite_file = sqlite_file(engine.url)  # None for another backend
        self._writer_process: SqliteWriterProcess | None = None

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    @property
    def writer_pid(self) -> int | None:
        """The SQLite writer process's pid while one runs (``sqlite_writer``), else None."""
        return None if self._writer_process is None else self._writer_process.pid

    async def start(self) -> None:
        """Start the writer task (``write`` also starts it on first use) and the checkpoints."""
        self._ensure_writer()
        if self._checkpointer is not None:
            self._checkpointer.start()

    async def close(self) -> None:
        """Commit every queued write, stop the writer task and dispose of the engine."""
        if not self._closed:
            self._closed = True
            if self._writer is not None:
                self._queue.put_nowait(None)
                await asyncio.gather(self._writer, return_exceptions=True)
        if self._lean_connection is not None:
            self._lean, connection, self._lean_connection = None, self._lean_connection, None
            await connection.close()
        await self._drop_inline_writer()
        if self._writer_process is not None:
            await self._writer_process.close()
        if self._checkpointer is not None:
            await asyncio.to_thread(self._checkpointer.stop)
        await self._engine.dispose()

    async def write(self, work: Work[T]) -> T:
        result: T = await self._submit(work)
        return result

    async def apply(self, changes: Sequence[Change]) -> None:
        await self._submit(changes)

    def write_soon(self, work: Work[object]) -> None:
        self._submit_soon(work)

    def apply_soon(self, changes: Sequence[Change]) -> None:
        self._submit_soon(changes)

    def _submit(self, work: Work[Any] | Sequence[Change]) -> asyncio.Future[Any]:
        """Queue ``work`` for the writer; the future settles once it is committed."""
        self._ensure_writer()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Write(work, future))
        return future

    def _submit_soon(self, work: Work[Any] | Sequence[Change]) -> None:
        try:
            self._ensure_writer()
        except RuntimeError:
            _log.exception("a write nobody waits for was dropped: the database is closed")
            return
        self._queue.put_nowait(_Write(work, None))

    async def read(self, work: Work[T]) -> T:
        if not self._lean_checked:
            await self._hold_lean_connection()
        uow = LazyUnitOfWork(self._sessions, self._lean)
        try:
            return await work(cast(ports.UnitOfWork, uow))
        finally:
            await uow.close()

    async def _hold_lean_connection(self) -> None:
        """On SQLite, keep one connection for ``LeanReads``; elsewhere, nothing.

        If it cannot be had (the database is unavailable), this read fails as an ORM read would,
        and the next read tries again.
        """
        self._lean_checked = True  # concurrent reads meanwhile take the ORM path
        try:
            held = await self._hold_inline()
        except Exception:
            self._lean_checked = False
            raise
        if held is not None:
            self._lean_connection, raw = held
            self._lean = LeanReads(raw, self._engine.dialect)

    async def _hold_inline(self) -> tuple[AsyncConnection, sqlite3.Connection] | None:
        """A pooled connection kept for our own use and its sqlite3 connection; None unless
        the engine's connections are inline SQLite ones (``inline_sqlite``)."""
        if self._engine.dialect.name != "sqlite":
            return None
        connection = await self._engine.connect()
        try:
            driver = (await connection.get_raw_connection()).driver_connection
        except Exception:
            await connection.close()
            raise
        if not isinstance(driver, InlineConnection):
            await connection.close()
            return None
        return connection, driver.sqlite()

    def _ensure_writer(self) -> None:
        if self._closed:
            raise RuntimeError("the database is closed")
        if self._writer is None or self._writer.done():  # done: cancelled from outside
            loop = asyncio.get_running_loop()
            self._writer = loop.create_task(self._write_loop(), name="csms-sql-writer")

    async def _write_loop(self) -> None:
        stopping = False
        batch: list[_Write] = []
        try:
            while not stopping:
                batch, stopping = await self._next_batch()
                try:
                    await self._commit(batch)
                except Exception as exc:  # never let the writer die: answer and go on
                    _log.exception("the writer failed a batch of %d writes", len(batch))
                    for item in batch:
                        _settle(item, error=exc)
                batch = []
        finally:
            self._fail_unanswered(batch)

    async def _next_batch(self) -> tuple[list[_Write], bool]:
        """Wait for one write, then take whatever else is queued; True once told to stop."""
        batch: list[_Write] = []
        item = await self._queue.get()
        while item is not None:
            batch.append(item)
            if len(batch) >= self._max_batch or self._queue.empty():
                return batch, False
            item = self._queue.get_nowait()
        return batch, True

    async def _commit(self, batch: list[_Write]) -> None:
        live = [item for item in batch if item.future is None or not item.future.done()]
        if not live:
            return
        try:
            results = await self._transaction(live)
        except Exception as exc:
            if len(live) == 1:
                _settle(live[0], error=exc)
                return
            _log.info("group commit of %d writes failed (%r): retrying one by one", len(live), exc)
            for n, item in enumerate(live):
                error = await self._commit_alone(item)
                if error is not None and _unavailable(error):
                    # Locked or gone: each retry would wait (SQLite: the busy timeout, on the
                    # loop's thread) and fail alike. The callers hear now; chargers retry.
                    for rest in live[n + 1 :]:
                        _settle(rest, error=error)
                    return
            return
        for item, result in zip(live, results, strict=True):
            _settle(item, result=result)

    async def _commit_alone(self, item: _Write) -> Exception | None:
        try:
            (result,) = await self._transaction([item])
        except Exception as exc:
            _settle(item, error=exc)
            return exc
        _settle(item, result=result)
        return None

    async def _transaction(self, items: list[_Write]) -> list[Any]:
        """Run ``items`` in order in one transaction; return their results once committed.

        Changes are staged and flushed as multi-row statements before the next work function
        and before the commit, so each work function sees everything queued before it.
        """
        if not any(callable(item.work) for item in items):
            if self._sqlite_file is not None:
                return await self._apply_in_process(items)
            raw = await self._writer_connection()
            if raw is not None:
                return await self._apply_inline(raw, items)
        async with self._sessions() as session, session.begin():
            uow = SqlUnitOfWork(session)
            staged = StagedChanges()
            results: list[Any] = []
            for item in items:
                if callable(item.work):
                    await staged.flush(session)
                    results.append(await item.work(uow))
                else:
                    staged.add(item.work)
                    results.append(None)
            await staged.flush(session)
            return results

    async def _writer_connection(self) -> sqlite3.Connection | None:
        if self._inline_writer is None and not self._inline_checked:
            self._inline_writer = await self._hold_inline()  # raises: the batch fails alike
            self._inline_checked = self._inline_writer is None  # not inline SQLite: never again
        return None if self._inline_writer is None else self._inline_writer[1]

    async def _apply_in_process(self, items: list[_Write]) -> list[Any]:
        """Commit a batch of changes alone in the SQLite writer process (``sqlite_writer``):
        the same statements ``_apply_inline`` runs, converted here, run and committed there."""
        staged = StagedChanges()
        for item in items:
            staged.add(cast(Sequence[Change], item.work))
        statements = staged.sqlite_statements()
        if self._writer_process is None:
            assert self._sqlite_file is not None
            self._writer_process = SqliteWriterProcess(self._sqlite_file, await self._pragmas())
        await self._writer_process.run(statements)
        return [None] * len(items)

    async def _pragmas(self) -> tuple[str, ...]:
        """The writer process's pragmas: the engine's, and its connections' busy timeout."""
        async with self._engine.connect() as connection:
            timeout = (await connection.exec_driver_sql("PRAGMA busy_timeout")).scalar()
        pragmas = SQLITE_PRAGMAS + (checkpoint_pragmas if self._checkpointer is not None else ())
        return (*pragmas, f"PRAGMA busy_timeout={int(timeout or 0)}")

    async def _apply_inline(self, raw: sqlite3.Connection, items: list[_Write]) -> list[Any]:
        """Commit a batch of changes alone straight on sqlite3: the same multi-row statements
        as in a session (``StagedChanges``), without a session, its pooled connection's
        checkout and its transaction's bookkeeping around them. A failure rolls back and
        gives the connection up; the next batch holds a new one."""
        staged = StagedChanges()
        for item in items:
            staged.add(cast(Sequence[Change], item.work))
        try:
            raw.execute("BEGIN")
            staged.run_sqlite(raw)
            raw.commit()
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                raw.rollback()
            await self._drop_inline_writer()
            raise
        return [None] * len(items)

    async def _drop_inline_writer(self) -> None:
        held, self._inline_writer, self._inline_checked = self._inline_writer, None, False
        if held is not None:
            with contextlib.suppress(Exception):
                await held[0].close()

    def _fail_unanswered(self, batch: list[_Write]) -> None:
        pending = list(batch)
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is not None:
                pending.append(item)
        for item in pending:
            _settle(item, error=RuntimeError("the database writer stopped"))


def _no_checkpoints(dbapi_connection: Any, _record: Any) -> None:
    execute_pragmas(dbapi_connection, checkpoint_pragmas)


def _unavailable(exc: Exception) -> bool:
    """True when the database failed, not the write: locked, unreachable, connection lost."""
    if isinstance(exc, OperationalError | InterfaceError | OSError | sqlite3.OperationalError):
        return True  # sqlite3's own: staged changes run on the sqlite3 connection (ADR 0006)
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def _settle(item: _Write, *, result: Any = None, error: BaseException | None = None) -> None:
    """Answer the caller, or log the failure of a write nobody waits for."""
    if item.future is None:
        if error is not None:
            _log.error("a background write failed", exc_info=error)
        return
    if item.future.done():
        return
    with contextlib.suppress(asyncio.InvalidStateError):
        if error is not None:
            item.future.set_exception(error)
        else:
            item.future.set_result(result)
