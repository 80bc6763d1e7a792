"""create_app(services) -> the Starlette app: health, OpenAPI, docs, and each façade."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route

from api import rest
from api.limits import BodyLimit
from api.ocpi import commands as ocpi_commands
from api.ocpi import endpoints as ocpi
from api.ocpi.framework import SECURITY as OCPI_SECURITY
from api.ocpi.framework import envelope
from api.oioi import endpoint as oioi
from api.openapi import SecurityScheme, build_document, docs_html
from api.rest.framework import SECURITY, ApiError, error_response

if TYPE_CHECKING:
    from csms.bootstrap import Services

DESCRIPTION = (
    "OCPP central system: start, stop and read charging sessions over HTTP. "
    "The native REST API answers with {ok, message, result}; authenticate with "
    "`Authorization: Bearer <API key>` (create keys with `csms api-keys create`)."
)


OCPI_ENDPOINTS = [*ocpi.ENDPOINTS, *ocpi_commands.ENDPOINTS]


def openapi_document(version: str = "0.1.0") -> dict[str, Any]:
    return build_document(
        [
            *(e.operation for e in rest.ENDPOINTS),
            oioi.OPERATION,
            *(e.operation for e in OCPI_ENDPOINTS),
        ],
        title="CSMS HTTP API",
        version=version,
        description=DESCRIPTION,
        security=[
            SecurityScheme(SECURITY, {"type": "http", "scheme": "bearer", "bearerFormat": "csk_"}),
            SecurityScheme(
                oioi.SECURITY,
                {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "`key=<api key>` (OIOI)",
                },
            ),
            SecurityScheme(
                OCPI_SECURITY,
                {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "`Token <base64 credentials token>` (OCPI 2.2.1; raw accepted)",
                },
            ),
        ],
    )


def _methods_at(routes: Sequence[BaseRoute], request: Request) -> list[str]:
    """Every method some route serves at the request's path (HEAD with GET)."""
    methods: set[str] = set()
    for route in routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE and isinstance(route, Route) and route.methods:
            methods |= route.methods
    return sorted(methods)


def create_app(services: Services) -> Starlette:
    document = openapi_document()
    page = docs_html(document)

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

    async def openapi(request: Request) -> JSONResponse:
        return JSONResponse(document)

    async def docs(request: Request) -> HTMLResponse:
        return HTMLResponse(page)

    async def not_found(request: Request, exc: Exception) -> JSONResponse:
        if request.url.path.startswith("/ocpi/"):
            return JSONResponse(envelope(2000, f"no such endpoint: {request.url.path}"), 404)
        return error_response(ApiError(404, f"no such endpoint: {request.url.path}", "not_found"))

    async def not_allowed(request: Request, exc: Exception) -> JSONResponse:
        text = f"method {request.method} not allowed on {request.url.path}"
        if request.url.path.startswith("/ocpi/"):
            response = JSONResponse(envelope(2000, text), 405)
        else:
            response = error_response(ApiError(405, text, "method_not_allowed"))
        # RFC 9110 §15.5.6: a 405 lists the methods the resource has. Starlette's own Allow
        # names only the first route of the path: each method here is a route of its own.
        response.headers["Allow"] = ", ".join(_methods_at(routes, request))
        return response

    routes = [
        Route("/health", health),
        Route("/ready", ready),
        Route("/openapi.json", openapi),
        Route("/docs", docs),
        *(e.route(services) for e in rest.ENDPOINTS),
        oioi.route(services),
        *(e.route(services) for e in OCPI_ENDPOINTS),
    ]
    limit = Middleware(BodyLimit, max_bytes=services.config.api.max_body_bytes, too_large=too_large)
    return Starlette(
        routes=routes,
        exception_handlers={404: not_found, 405: not_allowed},
        middleware=[limit],
    )


def too_large(path: str, limit: int) -> Response:
    """413 for a body over ``[api] max_body_bytes``, in the envelope of the façade asked."""
    text = f"body: larger than the {limit} bytes this API accepts"
    if path.startswith("/ocpi/"):
        return JSONResponse(envelope(2000, text), 413)
    if path.startswith(oioi.PATH):
        return oioi.error_response(413, 230, text)
    return error_response(ApiError(413, text, "payload_too_large"))
