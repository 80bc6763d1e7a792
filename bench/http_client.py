"""A minimal HTTP/1.1 client on one kept-alive connection, for timing a server's answers.

The remote start benchmark times each request from send to response. With httpx the client's
own work is part of that time: on this 2-core machine a ``GET /health`` round trip to the CSMS
took 2.7-3.2 ms through ``httpx.AsyncClient`` and 0.70-0.73 ms through this client (1,000
requests each, back to back), so about 2 ms of every figure was the load generator's Python
and not the server's. This sends a request as one write and reads the answer's status line,
headers and body (``Content-Length`` or chunked); that is all a benchmark needs. It is not a
general client: no redirects, no TLS, no proxies, one request at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any

MAX_HEAD_BYTES = 64 * 1024


class HttpError(Exception):
    """The request got no well-formed answer (connection lost, malformed response, timeout)."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class KeptAliveClient:
    """Requests to ``http://host:port`` one after the other on one connection.

    The connection opens on the first request (or :meth:`connect`) and again after the server
    closes it (``Connection: close``, or a kept-alive socket it dropped while idle).
    """

    def __init__(self, host: str, port: int, *, timeout: float) -> None:
        self._host, self._port, self._timeout = host, port, timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> KeptAliveClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def connect(self) -> None:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        """Send one request and read its whole answer; :class:`HttpError` if there is none."""
        body = b"" if json_body is None else json.dumps(json_body).encode()
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self._host}:{self._port}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        if json_body is not None:
            lines.append("Content-Type: application/json")
        if body or method not in ("GET", "HEAD"):
            lines.append(f"Content-Length: {len(body)}")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        try:
            async with asyncio.timeout(self._timeout):
                return await self._exchange(data, method == "HEAD")
        except TimeoutError:  # before OSError, of which it is a subclass
            await self.close()
            raise HttpError(f"no answer within {self._timeout:g} s") from None
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            await self.close()
            raise HttpError(f"{type(exc).__name__}: {exc}") from exc
        except HttpError:
            await self.close()
            raise

    async def _exchange(self, data: bytes, head_only: bool) -> Answer:
        reused = self._writer is not None
        await self.connect()
        assert self._reader is not None and self._writer is not None
        self._writer.write(data)
        try:
            status_line = await self._reader.readline()
        except ConnectionError:
            status_line = b""
        if not status_line and reused:  # the server dropped the idle connection: once more
            await self.close()
            return await self._exchange(data, head_only)
        answer = await self._read_answer(self._reader, status_line, head_only)
        if answer.headers.get("connection", "").lower() == "close":
            await self.close()
        return answer

    async def _read_answer(
        self, reader: asyncio.StreamReader, status_line: bytes, head_only: bool
    ) -> Answer:
        parts = status_line.decode("latin-1").split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise HttpError(f"not an HTTP/1.x status line: {status_line[:80]!r}")
        status = int(parts[1])
        head = await reader.readuntil(b"\r\n\r\n")
        if len(head) > MAX_HEAD_BYTES:
            raise HttpError("response headers too long")
        headers: dict[str, str] = {}
        for line in head.decode("latin-1").split("\r\n"):
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        if head_only or status in (204, 304) or 100 <= status < 200:
            return Answer(status, headers, b"")
        if headers.get("transfer-encoding", "").lower() == "chunked":
            return Answer(status, headers, await _chunked(reader))
        length = headers.get("content-length")
        if length is None or not length.isdigit():
            raise HttpError("response has neither Content-Length nor chunked encoding")
        return Answer(status, headers, await reader.readexactly(int(length)))


async def _chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        size_line = (await reader.readline()).split(b";", 1)[0].strip()
        try:
            size = int(size_line, 16)
        except ValueError:
            raise HttpError(f"bad chunk size {size_line[:20]!r}") from None
        if size == 0:
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):  # trailers
                pass
            return bytes(body)
        body += await reader.readexactly(size)
        await reader.readexactly(2)  # the CRLF after the chunk
