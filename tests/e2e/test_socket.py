"""The gateway's own message path (``GatewaySocket``): fragments, order, backpressure, bad UTF-8."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets

from csms.bootstrap import Csms
from csms.domain import events as ev
from csms.gateway.socket import INBOX_HIGH
from tests.conftest import MakeCsms, wait_event
from tests.e2e.conftest import open_booted


def _send_text_bytes(ws: Any, data: bytes) -> None:
    """Send ``data`` as a text frame as is (websockets' client only sends str as text)."""
    ws.protocol.send_frame(websockets.frames.Frame(websockets.frames.Opcode.TEXT, data))
    ws.send_data()


async def test_fragmented_message_is_joined_and_answered(csms: Csms) -> None:
    """A CALL sent in three WebSocket fragments (RFC 6455 §5.4) is one message, answered once."""
    ws = await open_booted(csms, "1.6")
    try:
        await ws.send(['[2,"frag",', '"Heartbeat"', ",{}]"])
        answer = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert answer[0] == 3 and answer[1] == "frag" and "currentTime" in answer[2]
        await ws.send('[2,"after","Heartbeat",{}]')
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))[1] == "after"
    finally:
        await ws.close()


async def test_pipelined_calls_past_the_inbox_limit_are_all_answered_in_order(
    csms: Csms,
) -> None:
    """Calls sent without waiting, more than the inbox holds before reading pauses, are each
    answered, in the order sent: pausing loses nothing."""
    ws = await open_booted(csms, "1.6")
    count = INBOX_HIGH * 4
    try:
        for n in range(count):
            await ws.send(f'[2,"p{n}","Heartbeat",{{}}]')
        ids = [json.loads(await asyncio.wait_for(ws.recv(), 5))[1] for _ in range(count)]
        assert ids == [f"p{n}" for n in range(count)]
    finally:
        await ws.close()


async def test_sending_on_a_closed_socket_raises_connection_closed_with_both_close_frames(
    csms: Csms,
) -> None:
    """An answer ready after the charger closed the connection raises ConnectionClosed that
    names both close frames (and which came first), as websockets' own send does."""
    ws = await open_booted(csms, "1.6")
    conn = csms.services.registry.get("RAW")
    assert conn is not None
    await ws.close(1000, "bye")
    await asyncio.wait_for(conn.ws.wait_closed(), 5)
    with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
        await conn.ws.send_text('[3,"late",{}]')
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
    assert closed.value.sent is not None and closed.value.rcvd_then_sent is True


async def test_text_message_that_is_not_utf8_closes_with_1007(csms: Csms) -> None:
    """RFC 6455 §8.1: a text message that is not UTF-8 fails the connection with 1007."""
    ws = await open_booted(csms, "1.6")
    _send_text_bytes(ws, b"[2,\xff]")
    with pytest.raises(websockets.exceptions.ConnectionClosed):
        await asyncio.wait_for(ws.recv(), 5)
    assert ws.close_code == 1007


async def test_fragments_over_max_frame_bytes_in_total_close_with_1009(csms: Csms) -> None:
    """Fragments each under [ocpp] max_frame_bytes but over it together close with 1009."""
    ws = await open_booted(csms, "1.6")
    chunk = "a" * 30000
    head = '[2,"big","DataTransfer",{"vendorId":"x","data":"'
    with pytest.raises(websockets.exceptions.ConnectionClosed):
        await ws.send([head, chunk, chunk, chunk, '"}]'])
        await asyncio.wait_for(ws.recv(), 5)
    await asyncio.wait_for(ws.wait_closed(), 5)
    assert ws.close_code == 1009


async def test_a_charger_that_never_answers_the_close_is_cut_off(make_csms: MakeCsms) -> None:
    """After a protocol violation the CSMS waits the close timeout for the charger's close
    frame, then drops the TCP connection and marks the charger offline (pings are off here)."""
    csms = await make_csms(ocpp={"ping_interval": 0, "ping_timeout": 0.5})  # close timeout 0.5 s
    events = csms.services.events.queue()
    ws = await open_booted(csms, "1.6")
    ws.transport.pause_reading()  # this charger never reads the close frame, so never answers
    _send_text_bytes(ws, b"[2,\xff]")
    offline = await wait_event(events, ev.CHARGER_OFFLINE)
    assert offline.subject == "RAW"
    ws.transport.abort()
