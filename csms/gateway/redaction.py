"""websockets' DEBUG log without credentials.

At DEBUG websockets logs every handshake header and every frame. Two of them carry a charger's
password: the ``Authorization`` header of the opening handshake (Basic auth, profiles 1 and 2)
and the CALL that rotates it (1.6 ``AuthorizationKey``, 2.0.1 ``BasicAuthPassword``). The
gateway hands websockets :data:`WEBSOCKETS_LOG`, whose filter rewrites those records; nothing
else changes, so DEBUG stays useful for tracing frames.
"""

from __future__ import annotations

import logging
from typing import Any

REDACTED = "[redacted]"
_HEADER_LINES = frozenset({"< %s: %s", "> %s: %s"})
_FRAME_LINES = frozenset({"< %s", "> %s"})
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization"})
_SECRET_MARKERS = (b"AuthorizationKey", b"BasicAuthPassword")


class RedactCredentials(logging.Filter):
    """Blank the value of authorization headers and frames that set a charger password."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if not isinstance(args, tuple) or not args:
            return True
        if record.msg in _HEADER_LINES and len(args) == 2:
            if str(args[0]).lower() in _SECRET_HEADERS:
                record.args = (args[0], REDACTED)
        elif record.msg in _FRAME_LINES and _carries_password(args[0]):
            frame: Any = args[0]
            record.args = (f"{frame.opcode.name} {REDACTED} [{len(frame.data)} bytes]",)
        return True


def _carries_password(frame: object) -> bool:
    data = getattr(frame, "data", None)
    if not isinstance(data, bytes | bytearray | memoryview):
        return False
    raw = bytes(data)
    return any(marker in raw for marker in _SECRET_MARKERS)


WEBSOCKETS_LOG = logging.getLogger("csms.gateway.websockets")
WEBSOCKETS_LOG.addFilter(RedactCredentials())
