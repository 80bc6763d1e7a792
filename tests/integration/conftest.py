"""Database backends for the SQL storage tests: SQLite in a temp file and a real PostgreSQL.

The PostgreSQL server comes from the Debian package (``apt-get install postgresql``): its
binaries live in ``/usr/lib/postgresql/<major>/bin``. One server runs for the whole test session
on a free loopback port, with a fresh database per test. PostgreSQL refuses to run as root, so
when the tests run as root the server runs as the ``postgres`` user through ``runuser``.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.procs import free_port
from csms.storage.sql import SqlDatabase, create_engine, migrate

_REQUIRE_ENV = ("CI", "CSMS_REQUIRE_POSTGRES")
_database_numbers = itertools.count(1)


@dataclass(frozen=True)
class PostgresServer:
    bin_dir: Path
    host: str
    port: int
    start_command: tuple[str, ...] = ()  # pg_ctl ... start, as the server user
    stop_command: tuple[str, ...] = ()

    def create_database(self, name: str) -> str:
        """Create database ``name``; return its URL for the async driver."""
        _run([str(self.bin_dir / "createdb"), *self._client_args(), name])
        return f"postgresql+asyncpg://postgres@{self.host}:{self.port}/{name}"

    def stop(self) -> None:
        """Stop the server (an outage: its connections are cut); ``start`` ends it.

        A fast shutdown: it still writes what was committed, which this server (``fsync`` and
        ``synchronous_commit`` off, for speed) would otherwise lose in an immediate one.
        """
        _run(list(self.stop_command))

    def start(self) -> None:
        """Start the server again on the same port and data."""
        _run(list(self.start_command))

    def _client_args(self) -> list[str]:
        return ["-h", self.host, "-p", str(self.port), "-U", "postgres"]


def _find_postgres_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/<major>/bin`` holding initdb and pg_ctl, if any."""
    candidates = [Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin")]
    usable = [p for p in candidates if (p / "initdb").exists() and (p / "pg_ctl").exists()]
    if not usable:
        return None
    return max(usable, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)


def _run(args: list[str]) -> None:
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr}")


def _as_server_user(args: list[str]) -> list[str]:
    """Postgres refuses to run as root: run its server tools as ``postgres`` when we are root."""
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


def _missing_postgres(reason: str) -> None:
    if any(os.environ.get(name) for name in _REQUIRE_ENV):
        pytest.fail(f"{reason}; install postgresql: make test does this", pytrace=False)
    pytest.skip(f"{reason} (set CI or CSMS_REQUIRE_POSTGRES to make this an error)")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL server on 127.0.0.1, stopped at the end of the session."""
    bin_dir = _find_postgres_bin()
    if bin_dir is None:
        _missing_postgres("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin")
    assert bin_dir is not None
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        _missing_postgres("running as root but runuser is missing")
    root = Path(tempfile.mkdtemp(prefix="csms-pg-"))
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
    data, port = root / "data", free_port()
    ctl = [str(bin_dir / "pg_ctl"), "-D", str(data)]
    try:
        initdb = [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres"]
        _run(_as_server_user([*initdb, "--auth=trust", "-E", "UTF8", "--no-sync"]))
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        start = [*ctl, "-o", options, "-l", str(root / "server.log"), "-w", "-t", "60", "start"]
        stop = [*ctl, "-m", "immediate", "-w", "stop"]
        outage = [*ctl, "-m", "fast", "-w", "stop"]
        _run(_as_server_user(start))
        try:
            yield PostgresServer(
                bin_dir=bin_dir,
                host="127.0.0.1",
                port=port,
                start_command=tuple(_as_server_user(start)),
                stop_command=tuple(_as_server_user(outage)),
            )
        finally:
            _run(_as_server_user(stop))
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a SQLite file in ``tmp_path`` or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'csms.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database(f"csms_test_{next(_database_numbers)}")


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[SqlDatabase]:
    """A migrated, started SqlDatabase on ``database_url``; closed afterwards."""
    await migrate(database_url)
    db = SqlDatabase(create_engine(database_url))
    await db.start()
    try:
        yield db
    finally:
        await db.close()


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[tuple[SqlDatabase, Path]]:
    """A migrated SQLite file (inline connections, as ``csms serve`` has) and its path."""
    path = tmp_path / "lean.db"
    url = f"sqlite+aiosqlite:///{path}"
    await migrate(url)
    db = SqlDatabase(create_engine(url))
    try:
        yield db, path
    finally:
        await db.close()
