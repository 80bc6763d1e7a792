"""The simulator's security profiles 1-3 against a strict test CSMS serving wss:// with test certs."""

from __future__ import annotations

import asyncio
import base64
import ssl
from pathlib import Path

import pytest

from charger_sim.runner import ProtocolVersion, Security, SimError, run
from charger_sim.scenario import load
from tests.certs import TestCa
from tests.sim.strict_csms import running_strict_csms

PROTOCOLS = pytest.mark.parametrize("protocol", ["1.6", "2.0.1"])


def server_tls(ca: TestCa, *, require_client_cert: bool) -> ssl.SSLContext:
    pair = ca.server()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(pair.cert, pair.key)
    if require_client_cert:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(ca.cert)
    return context


@PROTOCOLS
async def test_profile_2_charges_over_wss_with_the_ca_file_and_basic_auth(
    tmp_path: Path, protocol: ProtocolVersion
) -> None:
    """Over wss:// trusted through --ca-file, the charger sends Basic auth and charges cleanly."""
    ca = TestCa(tmp_path)
    async with running_strict_csms(tls=server_tls(ca, require_client_cert=False)) as csms:
        async with asyncio.timeout(30):
            result = await run(
                load("local_charge"),
                url=f"wss://localhost:{csms.port}/ocpp",
                charger_id="SIM1",
                protocol=protocol,
                security=Security(password="pw-profile-2", ca_file=ca.cert),
            )
    assert [d.energy_wh for d in result.delivered] == [2_000]
    assert csms.violations == []
    expected = base64.b64encode(b"SIM1:pw-profile-2").decode()
    assert csms.handshakes["SIM1"].authorization == f"Basic {expected}"


async def test_a_server_certificate_from_an_unknown_ca_is_refused(tmp_path: Path) -> None:
    """A wss:// CSMS whose certificate the given CA did not sign fails the connect step."""
    ours, theirs = TestCa(tmp_path / "a", "Ours"), TestCa(tmp_path / "b", "Theirs")
    async with running_strict_csms(tls=server_tls(theirs, require_client_cert=False)) as csms:
        with pytest.raises(SimError, match="CERTIFICATE_VERIFY_FAILED"):
            async with asyncio.timeout(30):
                await run(
                    load("local_charge"),
                    url=f"wss://localhost:{csms.port}/ocpp",
                    charger_id="SIM1",
                    protocol="1.6",
                    security=Security(ca_file=ours.cert),
                )


@PROTOCOLS
async def test_profile_3_presents_the_client_certificate(
    tmp_path: Path, protocol: ProtocolVersion
) -> None:
    """With --cert/--key the charger passes mutual TLS and the CSMS sees its id as the CN."""
    ca = TestCa(tmp_path)
    client = ca.client("SIM1")
    async with running_strict_csms(tls=server_tls(ca, require_client_cert=True)) as csms:
        async with asyncio.timeout(30):
            await run(
                load("local_charge"),
                url=f"wss://localhost:{csms.port}/ocpp",
                charger_id="SIM1",
                protocol=protocol,
                security=Security(ca_file=ca.cert, cert_file=client.cert, key_file=client.key),
            )
    assert csms.violations == []
    assert csms.handshakes["SIM1"].client_common_name == "SIM1"
