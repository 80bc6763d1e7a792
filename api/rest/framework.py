"""How a REST endpoint is served: API key, body and query validation, the ``{ok, message,
result}`` envelope, and the mapping of domain error codes to HTTP statuses (in one place).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.openapi import Operation
from api.rest.schemas import ErrorDetail, ErrorEnvelope, FieldError
from csms.domain.errors import DomainError
from csms.domain.model import ApiKey, ApiScope

if TYPE_CHECKING:
    from csms.bootstrap import Services

log = logging.getLogger("csms.api")

SECURITY = "bearerApiKey"

# Domain error code -> HTTP status; a code not listed takes its parent's (see errors.py).
_STATUS = {
    "not_found": 404,
    "conflict": 409,
    "charger_unavailable": 409,
    "not_authorized": 403,
    "invalid_input": 400,
}
COMMON_ERRORS = {400: "Bad input (the message names the field)", 401: "Missing or wrong API key"}


class ApiError(Exception):
    """An HTTP error with the REST envelope; ``errors`` name the bad fields."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str = "error",
        errors: list[FieldError] | None = None,
        *,
        password: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code
        self.errors = errors or []
        self.password = password  # a password change that got no answer: what was sent


@dataclass(slots=True)
class Call:
    """What a handler gets: the validated input and who is asking."""

    request: Request
    services: Services
    key: ApiKey
    body: Any
    query: Any

    def path(self, name: str) -> str:
        value: str = self.request.path_params[name]
        return value


@dataclass(slots=True)
class Reply:
    result: BaseModel
    status: int = 200

    def response(self) -> Response:
        return JSONResponse(self.result.model_dump(mode="json", by_alias=True), self.status)


Handler = Callable[[Call], Awaitable[Reply]]


@dataclass(frozen=True, slots=True)
class Endpoint:
    operation: Operation
    handler: Handler
    scope: ApiScope

    def route(self, services: Services) -> Route:
        async def serve(request: Request) -> Response:
            try:
                key = await _authenticate(request, services, self.scope)
                body = await _body(request, self.operation.body)
                query = _query(self.operation.query, request)
                reply = await self.handler(Call(request, services, key, body, query))
            except ApiError as exc:
                return error_response(exc)
            except DomainError as exc:
                return error_response(from_domain(exc))
            return reply.response()

        return Route(self.operation.path, serve, methods=[self.operation.method])


def endpoint(
    method: str,
    path: str,
    summary: str,
    *,
    tag: str,
    response: type[BaseModel],
    scope: ApiScope = ApiScope.SESSIONS,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    status: int = 200,
    errors: dict[int, str] | None = None,
    error_models: dict[int, type[BaseModel]] | None = None,
    description: str = "",
) -> Callable[[Handler], Endpoint]:
    """Declare a handler as an endpoint: served by the router, described in the OpenAPI doc."""

    def wrap(handler: Handler) -> Endpoint:
        operation = Operation(
            method=method,
            path=path,
            summary=summary,
            tag=tag,
            body=body,
            query=query,
            response=response,
            status=status,
            errors={**COMMON_ERRORS, **(errors or {})},
            error_model=ErrorEnvelope,
            error_models=error_models or {},
            security=SECURITY,
            description=description,
        )
        return Endpoint(operation, handler, scope)

    return wrap


def error_response(exc: ApiError) -> JSONResponse:
    detail = ErrorDetail(code=exc.code, errors=exc.errors, password=exc.password)
    envelope = ErrorEnvelope(message=exc.message, result=detail)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return JSONResponse(envelope.model_dump(mode="json"), exc.status, headers=headers)


def from_domain(exc: DomainError) -> ApiError:
    """The status of the nearest class in the error tree that has one (400 otherwise)."""
    codes = [getattr(cls, "code", None) for cls in type(exc).__mro__]
    status = next((_STATUS[c] for c in codes if c in _STATUS), 400)
    return ApiError(status, str(exc) or exc.code, exc.code)


async def _authenticate(request: Request, services: Services, scope: ApiScope) -> ApiKey:
    header = request.headers.get("authorization", "")
    kind, _, presented = header.partition(" ")
    if kind.lower() != "bearer" or not presented.strip():
        raise ApiError(401, "missing API key: send Authorization: Bearer <key>", "unauthorized")
    key = await services.operators.authenticate(presented.strip())
    if key is None:
        raise ApiError(401, "invalid API key", "unauthorized")
    if not key.allows(scope):
        raise ApiError(403, f"this API key lacks the {scope.value!r} scope", "forbidden")
    return key


async def json_object(request: Request, *, empty: dict[str, Any] | None = None) -> dict[str, Any]:
    """The request body as a JSON object; an empty body gives ``empty`` (None: an error)."""
    raw = await request.body()
    try:
        data = json.loads(raw) if raw.strip() else empty
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "body: not valid JSON", "invalid_input") from None
    if not isinstance(data, dict):
        raise ApiError(400, "body: expected a JSON object", "invalid_input")
    return data


def _query(model: type[BaseModel] | None, request: Request) -> Any:
    """The query as ``model``; an unknown parameter is 400 (a misspelt filter would otherwise
    quietly match everything)."""
    params = dict(request.query_params)
    if model is not None:
        unknown = sorted(set(params) - set(model.model_fields))
        if unknown:
            text = f"{unknown[0]!r}: unknown query parameter"
            raise ApiError(400, text, "invalid_input", [FieldError(field="query", message=text)])
    return _validate(model, params, "query")


async def _body(request: Request, model: type[BaseModel] | None) -> Any:
    if model is None:
        return None
    return _validate(model, await json_object(request), "body")


def _validate(model: type[BaseModel] | None, data: dict[str, Any], where: str) -> Any:
    if model is None:
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [
            FieldError(field=".".join(str(p) for p in err["loc"]) or where, message=err["msg"])
            for err in exc.errors()
        ]
        summary = "; ".join(f"{e.field}: {e.message}" for e in errors)
        raise ApiError(400, summary, "invalid_input", errors) from None
