"""A real HTTP receiver for outbound deliveries (webhooks, partner pushes) in tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from csms.bootstrap import HttpServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: str
    answered: int

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers every POST with ``status`` and records it in ``requests``."""

    port: int = 0
    status: int = 200
    requests: asyncio.Queue[Received] = field(default_factory=asyncio.Queue)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def next(self, timeout: float = 5.0) -> Received:
        async with asyncio.timeout(timeout):
            return await self.requests.get()

    async def next_ok(self, timeout: float = 5.0) -> Received:
        """The next request this receiver answered with a 2xx."""
        async with asyncio.timeout(timeout):
            while True:
                got = await self.requests.get()
                if 200 <= got.answered < 300:
                    return got


@contextlib.asynccontextmanager
async def receiver(status: int = 200, port: int = 0) -> AsyncIterator[Receiver]:
    """A receiver on ``port`` (0: any free one) for the block."""
    rec = Receiver(status=status)

    async def handle(request: Request) -> Response:
        body = (await request.body()).decode()
        answered = rec.status
        rec.requests.put_nowait(Received(request.url.path, dict(request.headers), body, answered))
        return Response(status_code=answered)

    app = Starlette(routes=[Route("/{path:path}", handle, methods=["POST", "PUT", "PATCH"])])
    server = HttpServer(app, "127.0.0.1", port, "warning")
    rec.port = server.port
    server.start()
    try:
        yield rec
    finally:
        await server.close()
