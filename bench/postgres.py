"""A throwaway PostgreSQL server for ``--db postgres``, started the way the tests start theirs.

The binaries come from the Debian ``postgresql`` package (``/usr/lib/postgresql/<major>/bin``;
``make system-deps`` installs it). Unlike the test server, this one keeps PostgreSQL's durable
defaults (``fsync``, ``synchronous_commit`` and ``full_page_writes`` on): the benchmark measures
durable messages. As root, the server runs as the ``postgres`` user through ``runuser``.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from bench.procs import BenchError, free_port

_numbers = itertools.count(1)


def find_bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<major>/bin`` holding initdb and pg_ctl, if any."""
    usable = [
        Path(p)
        for p in glob.glob("/usr/lib/postgresql/*/bin")
        if (Path(p) / "initdb").exists() and (Path(p) / "pg_ctl").exists()
    ]
    if not usable:
        return None
    return max(usable, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)


class PostgresServer:
    """``with PostgresServer() as pg:`` one server on 127.0.0.1; a fresh database per call."""

    def __init__(self) -> None:
        bin_dir = find_bin_dir()
        if bin_dir is None:
            raise BenchError(
                "--db postgres: PostgreSQL binaries not found under /usr/lib/postgresql/*/bin "
                "(make system-deps installs them)"
            )
        self.bin_dir = bin_dir
        self.host = "127.0.0.1"
        self.port = free_port()
        self._root = Path(tempfile.mkdtemp(prefix="csms-bench-pg-"))
        self._data = self._root / "data"

    def __enter__(self) -> PostgresServer:
        if os.geteuid() == 0:
            if shutil.which("runuser") is None:
                raise BenchError("--db postgres as root needs runuser")
            user = pwd.getpwnam("postgres")
            os.chown(self._root, user.pw_uid, user.pw_gid)
        initdb = [str(self.bin_dir / "initdb"), "-D", str(self._data), "-U", "postgres"]
        self._run(_as_server_user([*initdb, "--auth=trust", "-E", "UTF8", "--no-sync"]))
        options = (
            f"-c listen_addresses={self.host} -p {self.port} "
            f"-c unix_socket_directories={self._root} -c max_connections=200"
        )
        log = str(self._root / "server.log")
        ctl = [str(self.bin_dir / "pg_ctl"), "-D", str(self._data)]
        self._run(_as_server_user([*ctl, "-o", options, "-l", log, "-w", "-t", "60", "start"]))
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        ctl = [str(self.bin_dir / "pg_ctl"), "-D", str(self._data), "-m", "fast", "-w", "stop"]
        try:
            self._run(_as_server_user(ctl))
        finally:
            shutil.rmtree(self._root, ignore_errors=True)

    def create_database(self, prefix: str) -> str:
        """A new empty database; its name."""
        name = f"{prefix}_{next(_numbers)}"
        self._run([str(self.bin_dir / "createdb"), *self._client_args(), name])
        return name

    def url(self, database: str, driver: str = "postgresql+asyncpg") -> str:
        return f"{driver}://postgres@{self.host}:{self.port}/{database}"

    def query(self, database: str, sql: str) -> list[list[str]]:
        """Rows of ``sql`` as text, through psql (no Python driver needed)."""
        args = [str(self.bin_dir / "psql"), *self._client_args(), "-d", database, "-AtF", "\t"]
        out = self._run([*args, "-c", sql])
        return [line.split("\t") for line in out.splitlines() if line]

    def version(self) -> str:
        return self._run([str(self.bin_dir / "postgres"), "--version"]).strip()

    def _client_args(self) -> list[str]:
        return ["-h", self.host, "-p", str(self.port), "-U", "postgres"]

    def _run(self, args: list[str]) -> str:
        done = subprocess.run(args, capture_output=True, text=True, check=False, timeout=120)
        if done.returncode != 0:
            raise BenchError(f"{' '.join(args)} failed ({done.returncode}): {done.stderr[-500:]}")
        return done.stdout


def _as_server_user(args: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its server tools as ``postgres`` when we are."""
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args
