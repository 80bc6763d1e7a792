"""The benchmarks' minimal HTTP/1.1 client against a real socket server written per test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from bench.http_client import HttpError, KeptAliveClient

Respond = Callable[[bytes], Awaitable[bytes | None]]  # request head -> raw answer, None: hang up


class Recorder:
    """A TCP server answering each request with ``respond``; counts connections and requests."""

    def __init__(self, respond: Respond) -> None:
        self.respond = respond
        self.connections = 0
        self.requests: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                answer = await self.respond(request)
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
                if b"connection: close" in answer.lower():
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Respond], Awaitable[Recorder]]]:
    started: list[Recorder] = []

    async def start(respond: Respond) -> Recorder:
        recorder = Recorder(respond)
        recorder.server = await asyncio.start_server(recorder._client, "127.0.0.1", 0)
        started.append(recorder)
        return recorder

    yield start
    for recorder in started:
        assert recorder.server is not None
        recorder.server.close()
        await recorder.server.wait_closed()


def _sized(body: bytes, extra: str = "") -> bytes:
    head = f"HTTP/1.1 201 Created\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    return head.encode() + body


async def test_answers_with_a_length_or_in_chunks_arrive_whole_on_one_connection(serve) -> None:
    """Content-Length and chunked bodies are read whole, and both requests share a socket."""
    answers = iter(
        [
            _sized(b'{"ok":true}'),
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b'4\r\n{"a"\r\n3;ext=1\r\n:1}\r\n0\r\nTrailer: x\r\n\r\n',
        ]
    )

    async def respond(_request: bytes) -> bytes:
        return next(answers)

    server = await serve(respond)
    async with KeptAliveClient("127.0.0.1", server.port, timeout=5) as client:
        first = await client.request(
            "POST", "/v1/sessions", json_body={"x": 1}, headers={"Authorization": "Bearer k"}
        )
        second = await client.request("GET", "/health")
    assert (first.status, first.json()) == (201, {"ok": True})
    assert (second.status, second.json()) == (200, {"a": 1})
    assert server.connections == 1
    posted = server.requests[0]
    assert posted.startswith(b"POST /v1/sessions HTTP/1.1\r\n")
    assert b"Authorization: Bearer k\r\n" in posted and posted.endswith(b'\r\n\r\n{"x": 1}')


async def test_a_connection_the_server_closes_is_opened_again_for_the_next_request(serve) -> None:
    """After an answer with Connection: close, the next request goes on a new connection."""

    async def respond(_request: bytes) -> bytes:
        return _sized(b"{}", "Connection: close\r\n")

    server = await serve(respond)
    async with KeptAliveClient("127.0.0.1", server.port, timeout=5) as client:
        for _ in range(3):
            assert (await client.request("POST", "/start/CP1")).status == 201
    assert server.connections == 3
    assert all(b"Content-Length: 0\r\n" in request for request in server.requests)


async def test_a_server_that_hangs_up_without_answering_is_an_error_not_a_loop(serve) -> None:
    """A fresh connection closed before any answer raises HttpError (sent once, no retries)."""

    async def respond(_request: bytes) -> None:
        return None

    server = await serve(respond)
    async with KeptAliveClient("127.0.0.1", server.port, timeout=5) as client:
        with pytest.raises(HttpError):
            await client.request("POST", "/start/CP1")
    assert len(server.requests) == 1


async def test_an_answer_that_is_not_http_is_an_error(serve) -> None:
    """A status line that is not HTTP/1.x raises HttpError naming it."""

    async def respond(_request: bytes) -> bytes:
        return b"SSH-2.0-OpenSSH\r\n\r\n"

    server = await serve(respond)
    async with KeptAliveClient("127.0.0.1", server.port, timeout=5) as client:
        with pytest.raises(HttpError, match="status line"):
            await client.request("GET", "/health")


async def test_a_server_that_never_answers_times_out(serve) -> None:
    """A request without an answer within the timeout raises HttpError."""
    never = asyncio.Event()

    async def respond(_request: bytes) -> bytes:
        await never.wait()
        return b""

    server = await serve(respond)
    async with KeptAliveClient("127.0.0.1", server.port, timeout=0.2) as client:
        with pytest.raises(HttpError, match="no answer"):
            await client.request("GET", "/health")
    never.set()  # lets the server's handler end, so that it can close
