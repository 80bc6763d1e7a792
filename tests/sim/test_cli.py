"""``charger-sim run`` as a process: exit codes and messages against our real CSMS."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from csms.bootstrap import Csms
from tests.conftest import add_charger, add_token
from tests.sim.conftest import sim_url


async def _cli(csms: Csms, charger_id: str, protocol: str, scenario: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "charger_sim",
        "run",
        *("--url", sim_url(csms), "--id", charger_id, "--protocol", protocol),
        *("--scenario", scenario),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(30):
        out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, (out + err).decode()


async def test_cli_exits_0_when_the_scenario_passes(csms: Csms) -> None:
    """A passing scenario exits 0 and reports the delivered energy."""
    await add_charger(csms, "SIM1")
    await add_token(csms, "SIMTAG01")
    code, output = await _cli(csms, "SIM1", "2.0.1", "local_charge")
    assert code == 0, output
    assert "2000 Wh" in output and "local_charge passed" in output


async def test_cli_exits_1_when_the_handshake_is_refused(csms: Csms) -> None:
    """An unknown charger id is refused in the handshake; the CLI exits 1 naming the connect."""
    code, output = await _cli(csms, "NOBODY", "1.6", "local_charge")
    assert code == 1
    assert "local_charge failed: connect to" in output and "/ocpp/NOBODY" in output


async def test_cli_exits_1_naming_the_failed_expectation(csms: Csms, tmp_path: Path) -> None:
    """An expectation the CSMS does not meet exits 1 naming the step and both values."""
    await add_charger(csms, "SIM1")
    scenario = tmp_path / "expect_rejected.toml"
    scenario.write_text('[[steps]]\naction = "boot"\nexpect_status = "Rejected"\n')
    code, output = await _cli(csms, "SIM1", "1.6", str(scenario))
    assert code == 1
    assert "steps[0] (boot): expected BootNotification status 'Rejected', got 'Accepted'" in output
