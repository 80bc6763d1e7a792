"""Just enough HTTP/1.1 for the baselines: keep-alive, Content-Length bodies, JSON answers.

The benchmarks send ``GET /health`` and ``POST /start/<charger>`` with httpx; a client keeps its
connection open, as it does with our CSMS, so both are timed the same way.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

Handler = Callable[[str, str, bytes], Awaitable[tuple[int, Any]]]
_REASONS = {200: "OK", 404: "Not Found", 502: "Bad Gateway", 504: "Gateway Timeout"}


async def serve_http(host: str, port: int, handler: Handler) -> asyncio.Server:
    """Serve ``handler(method, path, body) -> (status, json)`` on ``host:port``."""

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while request := await _read_request(reader):
                method, path, body, close = request
                status, answer = await handler(method, path, body)
                data = json.dumps(answer).encode()
                head = (
                    f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
                )
                writer.write(head.encode() + data)
                await writer.drain()
                if close:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(client, host, port)


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str, bytes, bool] | None:
    line = await reader.readline()
    if not line.strip():
        return None
    method, path, _ = line.decode("latin-1").split(" ", 2)
    length, close = 0, False
    while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = header.decode("latin-1").partition(":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and value == "close":
            close = True
    body = await reader.readexactly(length) if length else b""
    return method, path, body, close
