"""permessage-deflate as the gateway holds it: context takeover without a zlib stream per socket.

The peer is websockets' own :class:`PerMessageDeflate` (what a websockets charger runs), fed
frame by frame through the extension API, so no socket is needed.
"""

from __future__ import annotations

import json

import pytest
from websockets.exceptions import PayloadTooBig
from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import CONT, TEXT, Frame

from csms.gateway.server import DEFLATE_WINDOW_BITS, WindowDeflate, deflate_factory


def _messages(count: int) -> list[bytes]:
    """Meter-value CALLs much alike, as a charger in a session sends them."""
    return [
        json.dumps(
            [
                2,
                f"msg-{i:04d}",
                "TransactionEvent",
                {
                    "eventType": "Updated",
                    "timestamp": f"2026-11-21T10:{i % 60:02d}:00Z",
                    "triggerReason": "MeterValuePeriodic",
                    "seqNo": i,
                    "transactionInfo": {"transactionId": "tx-000123"},
                    "meterValue": [
                        {
                            "timestamp": f"2026-11-21T10:{i % 60:02d}:00Z",
                            "sampledValue": [{"value": 1000 + 37 * i}],
                        }
                    ],
                },
            ]
        ).encode()
        for i in range(count)
    ]


def _pair(client_window_bits: int = DEFLATE_WINDOW_BITS) -> tuple[WindowDeflate, PerMessageDeflate]:
    """(server side, client side) as negotiated by the gateway's factory for such a client."""
    offer = [("client_max_window_bits", None)] if client_window_bits == DEFLATE_WINDOW_BITS else []
    response, server = deflate_factory().process_request_params(offer, [])
    assert isinstance(server, WindowDeflate)
    params = dict(response)
    server_bits = int(params["server_max_window_bits"] or 15)
    client_bits = int(params.get("client_max_window_bits") or 15)
    client = PerMessageDeflate(False, False, server_bits, client_bits, {"memLevel": 5})
    return server, client


def _exchange(server: PerMessageDeflate, client: PerMessageDeflate, texts: list[bytes]) -> int:
    """Send every text both ways, check each arrives intact; the compressed bytes sent."""
    wire = 0
    for text in texts:
        upstream = client.encode(Frame(TEXT, text))
        assert upstream.rsv1
        assert server.decode(upstream, max_size=65536).data == text
        downstream = server.encode(Frame(TEXT, text))
        assert client.decode(downstream, max_size=65536).data == text
        wire += len(upstream.data) + len(downstream.data)
    return wire


def test_messages_round_trip_both_ways_with_context_takeover() -> None:
    """Every message arrives intact in both directions across many messages sharing context."""
    server, client = _pair()
    assert not server.remote_no_context_takeover and not server.local_no_context_takeover
    _exchange(server, client, _messages(200))


def test_context_takeover_compresses_like_a_kept_zlib_stream() -> None:
    """Priming each message with the last window of text costs no compression on the wire."""
    texts = _messages(60)
    kept = PerMessageDeflate(False, False, DEFLATE_WINDOW_BITS, DEFLATE_WINDOW_BITS)
    kept_client = PerMessageDeflate(False, False, DEFLATE_WINDOW_BITS, DEFLATE_WINDOW_BITS)
    server, client = _pair()
    lean_bytes = _exchange(server, client, texts)
    kept_bytes = _exchange(kept, kept_client, texts)
    fresh = PerMessageDeflate(True, True, DEFLATE_WINDOW_BITS, DEFLATE_WINDOW_BITS)
    fresh_client = PerMessageDeflate(True, True, DEFLATE_WINDOW_BITS, DEFLATE_WINDOW_BITS)
    fresh_bytes = _exchange(fresh, fresh_client, texts)
    assert lean_bytes <= kept_bytes * 1.02
    assert lean_bytes < fresh_bytes / 2


def test_idle_connection_holds_no_zlib_stream_only_the_window_of_text() -> None:
    """Between messages no compressor or decompressor exists; at most one window each way."""
    server, client = _pair()
    _exchange(server, client, _messages(30))
    assert not hasattr(server, "encoder") and not hasattr(server, "decoder")
    window = 1 << DEFLATE_WINDOW_BITS
    assert 0 < len(server._sent) <= window and 0 < len(server._received) <= window


def test_fragmented_message_decodes_and_later_messages_keep_the_context() -> None:
    """A message compressed across continuation frames decodes whole; the next one still does."""
    server, client = _pair()
    first, second = _messages(2)
    _exchange(server, client, [first])
    head, tail = second[:100], second[100:]
    frames = [client.encode(Frame(TEXT, head, fin=False)), client.encode(Frame(CONT, tail))]
    decoded = b"".join(bytes(server.decode(f, max_size=65536).data) for f in frames)
    assert decoded == second
    _exchange(server, client, _messages(5))


def test_oversized_decompressed_message_is_refused() -> None:
    """A small compressed frame that inflates beyond max_size raises PayloadTooBig."""
    server, client = _pair()
    bomb = client.encode(Frame(TEXT, b" " * 200_000))
    with pytest.raises(PayloadTooBig):
        server.decode(bomb, max_size=65536)


def test_client_without_window_bits_offer_keeps_context_with_a_full_window() -> None:
    """A client that cannot be told a smaller window still round-trips with context takeover."""
    server, client = _pair(client_window_bits=15)
    assert server.remote_max_window_bits == 15 and not server.remote_no_context_takeover
    _exchange(server, client, _messages(100))
    assert len(server._received) <= 1 << 15


def test_no_context_takeover_asked_by_the_client_is_honoured() -> None:
    """A client asking for no context takeover both ways gets it and every message round-trips."""
    offer = [("server_no_context_takeover", None), ("client_no_context_takeover", None)]
    response, server = deflate_factory().process_request_params(offer, [])
    assert ("server_no_context_takeover", None) in response
    assert server.local_no_context_takeover and server.remote_no_context_takeover
    client = PerMessageDeflate(True, True, DEFLATE_WINDOW_BITS, 15)
    _exchange(server, client, _messages(10))
    assert not hasattr(server, "encoder") and not hasattr(server, "decoder")
