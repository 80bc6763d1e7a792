"""The WebSocket handshake: identity, Basic auth, subprotocols, reconnects (OCTT TC_088, TC_A_01-03)."""

from __future__ import annotations

import asyncio

import pytest
import websockets
from websockets.exceptions import InvalidStatus

from csms.bootstrap import Csms
from tests.chargers import basic_auth, connected
from tests.conftest import MakeCsms, add_charger, ws_url


async def _status_of(url: str, **kwargs: object) -> int:
    with pytest.raises(InvalidStatus) as info:
        async with websockets.connect(url, **kwargs):  # type: ignore[arg-type]
            pass
    return info.value.response.status_code


async def test_unknown_charger_gets_404_before_upgrade(csms: Csms) -> None:
    """An id the CSMS does not know is refused with HTTP 404 in the handshake."""
    assert await _status_of(ws_url(csms, "NOPE"), subprotocols=["ocpp1.6"]) == 404


async def test_wrong_or_missing_password_gets_401(csms: Csms) -> None:
    """TC_A_02/TC_A_03, 1.6 TC_085: missing or wrong Basic credentials get HTTP 401."""
    await add_charger(csms, "CP1", "correct-horse-battery")
    url = ws_url(csms, "CP1")
    assert await _status_of(url, subprotocols=["ocpp1.6"]) == 401
    headers = basic_auth("CP1", "wrong-password-123")
    assert await _status_of(url, subprotocols=["ocpp1.6"], additional_headers=headers) == 401
    headers = basic_auth("OTHER", "correct-horse-battery")
    assert await _status_of(url, subprotocols=["ocpp1.6"], additional_headers=headers) == 401


async def test_correct_password_is_admitted(csms: Csms) -> None:
    """TC_A_01: the right Basic credentials open the socket and BootNotification is Accepted."""
    await add_charger(csms, "CP1", "correct-horse-battery")
    async with connected(ws_url(csms, "CP1"), "CP1", password="correct-horse-battery") as cp:
        assert cp is not None


async def test_charger_without_common_subprotocol_is_refused_with_400(csms: Csms) -> None:
    """TC_088 / TC_B_58: no ocpp1.6/ocpp2.0.1 offered -> HTTP 400, no upgrade."""
    await add_charger(csms, "CP1")
    url = ws_url(csms, "CP1")
    assert await _status_of(url, subprotocols=["ocpp1.5"]) == 400
    assert await _status_of(url) == 400


async def test_missing_subprotocol_tolerated_per_charger_as_16(csms: Csms) -> None:
    """A charger flagged to tolerate no Sec-WebSocket-Protocol header is served as OCPP 1.6."""
    await add_charger(csms, "LEGACY", allow_missing_subprotocol=True)
    async with websockets.connect(ws_url(csms, "LEGACY")) as ws:
        await ws.send('[2,"1","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]')
        answer = await asyncio.wait_for(ws.recv(), 5)
    assert '"status":"Accepted"' in str(answer)


async def test_negotiation_prefers_201_and_echoes_the_choice(csms: Csms) -> None:
    """With both versions offered the server picks one it supports and echoes exactly it."""
    await add_charger(csms, "CP1")
    async with websockets.connect(ws_url(csms, "CP1"), subprotocols=["ocpp1.6", "ocpp2.0.1"]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "ocpp2.0.1"
    async with websockets.connect(ws_url(csms, "CP1"), subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "ocpp1.6"


async def test_permessage_deflate_is_negotiated(csms: Csms) -> None:
    """The server accepts permessage-deflate (required by OCPP 2.0.1)."""
    await add_charger(csms, "CP1")
    async with websockets.connect(ws_url(csms, "CP1"), subprotocols=["ocpp2.0.1"]) as ws:  # type: ignore[list-item]
        extensions = ws.response.headers.get("Sec-WebSocket-Extensions", "") if ws.response else ""
    assert "permessage-deflate" in extensions


async def test_bare_path_without_ocpp_prefix_works(csms: Csms) -> None:
    """``ws://host:port/<id>`` is accepted as well as ``/ocpp/<id>``."""
    await add_charger(csms, "CP 7")
    url = f"ws://127.0.0.1:{csms.ocpp.port}/CP%207"
    async with connected(url, "CP 7") as cp:
        assert cp is not None


async def test_reconnect_replaces_old_socket_and_old_close_keeps_new(csms: Csms) -> None:
    """A second socket for the same id replaces the first; the first closing never unregisters it."""
    from ocpp.v16 import call

    await add_charger(csms, "CP1")
    url = ws_url(csms, "CP1")
    async with connected(url, "CP1") as first, connected(url, "CP1", boot=False) as second:
        await asyncio.wait_for(first._connection.wait_closed(), 5)
        assert csms.services.registry.get("CP1") is not None
        result = await second.call(call.Heartbeat())
        assert result.current_time
        charger = await csms.services.chargers.get("CP1")
        assert charger is not None and charger.online


async def test_boot_acceptance_survives_reconnect(csms: Csms) -> None:
    """A charger Accepted once may send messages after reconnecting without a new BootNotification."""
    from ocpp.v16 import call

    await add_charger(csms, "CP1")
    url = ws_url(csms, "CP1")
    async with connected(url, "CP1"):
        pass
    async with connected(url, "CP1", boot=False) as cp:
        result = await cp.call(call.Heartbeat())
        assert result.current_time.endswith("Z")


async def test_auto_register_admits_unknown_ids(make_csms: MakeCsms) -> None:
    """With [ocpp] auto_register = true an unknown id is registered on its first connect."""
    csms = await make_csms(ocpp={"auto_register": True})
    async with connected(ws_url(csms, "NEW1"), "NEW1", version="2.0.1"):
        pass
    charger = await csms.services.chargers.get("NEW1")
    assert charger is not None and charger.vendor == "TestVendor"


async def test_connections_share_their_versions_route_table(csms: Csms) -> None:
    """Chargers of one version share one route table; none is built per connection."""
    for charger_id in ("A", "B", "C"):
        await add_charger(csms, charger_id)
    async with (
        connected(ws_url(csms, "A"), "A"),
        connected(ws_url(csms, "B"), "B"),
        connected(ws_url(csms, "C"), "C", version="2.0.1"),
    ):
        registry = csms.services.registry
        a, b, c = (registry.get(i) for i in ("A", "B", "C"))
        assert a is not None and b is not None and c is not None
        assert a._routes is b._routes
        assert c._routes is not a._routes and "TransactionEvent" in c._routes


async def test_open_connection_keeps_no_handshake_leftovers(csms: Csms) -> None:
    """After the upgrade the socket no longer holds the admitted Charger or the HTTP headers."""
    await add_charger(csms, "CP1")
    async with connected(ws_url(csms, "CP1"), "CP1"):
        conn = csms.services.registry.get("CP1")
        assert conn is not None
        assert not hasattr(conn.ws, "charger")
        assert conn.ws.request is not None and not conn.ws.request.headers
        assert conn.ws.response is not None and not conn.ws.response.headers


async def test_compressed_connection_keeps_context_across_many_messages(csms: Csms) -> None:
    """With permessage-deflate on (window bits 10 both ways) a long exchange stays intact."""
    from ocpp.v16 import call

    await add_charger(csms, "CP1")
    async with connected(ws_url(csms, "CP1"), "CP1") as cp:
        extensions = cp._connection.response.headers.get("Sec-WebSocket-Extensions", "")
        assert "server_max_window_bits=10" in extensions
        assert "client_max_window_bits=10" in extensions
        for connector in (1, 2) * 10:
            assert await cp.status(connector, "Available") is not None
            result = await cp.call(call.Heartbeat())
            assert result.current_time.endswith("Z")
