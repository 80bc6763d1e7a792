"""Half-open sockets: a charger that vanishes without a close is marked offline by the pings.

Field lesson 5 (SteVe #357, #828; OCPP.Core #83) and checklist 2.10 "Half-open sockets: ping,
and let a new connection supersede the old one". The charger is a real ``charger-sim``
process, frozen with SIGSTOP: its kernel still acknowledges TCP, but nothing answers a ping.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from csms.bootstrap import Csms
from csms.domain import events as ev
from csms.domain.commands import CommandStatus, TriggerMessage
from tests.conftest import MakeCsms, add_charger, wait_event
from tests.sim.conftest import sim_url

# Boots, then waits (for a remote start that never comes) until the test is over.
SCENARIO = """
[[steps]]
action = "boot"

[[steps]]
action = "wait_remote_start"
timeout = 120
"""
PINGS = {"ping_interval": 0.5, "ping_timeout": 0.5}


@pytest.fixture
async def charger_process(tmp_path: Path) -> AsyncIterator[list[asyncio.subprocess.Process]]:
    """Processes the test starts; killed at the end (frozen or not)."""
    started: list[asyncio.subprocess.Process] = []
    yield started
    for proc in started:
        if proc.returncode is None:
            proc.kill()  # SIGKILL ends a stopped process too
            await proc.wait()


async def _start_charger(
    csms: Csms, tmp_path: Path, started: list[asyncio.subprocess.Process]
) -> asyncio.subprocess.Process:
    scenario = tmp_path / "idle.toml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "charger_sim",
        "run",
        "--url",
        sim_url(csms),
        "--id",
        "GHOST",
        "--protocol",
        "1.6",
        "--scenario",
        str(scenario),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    started.append(proc)
    return proc


async def test_a_frozen_charger_is_marked_offline_within_the_ping_timeout(
    make_csms: MakeCsms, tmp_path: Path, charger_process: list[asyncio.subprocess.Process]
) -> None:
    """SIGSTOP of a connected charger-sim: no pong, so the CSMS drops it and says offline."""
    csms = await make_csms(ocpp=PINGS)
    await add_charger(csms, "GHOST")
    events = csms.services.events.queue()
    proc = await _start_charger(csms, tmp_path, charger_process)
    async with asyncio.timeout(30):  # a Python process starting on a busy machine
        while (await events.get()).name != ev.CHARGER_BOOTED:
            pass
    # Answering pings while alive: several ping intervals pass and it stays online.
    trigger = TriggerMessage("Heartbeat")
    assert (await csms.services.bus.send("GHOST", trigger)).status is CommandStatus.ACCEPTED
    proc.send_signal(signal.SIGSTOP)
    # Within ping interval + ping timeout + close timeout (capped at the ping timeout): ~1.5 s.
    offline = await wait_event(events, ev.CHARGER_OFFLINE)
    assert offline.subject == "GHOST"
    result = await csms.services.bus.send("GHOST", trigger)
    assert result.status is CommandStatus.OFFLINE
