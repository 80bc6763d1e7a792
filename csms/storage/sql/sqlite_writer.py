"""The SQLite writer process: batches of changes run and commit in a process of their own.

A batch of changes (the meter-value path's ``apply``) spends most of its time inside SQLite:
running its statements and writing the WAL at commit, about a fifth of the event loop's time
per message in a flood. In a thread that time would still take turns with the loop for the GIL
(sqlite3 drops and takes it back once per row); in a process of its own it runs on the other
core, and the loop goes on with the next messages meanwhile (ADR 0016).

The writer task sends each batch to this process as plain SQL and parameter rows, and the
batch's callers are answered only once the process says it committed: a message is still
acknowledged only once it is stored. Only one batch is in the process at a time, and the
writer task runs nothing else meanwhile, so no two of our connections ever wait for each
other's write lock.

The process's side runs from this file alone (``python -I -c ... sqlite_writer.py``): it
imports nothing but the standard library. It ignores SIGINT and SIGTERM: the server shuts down
gracefully, commits what is queued and then closes the process's input; the process ends at
the end of its input, and so also when the server dies.

Framing, both ways: a 4-byte big-endian length, then a pickle. A request is a list of
``(sql, rows)``; the reply is None (committed) or ``(sqlite3 error class name, message)``
after a rollback. The first reply, None, says the database is open.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pickle
import signal
import sqlite3
import struct
import sys
from collections.abc import Sequence
from typing import Any, BinaryIO

Statement = tuple[str, Sequence[Sequence[Any]]]

_log = logging.getLogger(__name__)
_HEADER = struct.Struct(">I")
_CLOSE_TIMEOUT = 10.0  # seconds: an idle process ends at once; a batch waits out a lock
_GONE = (asyncio.IncompleteReadError, ConnectionError)  # the pipe's other end is closed
_START = "import runpy, sys; del sys.argv[0]; runpy.run_path(sys.argv[0], run_name='__main__')"


class WriterProcessGone(sqlite3.OperationalError):
    """The writer process ended or could not start: the database counts as unavailable."""


class SqliteWriterProcess:
    """The server's side: starts the process on first use, one batch at a time."""

    def __init__(self, path: str, pragmas: Sequence[str]) -> None:
        self.path = path
        self.pragmas = tuple(pragmas)
        self._process: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int | None:
        """The running process's pid; None before the first batch and once it ended."""
        process = self._process
        return None if process is None or process.returncode is not None else process.pid

    async def run(self, statements: list[Statement]) -> None:
        """Run ``statements`` in one transaction in the process and return once committed.

        Raises the sqlite3 error the process met (it rolled back), or
        ``WriterProcessGone`` if the process ended meanwhile; the next call starts a new one,
        as it does when the process is found ended before a batch.
        """
        process = self._process
        if process is None or process.returncode is not None:
            if process is not None:
                _log.warning(
                    "the SQLite writer process %d ended (%s)", process.pid, process.returncode
                )
            process = await self._start()
        try:
            await _send(process, statements)
            reply = await _receive(process)
        except BaseException as exc:  # cancelled, or gone: its answer would come out of turn
            await self._stop(kill=True)
            if isinstance(exc, _GONE):
                raise WriterProcessGone("the SQLite writer process ended") from exc
            raise
        if reply is not None:
            kind, message = reply
            error = getattr(sqlite3, kind, None)
            if not (isinstance(error, type) and issubclass(error, sqlite3.Error)):
                error = sqlite3.DatabaseError
            raise error(message)

    async def close(self) -> None:
        """End the process: it sees the end of its input and closes the database."""
        await self._stop(kill=False)

    async def _start(self) -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-I",
            "-c",
            _START,
            __file__,
            self.path,
            *self.pragmas,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        try:
            ready = await _receive(process)
        except BaseException as exc:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            if isinstance(exc, _GONE):
                raise WriterProcessGone("the SQLite writer process did not start") from exc
            raise
        if ready is not None:
            await process.wait()
            raise WriterProcessGone(f"the SQLite writer process could not open: {ready[1]}")
        _log.info("SQLite writer process %d started for %s", process.pid, self.path)
        self._process = process
        return process

    async def _stop(self, *, kill: bool) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if not kill and process.stdin is not None:
            process.stdin.close()
            try:
                async with asyncio.timeout(_CLOSE_TIMEOUT):
                    await process.wait()
                return
            except TimeoutError:
                _log.warning("the SQLite writer process %d did not end: killed", process.pid)
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


def _framed(message: object) -> bytes:
    """``message`` as one frame of the pipe: its pickle's length, then the pickle."""
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(payload)) + payload


async def _send(process: asyncio.subprocess.Process, message: object) -> None:
    assert process.stdin is not None
    process.stdin.write(_framed(message))
    await process.stdin.drain()


async def _receive(process: asyncio.subprocess.Process) -> Any:
    assert process.stdout is not None
    (size,) = _HEADER.unpack(await process.stdout.readexactly(_HEADER.size))
    return pickle.loads(await process.stdout.readexactly(size))


# -- the process's side ---------------------------------------------------------------------


def serve(path: str, pragmas: Sequence[str], requests: BinaryIO, replies: BinaryIO) -> None:
    """Open ``path``, answer None, then run each batch read from ``requests`` until its end."""
    try:
        conn = sqlite3.connect(path, isolation_level=None)
        for pragma in pragmas:
            conn.execute(pragma).fetchall()
    except sqlite3.Error as exc:
        _reply(replies, (type(exc).__name__, str(exc)))
        return
    _reply(replies, None)
    try:
        while (statements := _read(requests)) is not None:
            _reply(replies, _commit(conn, statements))
    finally:
        conn.close()


def _commit(conn: sqlite3.Connection, statements: list[Statement]) -> tuple[str, str] | None:
    try:
        conn.execute("BEGIN")
        for sql, rows in statements:
            conn.executemany(sql, rows)
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        return type(exc).__name__, str(exc)
    return None


def _read(stream: BinaryIO) -> Any:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    payload = stream.read(size)
    if len(payload) < size:
        return None
    return pickle.loads(payload)


def _reply(stream: BinaryIO, message: object) -> None:
    stream.write(_framed(message))
    stream.flush()


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    serve(sys.argv[1], sys.argv[2:], sys.stdin.buffer, sys.stdout.buffer)
