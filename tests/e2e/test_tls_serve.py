"""``csms serve`` as a user runs it: TLS files from the environment bring up the wss:// listener."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from websockets.exceptions import InvalidStatus

from bench.procs import free_port as _free_port
from charger_sim.auth import client_tls
from tests.certs import TestCa
from tests.chargers import connected

PASSWORD = "correct-horse-battery"


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "csms", *args], env=env, capture_output=True, text=True, timeout=60
    )


def _env(tmp_path: Path, **ocpp: str) -> dict[str, str]:
    env = {
        **os.environ,
        "CSMS_STORAGE_URL": f"sqlite+aiosqlite:///{tmp_path / 'csms.db'}",
        "CSMS_OCPP_HOST": "127.0.0.1",
        "CSMS_API_HOST": "127.0.0.1",
        "CSMS_API_PORT": str(_free_port()),
    }
    env.update({f"CSMS_OCPP_{key.upper()}": value for key, value in ocpp.items()})
    return env


async def test_serve_listens_on_ws_and_wss_from_environment_variables(tmp_path: Path) -> None:
    """TC_A_04/TC_A_07 via the CLI: one start-up line names both listeners; both profiles work."""
    ca = TestCa(tmp_path / "pki")
    server = ca.server()
    port, tls_port = _free_port(), _free_port()
    env = _env(
        tmp_path,
        port=str(port),
        tls_port=str(tls_port),
        tls_cert_file=str(server.cert),
        tls_key_file=str(server.key),
        tls_client_ca_file=str(ca.cert),
    )
    added = _cli(env, "chargers", "add", "CP2", "--password", PASSWORD, "--security-profile", "2")
    assert added.returncode == 0 and "security profile 2" in added.stdout, added.stderr
    added = _cli(env, "chargers", "add", "CP3", "--security-profile", "1", "--no-password")
    assert added.returncode == 0, added.stderr
    updated = _cli(env, "chargers", "update", "CP3", "--security-profile", "3")
    assert "security profile 3" in updated.stdout, updated.stderr

    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "csms", "serve", env=env, stderr=asyncio.subprocess.PIPE
    )
    assert proc.stderr is not None
    try:
        async with asyncio.timeout(30):
            line = b""
            while b"OCPP server listening" not in line:
                line = await proc.stderr.readline()
                assert line, "csms serve exited before listening"
        text = line.decode()
        assert (
            f"on port {port} (ws://" in text and f"on port {tls_port} (wss://, TLS >= 1.2" in text
        )
        assert f"client certificates checked against {ca.cert}" in text
        drain = asyncio.create_task(proc.stderr.read())

        url = f"wss://127.0.0.1:{tls_port}/ocpp"
        async with connected(f"{url}/CP2", "CP2", password=PASSWORD, tls=client_tls(ca.cert)):
            pass
        cert = ca.client("CP3")
        async with connected(
            f"{url}/CP3", "CP3", "2.0.1", tls=client_tls(ca.cert, cert.cert, cert.key)
        ):
            pass
        with pytest.raises(InvalidStatus, match="403"):
            async with connected(f"ws://127.0.0.1:{port}/ocpp/CP2", "CP2", password=PASSWORD):
                pass
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 10)
    assert "refused charger CP2 over ws: security profile 2 needs TLS" in (await drain).decode()


def test_serve_with_a_missing_certificate_file_stops_naming_the_key(tmp_path: Path) -> None:
    """A TLS file that does not load stops ``csms serve`` at once with exit code 2."""
    env = _env(tmp_path, port="0", tls_port="0", tls_cert_file=str(tmp_path / "missing.pem"))
    done = _cli(env, "serve")
    assert done.returncode == 2
    assert "configuration error: [ocpp] tls_cert_file" in done.stderr
