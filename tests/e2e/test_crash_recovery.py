"""kill -9 of the real ``csms serve`` process mid-session loses nothing once chargers replay."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.chargers import connected, now_iso


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "csms", *args], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


class Server:
    def __init__(self, env: dict[str, str], port: int) -> None:
        self.env, self.port = env, port
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "csms",
            "serve",
            env=self.env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        assert self.proc.stderr is not None
        async with asyncio.timeout(30):
            while b"OCPP server listening" not in await self.proc.stderr.readline():
                assert self.proc.returncode is None
        asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        while await self.proc.stderr.readline():
            pass

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await asyncio.wait_for(self.proc.wait(), 10)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ocpp"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    port = _free_port()
    env = {
        **os.environ,
        "CSMS_STORAGE_URL": f"sqlite+aiosqlite:///{tmp_path / 'csms.db'}",
        "CSMS_OCPP_HOST": "127.0.0.1",
        "CSMS_OCPP_PORT": str(port),
        "CSMS_API_HOST": "127.0.0.1",
        "CSMS_API_PORT": str(_free_port()),
    }
    _cli(env, "chargers", "add", "CP16", "--no-password")
    _cli(env, "chargers", "add", "CS201", "--no-password")
    _cli(env, "tokens", "add", "TAG1")
    srv = Server(env, port)
    await srv.start()
    yield srv
    if srv.proc is not None and srv.proc.returncode is None:
        srv.proc.terminate()
        await asyncio.wait_for(srv.proc.wait(), 10)


async def test_kill_minus_9_mid_session_then_replay_gives_exact_energy(server: Server) -> None:
    """Sessions on both versions survive kill -9; replays after restart count exactly once."""
    async with (
        connected(f"{server.url}/CP16", "CP16") as cp16,
        connected(f"{server.url}/CS201", "CS201", version="2.0.1") as cs,
    ):
        start_ts = now_iso()
        tx = (await cp16.start_tx("TAG1", 10_000, ts=start_ts)).transaction_id
        await cp16.meter(tx, 12_000, ts="2026-03-01T10:05:00Z")
        token = {"id_token": "TAG1", "type": "ISO14443"}
        await cs.tx_event(
            "Started",
            "T1",
            trigger="Authorized",
            wh=50_000,
            context="Transaction.Begin",
            seq_no=0,
            id_token=token,
        )
        await cs.tx_event("Updated", "T1", wh=51_000, seq_no=1, ts="2026-03-01T10:05:00Z")
        await server.kill()

    await server.start()
    async with (
        connected(f"{server.url}/CP16", "CP16", boot=False) as cp16,
        connected(f"{server.url}/CS201", "CS201", version="2.0.1", boot=False) as cs,
    ):
        # replays of messages whose answers were lost, then the queued offline messages
        assert (await cp16.start_tx("TAG1", 10_000, ts=start_ts)).transaction_id == tx
        await cp16.meter(tx, 12_000, ts="2026-03-01T10:05:00Z")
        await cp16.stop_tx(tx, 13_500, ts="2026-03-01T10:09:00Z")
        await cs.tx_event("Updated", "T1", wh=51_000, seq_no=1, ts="2026-03-01T10:05:00Z")
        await cs.tx_event(
            "Ended",
            "T1",
            trigger="EVDeparted",
            wh=53_250,
            context="Transaction.End",
            seq_no=2,
            offline=True,
            ts="2026-03-01T10:09:00Z",
        )

    listing = _cli(server.env, "sessions", "list")
    rows = [line.split() for line in listing.splitlines()[1:]]
    assert len(rows) == 2, listing
    by_charger = {row[1]: row for row in rows}
    assert by_charger["CP16"][4:6] == ["ended", "3.500"]
    assert by_charger["CS201"][4:6] == ["ended", "3.250"]
