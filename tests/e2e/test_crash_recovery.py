"""kill -9 of the real ``csms serve`` process mid-session loses nothing once chargers replay.

OCTT TC_039 (1.6 offline transaction) and the 2.0.1 offline TransactionEvent cases (E04/E08/E11)
seen from the CSMS side: chargers queue what the dead CSMS never acknowledged and replay it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bench.procs import free_port as _free_port
from charger_sim.runner import ProtocolVersion, run
from charger_sim.scenario import parse
from csms.domain.model import SessionStatus
from tests.chargers import connected, now_iso
from tests.conftest import MakeCsms
from tests.faults import acknowledged_register_samples, log_count, register_samples


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

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            await asyncio.wait_for(self.proc.wait(), 10)


def _env(tmp_path: Path, port: int, **extra: str) -> dict[str, str]:
    """``csms serve`` on the test's SQLite file (the one ``make_csms`` opens too)."""
    return {
        **os.environ,
        "CSMS_STORAGE_URL": f"sqlite+aiosqlite:///{tmp_path / 'csms.db'}",
        "CSMS_OCPP_HOST": "127.0.0.1",
        "CSMS_OCPP_PORT": str(port),
        "CSMS_API_HOST": "127.0.0.1",
        "CSMS_API_PORT": str(_free_port()),
        **extra,
    }


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    port = _free_port()
    env = _env(tmp_path, port)
    _cli(env, "chargers", "add", "CP16", "--no-password")
    _cli(env, "chargers", "add", "CS201", "--no-password")
    _cli(env, "tokens", "add", "TAG1")
    srv = Server(env, port)
    await srv.start()
    yield srv
    await srv.stop()


@pytest.fixture
async def open_server(tmp_path: Path) -> AsyncIterator[Server]:
    """``csms serve`` admitting any charger and token, so a fleet needs no set-up calls."""
    port = _free_port()
    env = _env(
        tmp_path, port, CSMS_OCPP_AUTO_REGISTER="true", CSMS_AUTHORIZATION_UNKNOWN_TOKENS="accept"
    )
    srv = Server(env, port)
    await srv.start()
    yield srv
    await srv.stop()


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


FLEET = 20  # chargers, alternately 1.6 and 2.0.1
# Real time is short, simulated time long: 5 simulated minutes a wall second at 22 kW, one
# register sample a simulated minute; the CSMS may be gone for seconds, so answers may take 5 s
# and a lost connection is retried within 0.4 s.
FLEET_CHARGER: dict[str, Any] = {
    "time_scale": 300.0,
    "power_kw": 22.0,
    "call_timeout": 5.0,
    "message_attempts": 5,
    "message_retry_interval": 0.1,
    "reconnect_min": 0.05,
    "reconnect_max": 0.3,
    "reconnect_random": 0.1,
}
BEFORE_KILL_KWH, ACROSS_KILL_KWH = 1.0, 3.0
# The simulator logs each step as it begins it; a charge step begins once every sample of the
# step before was acknowledged (so committed). All chargers in their second one: kill now.
KILL_AT = "steps[4] (charge)"
FLEET_STEPS: list[dict[str, Any]] = [
    {"action": "boot"},
    {"action": "plug"},
    {"action": "start"},
    {"action": "charge", "kwh": BEFORE_KILL_KWH, "sample_interval": 60},
    {"action": "charge", "kwh": ACROSS_KILL_KWH, "sample_interval": 60},
    {"action": "stop"},
    {"action": "wait_queue", "timeout": 40},
]


async def test_kill_minus_9_amid_twenty_sessions_loses_and_doubles_nothing(
    open_server: Server, make_csms: MakeCsms
) -> None:
    """TC_039: 20 simulated 1.6/2.0.1 sessions across a kill -9 are stored once each, exactly."""
    server = open_server
    scenarios = [
        parse({"charger": {**FLEET_CHARGER, "meter_start_wh": 10_000 * n}, "steps": FLEET_STEPS})
        for n in range(1, FLEET + 1)
    ]
    protocols: list[ProtocolVersion] = ["1.6" if n % 2 else "2.0.1" for n in range(FLEET)]
    with log_count("charger_sim", KILL_AT.__eq__, FLEET) as reached:
        runs = [
            asyncio.create_task(
                run(scenario, url=server.url, charger_id=f"F{n:02d}", protocol=protocol)
            )
            for n, (scenario, protocol) in enumerate(zip(scenarios, protocols, strict=True))
        ]
        try:
            async with asyncio.timeout(30):
                await reached.wait()
            await server.kill()
            await server.start()
            async with asyncio.timeout(60):
                results = await asyncio.gather(*runs)
        finally:
            for task in runs:
                task.cancel()
            await asyncio.gather(*runs, return_exceptions=True)
    await server.stop()

    csms = await make_csms()  # the same SQLite file, read through our own repositories
    assert len(await csms.services.sessions.list()) == FLEET
    for result in results:
        assert result.given_up == 0 and result.queued == 0, result.charger_id
        assert result.connects >= 2, f"{result.charger_id} never saw the CSMS go"
        (delivered,) = result.delivered
        (session,) = await csms.services.sessions.list(charger_id=result.charger_id)
        assert session.status is SessionStatus.ENDED, result.charger_id
        assert session.transaction_id == delivered.transaction_id
        total_wh = 1_000 * (BEFORE_KILL_KWH + ACROSS_KILL_KWH)
        assert session.energy_wh == delivered.energy_wh == total_wh, result.charger_id
        stored = register_samples(await csms.services.sessions.samples(session.id))
        assert stored == acknowledged_register_samples(result), result.charger_id
