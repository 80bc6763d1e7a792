"""The servers under test, each a fresh process in its own directory.

* ``csms``: our CSMS as users run it: its own ``csms.toml``, ``csms migrate``, ``csms serve``.
* ``naive``: ``bench/baselines/naive_ocpp.py``, a central system written the obvious way on the
  ``ocpp`` package (schema validation on, one commit per message).
* ``echo``: ``bench/baselines/echo.py``, a raw websockets server answering every CALL at once.

All of them take charger connections at ``ws://127.0.0.1:<port>/ocpp/<id>``, answer
``GET /health`` on an HTTP port, and can remote-start a charger over HTTP, so every benchmark
drives them the same way.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from bench.postgres import PostgresServer
from bench.procs import (
    BenchError,
    console_script,
    free_port,
    rss_kib,
    run_command,
    start_process,
    terminate,
    wait_http,
)

ServerKind = Literal["csms", "naive", "echo"]
REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT = 90.0  # seconds for a server to answer /health
STOP_GRACE = 60.0  # seconds after SIGTERM before SIGKILL
ID_TAG = "SIMTAG01"  # the fleet's id tag


@dataclass(frozen=True)
class Database:
    """Where servers keep their data: a SQLite file each, or a database each on one server."""

    kind: Literal["sqlite", "postgres"]
    pg: PostgresServer | None = None


@dataclass(frozen=True)
class StartRequest:
    """One HTTP request that remote-starts a charger on some server."""

    path: str
    body: dict[str, Any] | None
    headers: dict[str, str]


class Server:
    """A server under test; subclasses say how to start it and how to read its database."""

    kind: ServerKind

    def __init__(self, workdir: Path, db: Database, heartbeat_interval: int) -> None:
        self.workdir = workdir
        self.db = db
        self.heartbeat_interval = heartbeat_interval
        self.ws_port, self.http_port = free_port(), free_port()
        self.database = ""  # the SQLite path or the PostgreSQL database name
        self._proc: Any = None
        self._log: IO[bytes] | None = None
        self.exit_code: int | None = None

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}/ocpp"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def pid(self) -> int:
        if self._proc is None or self._proc.returncode is not None:
            raise BenchError(f"{self.kind} is not running")
        return int(self._proc.pid)

    def rss_kib(self) -> int:
        return rss_kib(self.pid)

    async def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.db.kind == "postgres":
            assert self.db.pg is not None
            self.database = self.db.pg.create_database(f"bench_{self.kind}")
        else:
            self.database = str(self.workdir / f"{self.kind}.db")
        command = await self._prepare()
        self._log = (self.workdir / f"{self.kind}.log").open("wb")
        self._proc = await start_process(command, log=self._log, env=self._env())
        await wait_http(
            f"{self.http_url}/health", self._proc, timeout=START_TIMEOUT, what=self.kind
        )

    async def stop(self) -> None:
        """SIGTERM, bounded wait, kill; idempotent."""
        if self._proc is not None and self.exit_code is None:
            self.exit_code = await terminate(self._proc, grace=STOP_GRACE)
        if self._log is not None:
            self._log.close()
            self._log = None

    def start_request(self, charger_id: str) -> StartRequest:
        return StartRequest(f"/start/{charger_id}", None, {})

    def start_answer(self, status: int, body: Any) -> str | None:
        """The charger's answer to the start (Accepted, Rejected); None if it gave none."""
        if status == 200 and isinstance(body, dict) and isinstance(body.get("status"), str):
            return str(body["status"])
        return None

    def stored(self) -> dict[str, float] | None:
        """What the database holds after the run (see :func:`_stored_query`); None: no DB."""
        sql = _stored_query(self.kind)
        if sql is None:
            return None
        if self.db.kind == "postgres":
            assert self.db.pg is not None
            (row,) = self.db.pg.query(self.database, sql)
        else:
            uri = f"file:{self.database}?mode=ro"  # read-only: we look, we do not touch
            with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
                row = list(conn.execute(sql).fetchone())
        keys = ("meter_samples", "sessions", "sessions_ended", "energy_wh")
        return {k: float(v or 0) for k, v in zip(keys, row, strict=True)}

    async def _prepare(self) -> list[str]:
        raise NotImplementedError

    def _env(self) -> dict[str, str] | None:
        return None


class CsmsServer(Server):
    kind: ServerKind = "csms"

    def __init__(
        self, workdir: Path, db: Database, heartbeat_interval: int, *, api_key: bool
    ) -> None:
        super().__init__(workdir, db, heartbeat_interval)
        self._want_key = api_key
        self.api_key: str | None = None
        self._config = workdir / "csms.toml"

    async def _prepare(self) -> list[str]:
        csms = [*console_script("csms", "csms"), "--config", str(self._config)]
        self._config.write_text(self._toml(), encoding="utf-8")
        log = self.workdir / "csms-cli.log"
        await run_command([*csms, "migrate"], timeout=120, log=log)
        if self._want_key:  # as the README says: csms api-keys create, the key printed once
            out = await run_command(
                [*csms, "api-keys", "create", "--name", "bench"], timeout=60, log=log
            )
            found = re.search(r"key: (\S+)", out)
            if found is None:
                raise BenchError(f"csms api-keys create printed no key: {out!r}")
            self.api_key = found[1]
        return [*csms, "serve"]

    def start_request(self, charger_id: str) -> StartRequest:
        body = {"connector": f"{charger_id}:1", "user": ID_TAG}
        return StartRequest("/v1/sessions", body, {"Authorization": f"Bearer {self.api_key}"})

    def start_answer(self, status: int, body: Any) -> str | None:
        """``created``: the charger accepted; ``start_failed`` + ``rejected``: it said no."""
        result = body.get("result") if status == 201 and isinstance(body, dict) else None
        if not isinstance(result, dict):
            return None
        if result.get("status") == "created":
            return "Accepted"
        if result.get("status") == "start_failed" and result.get("failure_reason") == "rejected":
            return "Rejected"
        return None

    def _toml(self) -> str:
        if self.db.kind == "postgres":
            assert self.db.pg is not None
            url = self.db.pg.url(self.database)
        else:
            url = f"sqlite+aiosqlite:///{self.database}"
        return (
            "# written by bench/: what a user would write to try the CSMS on a lab network\n"
            f'[ocpp]\nhost = "127.0.0.1"\nport = {self.ws_port}\nauto_register = true\n'
            f"heartbeat_interval = {self.heartbeat_interval}\n\n"
            f'[api]\nhost = "127.0.0.1"\nport = {self.http_port}\n\n'
            f'[storage]\nurl = "{url}"\n\n'
            '[authorization]\nunknown_tokens = "accept"\n\n'
            "[sessions]\nplugin_timeout = 3600  # remote starts stay pending during the run\n\n"
            '[logging]\nlevel = "WARNING"\n'
        )


class BaselineServer(Server):
    """``python -m bench.baselines.<module>`` with ports, database and heartbeat interval."""

    def __init__(
        self, kind: ServerKind, workdir: Path, db: Database, heartbeat_interval: int
    ) -> None:
        super().__init__(workdir, db, heartbeat_interval)
        self.kind = kind

    async def _prepare(self) -> list[str]:
        module = {"naive": "naive_ocpp", "echo": "echo"}[self.kind]
        args = [sys.executable, "-m", f"bench.baselines.{module}"]
        args += ["--ws-port", str(self.ws_port), "--http-port", str(self.http_port)]
        args += ["--heartbeat-interval", str(self.heartbeat_interval)]
        if self.kind == "naive":
            if self.db.kind == "postgres":
                assert self.db.pg is not None
                args += ["--db", self.db.pg.url(self.database, "postgresql")]
            else:
                args += ["--db", f"sqlite:{self.database}"]
        return args

    def _env(self) -> dict[str, str]:
        return {"PYTHONPATH": str(REPO)}


def make_server(
    kind: ServerKind, workdir: Path, db: Database, heartbeat: int, *, api_key: bool = False
) -> Server:
    """A server of ``kind``, not started; ``api_key``: the CSMS gets one for its REST API."""
    if kind == "csms":
        return CsmsServer(workdir, db, heartbeat, api_key=api_key)
    return BaselineServer(kind, workdir, db, heartbeat)


# Periodic energy-register samples above the fleet's start value (1000 Wh): exactly the
# samples the fleet counts as acknowledged meter samples (one transaction per charger).
_SAMPLES = (
    "SELECT COUNT(*) FROM meter_samples WHERE measurand = 'Energy.Active.Import.Register' "
    "AND context = 'Sample.Periodic' AND value > 1000"
)
_CSMS_SESSIONS = (
    "SELECT COUNT(*), SUM(CASE WHEN status = 'ended' THEN 1 ELSE 0 END), SUM(energy_wh) "
    "FROM sessions"
)
_NAIVE_TRANSACTIONS = (
    "SELECT COUNT(*), SUM(CASE WHEN meter_stop IS NULL THEN 0 ELSE 1 END), "
    "SUM(meter_stop - meter_start) FROM transactions"
)


def _stored_query(kind: ServerKind) -> str | None:
    if kind == "echo":
        return None
    sessions = _CSMS_SESSIONS if kind == "csms" else _NAIVE_TRANSACTIONS
    return f"SELECT ({_SAMPLES}), s.* FROM ({sessions}) AS s"
