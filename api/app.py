"""create_app(services) -> the Starlette app. For now: health and readiness."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


def create_app(services: Any) -> Starlette:
    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True, "message": "alive", "result": None})

    async def ready(request: Request) -> JSONResponse:
        try:
            await services.db.read(lambda uow: uow.chargers.get("-"))
        except Exception as exc:
            return JSONResponse(
                {
                    "ok": False,
                    "message": f"database unreachable: {type(exc).__name__}",
                    "result": None,
                },
                status_code=503,
            )
        connected = len(services.registry)
        return JSONResponse(
            {"ok": True, "message": "ready", "result": {"chargers_connected": connected}}
        )

    return Starlette(routes=[Route("/health", health), Route("/ready", ready)])
