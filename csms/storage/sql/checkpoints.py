"""WAL checkpoints of the SQLite database in a thread of their own, off the event loop.

SQLite in WAL mode appends each commit to the ``-wal`` file; a *checkpoint* copies those pages
back into the database file and syncs it. By default the commit that takes the WAL past 1,000
pages runs the checkpoint itself: here that commit runs on the event loop's thread (ADR 0006),
so about one commit in a hundred took several milliseconds longer and every charger and API
call waiting behind it with it (the remote-start p99, issue 5).

With a :class:`WalCheckpointer`, the server's connections never checkpoint
(``wal_autocheckpoint=0``); this thread runs a ``PASSIVE`` checkpoint every ``interval``
seconds on its own connection instead. ``sqlite3`` releases the GIL while SQLite works, so the
copy and the sync run beside the loop, on another core. A passive checkpoint never waits for
or blocks writers and readers, and the pages of one interval are copied once even if they were
committed many times.

SQLite starts the WAL over (and cuts the file back to ``journal_size_limit``) only when a write
begins after a checkpoint that left nothing to copy. Under steady writes a commit nearly always
lands while the passive checkpoint runs, so the WAL would grow for as long as the load lasts.
Once it holds ``restart_frames`` pages, the thread therefore runs a ``RESTART`` checkpoint: it
waits (``busy_timeout``) for the commit in progress, copies the few pages the passive one left,
and makes the next write start the WAL over; writers wait for it for that moment only.
Durability does not change: a commit is durable once it is in the WAL.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import dataclass

from csms.storage.sql.engine import sqlite_file

_log = logging.getLogger(__name__)

# The serving connections' pragmas when a WalCheckpointer runs (see engine.py for the rest).
PRAGMAS = (
    "PRAGMA wal_autocheckpoint=0",
    "PRAGMA journal_size_limit=67108864",  # the WAL file is cut back to 64 MiB after use
)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """One checkpoint's result: ``busy`` (1: could not finish), WAL frames, frames copied."""

    busy: int
    wal_frames: int
    checkpointed: int


class WalCheckpointer:
    """Checkpoints the WAL of the SQLite file at ``path`` every ``interval`` seconds."""

    def __init__(self, path: str, interval: float = 1.0, restart_frames: int = 16_384) -> None:
        self.path = path
        self.interval = interval
        self.restart_frames = restart_frames  # 64 MiB of 4 KiB pages: then RESTART (see above)
        self.restarts = 0
        self.last: Checkpoint | None = None
        self.done = threading.Event()  # set after each checkpoint (tests wait on it)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False

    @classmethod
    def for_url(cls, url: str, interval: float = 1.0) -> WalCheckpointer | None:
        """A checkpointer for a SQLite file database; None for anything else (or in memory)."""
        database = sqlite_file(url)
        return None if database is None else cls(database, interval)

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, name="csms-wal-checkpoints", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Run a last checkpoint and end the thread (waits at most ``timeout`` seconds)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self.path, check_same_thread=True)
            conn.execute("PRAGMA busy_timeout=2000")  # RESTART waits this long for a writer
        except sqlite3.Error:
            _log.exception("no WAL checkpoints: cannot open %s", self.path)
            return
        try:
            while not self._stop.wait(self.interval):
                self._checkpoint(conn)
            self._checkpoint(conn)
        finally:
            conn.close()

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        try:
            busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if frames >= self.restart_frames:
                busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
                self.restarts += busy == 0
        except sqlite3.Error as exc:
            if not self._failing:  # once per spell of failures, not once a second
                _log.warning("WAL checkpoint of %s failed: %s", self.path, exc)
            self._failing = True
            return
        if self._failing:
            _log.info("WAL checkpoints of %s work again", self.path)
        self._failing = False
        self.last = Checkpoint(busy, frames, copied)
        self.done.set()
