"""The text frames GatewaySocket writes itself are the bytes websockets' protocol would write."""

from __future__ import annotations

import pytest
from websockets.frames import Frame, Opcode

from csms.gateway.socket import text_frame


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 70000])
def test_text_frame_matches_websockets_serialisation(size: int) -> None:
    """Each length class of RFC 6455 (7-bit, 16-bit, 64-bit) gives websockets' own frame."""
    data = ("é" * size).encode()[:size]
    expected = Frame(Opcode.TEXT, data).serialize(mask=False, extensions=[])
    assert text_frame(data) == expected
