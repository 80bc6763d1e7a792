"""Security profiles 2 and 3 on the real CSMS's TLS listener, with certificates made by the tests.

OCTT: TC_A_04 (TLS server certificate), TC_A_06 (TLS version too low), TC_A_07/TC_A_08 (client
certificate valid/invalid), TC_A_19 (a charger on a higher profile is refused a lower one);
1.6: TC_083, TC_086, TC_087.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import sys
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidMessage, InvalidStatus

from charger_sim.auth import client_tls
from charger_sim.runner import ProtocolVersion, Security, run
from charger_sim.scenario import load
from csms.bootstrap import Csms
from tests.certs import TestCa
from tests.chargers import basic_auth, connected
from tests.conftest import MakeCsms, add_charger, add_token, ws_url

PASSWORD = "correct-horse-battery"
PROTOCOLS = pytest.mark.parametrize("protocol", ["1.6", "2.0.1"])


@dataclass(frozen=True, slots=True)
class Pki:
    ca: TestCa  # signs the CSMS's certificate and the chargers' client certificates
    other: TestCa  # a CA the CSMS does not trust


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(TestCa(tmp_path / "ca"), TestCa(tmp_path / "other", "Other CA"))


@pytest.fixture
async def csms(make_csms: MakeCsms, pki: Pki) -> Csms:
    """The CSMS with its plain listener and a TLS one that asks for client certificates."""
    server = pki.ca.server()
    tls = {
        "tls_port": 0,
        "tls_cert_file": str(server.cert),
        "tls_key_file": str(server.key),
        "tls_client_ca_file": str(pki.ca.cert),
    }
    return await make_csms(ocpp=tls)


def wss_url(csms: Csms, charger_id: str = "") -> str:
    return f"wss://127.0.0.1:{csms.ocpp.tls_port}/ocpp/{charger_id}".rstrip("/")


def charger_tls(pki: Pki, cn: str | None = None, ca: TestCa | None = None) -> ssl.SSLContext:
    """A charger's context trusting our CA; with ``cn`` it shows a client cert from ``ca``."""
    if cn is None:
        return client_tls(pki.ca.cert)
    pair = (ca or pki.ca).client(cn)
    return client_tls(pki.ca.cert, pair.cert, pair.key)


async def _status_of(url: str, charger_id: str, **kwargs: object) -> int:
    """The HTTP status of a handshake the CSMS refuses."""
    with pytest.raises(InvalidStatus) as info:
        async with websockets.connect(url, subprotocols=["ocpp1.6"], **kwargs):  # type: ignore[arg-type,list-item]
            pass
    return info.value.response.status_code


async def _online(csms: Csms, charger_id: str) -> bool:
    charger = await csms.services.chargers.get(charger_id)
    return charger is not None and charger.online


@PROTOCOLS
async def test_profile_2_charges_over_tls_with_basic_auth(
    csms: Csms, pki: Pki, protocol: ProtocolVersion
) -> None:
    """TC_A_04 / TC_086: charger-sim over wss:// (our CA, password) boots and charges."""
    await add_charger(csms, "SIM2", PASSWORD, security_profile=2)
    await add_token(csms, "SIMTAG01")
    async with asyncio.timeout(30):
        result = await run(
            load("local_charge"),
            url=wss_url(csms),
            charger_id="SIM2",
            protocol=protocol,
            security=Security(password=PASSWORD, ca_file=pki.ca.cert),
        )
    assert [d.energy_wh for d in result.delivered] == [2_000]


async def test_profile_2_is_refused_over_plain_ws_and_logged_without_secrets(
    csms: Csms, pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    """TC_A_19 / TC_083: a profile-2 charger with the right password gets 403 on ws://."""
    await add_charger(csms, "CP2", PASSWORD, security_profile=2)
    headers = basic_auth("CP2", PASSWORD)
    with caplog.at_level(logging.INFO, logger="csms.gateway"):
        status = await _status_of(ws_url(csms, "CP2"), "CP2", additional_headers=headers)
    assert status == 403
    assert "refused charger CP2 over ws: security profile 2 needs TLS" in caplog.text
    assert PASSWORD not in caplog.text and headers["Authorization"] not in caplog.text
    assert not await _online(csms, "CP2")


async def test_profile_2_with_a_wrong_or_missing_password_over_tls_gets_401(
    csms: Csms, pki: Pki
) -> None:
    """TC_A_02/TC_A_03 over TLS: Basic auth is still checked on the TLS port."""
    await add_charger(csms, "CP2", PASSWORD, security_profile=2)
    tls = charger_tls(pki)
    wrong = basic_auth("CP2", "wrong-password-123")
    assert await _status_of(wss_url(csms, "CP2"), "CP2", ssl=tls, additional_headers=wrong) == 401
    assert await _status_of(wss_url(csms, "CP2"), "CP2", ssl=tls) == 401


async def test_a_tls_11_client_is_refused(csms: Csms, pki: Pki) -> None:
    """TC_A_06: a client limited to TLS 1.1 (which it can speak here) fails the TLS handshake."""
    server_pair = pki.ca.server("old-tls-server")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.1 is, rightly
        old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        old.minimum_version = old.maximum_version = ssl.TLSVersion.TLSv1_1
        permissive = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        permissive.minimum_version = ssl.TLSVersion.TLSv1
    for context in (old, permissive):
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    old.load_verify_locations(pki.ca.cert)
    permissive.load_cert_chain(server_pair.cert, server_pair.key)
    if not await _speaks(old, permissive):
        pytest.skip("the local OpenSSL cannot speak TLS 1.1 at all")
    with pytest.raises((ssl.SSLError, ConnectionError)):
        async with websockets.connect(wss_url(csms, "CP1"), ssl=old, subprotocols=["ocpp1.6"]):  # type: ignore[list-item]
            pass
    assert csms.ocpp._settings.tls is not None
    assert csms.ocpp._settings.tls.minimum_version is ssl.TLSVersion.TLSv1_2


async def _speaks(client: ssl.SSLContext, server: ssl.SSLContext) -> bool:
    """Whether ``client`` completes a TLS handshake with a server that allows old versions."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    listener = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server)
    port = listener.sockets[0].getsockname()[1]
    try:
        async with asyncio.timeout(5):
            _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client)
        version = writer.get_extra_info("ssl_object").version()
        writer.close()
        return bool(version == "TLSv1.1")
    except (ssl.SSLError, ConnectionError):
        return False
    finally:
        listener.close()
        await listener.wait_closed()


@PROTOCOLS
async def test_profile_3_charges_with_a_client_certificate(
    csms: Csms, pki: Pki, protocol: ProtocolVersion
) -> None:
    """TC_A_07 / TC_087: charger-sim with a client cert whose CN is its id, no password."""
    await add_charger(csms, "SIM3", PASSWORD, security_profile=3)
    await add_token(csms, "SIMTAG01")
    client = pki.ca.client("SIM3")
    security = Security(ca_file=pki.ca.cert, cert_file=client.cert, key_file=client.key)
    async with asyncio.timeout(30):
        result = await run(
            load("local_charge"),
            url=wss_url(csms),
            charger_id="SIM3",
            protocol=protocol,
            security=security,
        )
    assert [d.energy_wh for d in result.delivered] == [2_000]


async def test_charger_sim_cli_speaks_profile_3(csms: Csms, pki: Pki) -> None:
    """``charger-sim run --ca-file --cert --key`` against the TLS port passes its scenario."""
    await add_charger(csms, "SIM3", security_profile=3)
    await add_token(csms, "SIMTAG01")
    client = pki.ca.client("SIM3")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "charger_sim", "run", "--url", wss_url(csms), "--id", "SIM3"),
        *("--protocol", "2.0.1", "--scenario", "local_charge", "--ca-file", str(pki.ca.cert)),
        *("--cert", str(client.cert), "--key", str(client.key)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    async with asyncio.timeout(30):
        out, _ = await proc.communicate()
    assert proc.returncode == 0, out.decode()
    assert "local_charge passed" in out.decode()


async def test_profile_3_without_a_client_certificate_is_refused(
    csms: Csms, pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    """A00.FR.4xx: even the right password is not enough: 403 over wss:// and over ws://."""
    await add_charger(csms, "CP3", PASSWORD, security_profile=3)
    headers = basic_auth("CP3", PASSWORD)
    with caplog.at_level(logging.INFO, logger="csms.gateway"):
        over_tls = await _status_of(
            wss_url(csms, "CP3"), "CP3", ssl=charger_tls(pki), additional_headers=headers
        )
        over_plain = await _status_of(ws_url(csms, "CP3"), "CP3", additional_headers=headers)
    assert (over_tls, over_plain) == (403, 403)
    assert "refused charger CP3 over wss: security profile 3 needs TLS with a client" in (
        caplog.text
    )
    assert not await _online(csms, "CP3")


async def test_a_client_certificate_from_another_ca_is_refused(csms: Csms, pki: Pki) -> None:
    """TC_A_08 / TC_087: a certificate our client CA did not sign ends the TLS handshake."""
    await add_charger(csms, "CP3", security_profile=3)
    tls = charger_tls(pki, "CP3", ca=pki.other)
    with pytest.raises((ssl.SSLError, InvalidMessage, ConnectionError)):
        async with websockets.connect(wss_url(csms, "CP3"), ssl=tls, subprotocols=["ocpp1.6"]):  # type: ignore[list-item]
            pass
    assert not await _online(csms, "CP3")
    assert csms.services.registry.get("CP3") is None


async def test_a_certificate_for_another_charger_is_refused(
    csms: Csms, pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    """TC_A_08: a valid certificate whose CN is not the charger id in the URL gets 403."""
    await add_charger(csms, "CP3", security_profile=3)
    await add_charger(csms, "CP4", security_profile=3)
    with caplog.at_level(logging.INFO, logger="csms.gateway"):
        status = await _status_of(wss_url(csms, "CP3"), "CP3", ssl=charger_tls(pki, "CP4"))
    assert status == 403
    assert "client certificate CN 'CP4' is not the charger id" in caplog.text


async def test_profile_1_charger_may_use_the_tls_port(csms: Csms, pki: Pki) -> None:
    """A stronger transport than the profile needs is fine: profile 1 over wss:// boots."""
    await add_charger(csms, "CP1", PASSWORD)
    url = wss_url(csms, "CP1")
    async with connected(url, "CP1", password=PASSWORD, tls=charger_tls(pki)) as cp:
        assert cp is not None and await _online(csms, "CP1")
    async with connected(url, "CP1", "2.0.1", password=PASSWORD, tls=charger_tls(pki, "CP1")):
        assert await _online(csms, "CP1")


async def test_raising_the_profile_over_rest_refuses_the_lower_transport(
    csms: Csms, client: httpx.AsyncClient, pki: Pki
) -> None:
    """TC_A_19: after PATCH security_profile=2 the charger's ws:// handshake gets 403."""
    created = await client.post(
        "/v1/chargers", json={"id": "CP9", "password": PASSWORD, "security_profile": 1}
    )
    assert created.status_code == 201
    async with connected(ws_url(csms, "CP9"), "CP9", password=PASSWORD):
        pass
    patched = await client.patch("/v1/chargers/CP9", json={"security_profile": 2})
    assert patched.json()["result"]["security_profile"] == 2
    headers = basic_auth("CP9", PASSWORD)
    assert await _status_of(ws_url(csms, "CP9"), "CP9", additional_headers=headers) == 403
    async with connected(wss_url(csms, "CP9"), "CP9", password=PASSWORD, tls=charger_tls(pki)):
        pass


async def test_profile_3_charger_registered_over_rest_gets_no_password(
    client: httpx.AsyncClient,
) -> None:
    """A profile-3 charger proves itself with its certificate: none is generated."""
    created = await client.post("/v1/chargers", json={"id": "CP3", "security_profile": 3})
    result = created.json()["result"]
    assert (result["security_profile"], result["password"], result["has_password"]) == (
        3,
        None,
        False,
    )


@pytest.fixture
async def plain_only(make_csms: MakeCsms) -> AsyncIterator[Csms]:
    yield await make_csms()


async def test_without_tls_config_there_is_no_tls_listener(plain_only: Csms) -> None:
    """No [ocpp] tls_cert_file: one ws:// listener, and profile-2 chargers cannot connect."""
    assert plain_only.ocpp.tls_port is None
    await add_charger(plain_only, "CP2", PASSWORD, security_profile=2)
    headers = basic_auth("CP2", PASSWORD)
    assert await _status_of(ws_url(plain_only, "CP2"), "CP2", additional_headers=headers) == 403
