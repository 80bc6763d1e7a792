"""A real local eMSP for OCPI tests: versions and endpoints it serves, and what it was sent.

It checks that every call carries its token B (Base64, as OCPI 2.2.1 says) and records every
Session PUT, CDR POST and CommandResult in ``received``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from csms.bootstrap import HttpServer

TOKEN_B = "emsp-token-b-0123456789"


@dataclass
class Pushed:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Emsp:
    port: int = 0
    received: dict[str, asyncio.Queue[Pushed]] = field(
        default_factory=lambda: {k: asyncio.Queue() for k in ("sessions", "cdrs", "commands")}
    )
    versions_calls: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/emsp"

    @property
    def versions_url(self) -> str:
        return f"{self.url}/versions"

    async def next(self, kind: str, timeout: float = 5.0) -> Pushed:
        """The next push of one kind: ``sessions``, ``cdrs`` or ``commands`` (the rest)."""
        async with asyncio.timeout(timeout):
            return await self.received[kind].get()

    async def session_until(self, status: str, timeout: float = 5.0) -> Pushed:
        """Session pushes until one has ``status``."""
        async with asyncio.timeout(timeout):
            while True:
                got = await self.next("sessions", timeout)
                if got.body["status"] == status:
                    return got


def _ok(data: Any = None, status: int = 200) -> JSONResponse:
    body = {"status_code": 1000, "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z")}
    if data is not None:
        body["data"] = data
    return JSONResponse(body, status)


@contextlib.asynccontextmanager
async def emsp(port: int = 0, state: Emsp | None = None) -> AsyncIterator[Emsp]:
    """An eMSP on ``port`` (0: any free one); ``state`` carries what it got across restarts."""
    state = state or Emsp()
    expected = "Token " + base64.b64encode(TOKEN_B.encode()).decode()

    def authorized(request: Request) -> bool:
        return request.headers.get("authorization") == expected

    async def versions(request: Request) -> Response:
        if not authorized(request):
            return JSONResponse({"status_code": 2000}, 401)
        state.versions_calls += 1
        return _ok([{"version": "2.2.1", "url": f"{state.url}/2.2.1"}])

    async def details(request: Request) -> Response:
        if not authorized(request):
            return JSONResponse({"status_code": 2000}, 401)
        endpoints = [
            {
                "identifier": "credentials",
                "role": "SENDER",
                "url": f"{state.url}/2.2.1/credentials",
            },
            {"identifier": "sessions", "role": "RECEIVER", "url": f"{state.url}/2.2.1/sessions"},
            {"identifier": "cdrs", "role": "RECEIVER", "url": f"{state.url}/2.2.1/cdrs"},
            {"identifier": "commands", "role": "SENDER", "url": f"{state.url}/2.2.1/commands"},
        ]
        return _ok({"version": "2.2.1", "endpoints": endpoints})

    async def record(request: Request) -> Response:
        if not authorized(request):
            return JSONResponse({"status_code": 2000}, 401)
        body = json.loads(await request.body())
        path = request.url.path
        kind = (
            "sessions" if "/sessions/" in path else "cdrs" if path.endswith("/cdrs") else "commands"
        )
        state.received[kind].put_nowait(Pushed(request.method, path, dict(request.headers), body))
        if request.url.path.endswith("/cdrs"):
            return _ok(status=201)
        return _ok()

    app = Starlette(
        routes=[
            Route("/emsp/versions", versions),
            Route("/emsp/2.2.1", details),
            Route("/emsp/{path:path}", record, methods=["POST", "PUT", "PATCH"]),
        ]
    )
    server = HttpServer(app, "127.0.0.1", port or state.port, "warning")
    state.port = server.port
    server.start()
    try:
        yield state
    finally:
        await server.close()
