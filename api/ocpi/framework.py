"""How an OCPI 2.2.1 endpoint is served: credentials token, the response envelope, request ids,
body validation and pagination.

Every answer (errors too) is ``{data, status_code, status_message, timestamp}``. HTTP statuses
follow the spec's transport rules: 401 for a missing or unknown token, 400 for a body that is
not JSON, 404 for an object that does not exist; a valid request that cannot be carried out
is HTTP 200 with a 2xxx ``status_code``.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlencode

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.ocpi.schemas import ocpi_utc
from api.openapi import Operation
from csms.domain.model import OcpiPartner, PartnerStatus

if TYPE_CHECKING:
    from csms.bootstrap import Services

log = logging.getLogger("csms.ocpi")

VERSION = "2.2.1"
PREFIX = "/ocpi"
SECURITY = "ocpiToken"
TAG = "OCPI 2.2.1"
MAX_LIMIT = 100

M = TypeVar("M", bound=BaseModel)


class OcpiError(Exception):
    """An answer other than success: an OCPI ``status_code`` and the HTTP status to send."""

    def __init__(self, status_code: int, message: str, http: int = 200, data: Any = None) -> None:
        super().__init__(message)
        self.status_code, self.message, self.http, self.data = status_code, message, http, data


@dataclass(slots=True)
class OcpiReply:
    data: Any = None
    status_code: int = 1000
    http: int = 200
    message: str = "Success"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class OcpiCall:
    request: Request
    services: Services
    partner: OcpiPartner

    def path(self, name: str) -> str:
        value: str = self.request.path_params[name]
        return value

    @property
    def base_url(self) -> str:
        """Where partners reach us: ``[ocpi] public_url``, else the URL this request came to."""
        configured = self.services.config.ocpi.public_url
        return (configured or str(self.request.base_url)).rstrip("/")

    def module_url(self, module: str) -> str:
        return f"{self.base_url}{PREFIX}/{VERSION}/{module}"

    @property
    def versions_url(self) -> str:
        return f"{self.base_url}{PREFIX}/versions"

    async def body(self, model: type[M]) -> M:
        raw = await self.request.body()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            raise OcpiError(2001, "the body is not valid JSON", http=400) from None
        if not isinstance(parsed, dict):
            raise OcpiError(2001, "the body must be a JSON object", http=400)
        return validated(model, parsed)


def validated(model: type[M], data: Any) -> M:
    """``data`` as ``model``, or OcpiError 2001 naming the first bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise OcpiError(2001, f"{where}: {first['msg']}") from None


def dump(model: BaseModel | list[Any] | None) -> Any:
    if model is None:
        return None
    if isinstance(model, list):
        return [dump(m) for m in model]
    return model.model_dump(mode="json", exclude_none=True)


def envelope(status_code: int, message: str, data: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"status_code": status_code, "status_message": message}
    if data is not None:
        body["data"] = data
    body["timestamp"] = ocpi_utc(datetime.now(UTC))
    return body


def token_candidates(header: str | None) -> list[str]:
    """The credentials token(s) an ``Authorization: Token ...`` header may carry.

    OCPI 2.2.1 sends it Base64-encoded; many 2.1.1-era peers send it raw. Both are tried.
    """
    if not header:
        return []
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() != "token" or not value:
        return []
    found = [value]
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return found
    if decoded and decoded.isprintable() and decoded != value:
        found.insert(0, decoded)
    return found


def encode_token(token: str) -> str:
    return base64.b64encode(token.encode()).decode()


Handler = Callable[[OcpiCall], Awaitable[OcpiReply]]


@dataclass(frozen=True, slots=True)
class OcpiEndpoint:
    method: str
    path: str
    handler: Handler
    operation: Operation
    registered_only: bool = True  # False: token A may call it (versions, credentials)

    def route(self, services: Services) -> Route:
        async def serve(request: Request) -> Response:
            ids = _ids(request)
            try:
                partner = await _authenticate(services, request, self.registered_only)
                reply = await self.handler(OcpiCall(request, services, partner))
            except OcpiError as exc:
                body = envelope(exc.status_code, exc.message, exc.data)
                return JSONResponse(body, exc.http, headers=ids)
            except Exception:
                log.exception("OCPI %s %s failed", request.method, request.url.path)
                return JSONResponse(envelope(3000, "internal error"), 500, headers=ids)
            body = envelope(reply.status_code, reply.message, reply.data)
            return JSONResponse(body, reply.http, headers={**ids, **reply.headers})

        return Route(self.path, serve, methods=[self.method])


def _ids(request: Request) -> dict[str, str]:
    """X-Request-ID and X-Correlation-ID, echoed (or made up when the caller sent none)."""
    request_id = request.headers.get("x-request-id") or str(uuid.uuid4())
    correlation = request.headers.get("x-correlation-id") or request_id
    return {"X-Request-ID": request_id[:255], "X-Correlation-ID": correlation[:255]}


async def _authenticate(services: Services, request: Request, registered_only: bool) -> OcpiPartner:
    candidates = token_candidates(request.headers.get("authorization"))
    if not candidates:
        raise OcpiError(2000, "missing Authorization: Token <credentials token>", http=401)
    partner = await services.roaming.authenticate(candidates)
    if partner is None:
        raise OcpiError(2000, "unknown credentials token", http=401)
    if registered_only and partner.status is not PartnerStatus.REGISTERED:
        raise OcpiError(2000, "register first: token A only opens versions and credentials", 401)
    return partner


COMMON_ERRORS = {
    400: "Malformed body, query or path value (status_code 2001)",
    401: "Missing or unknown credentials token",
}
NOT_FOUND = {404: "Unknown object (status_code 2003 or 2004)"}


def endpoint(
    method: str,
    path: str,
    summary: str,
    *,
    body: type[BaseModel] | None = None,
    registered_only: bool = True,
    description: str = "",
    errors: dict[int, str] | None = None,
) -> Callable[[Handler], OcpiEndpoint]:
    """Declare an OCPI handler; ``errors`` adds the HTTP statuses it answers besides 400/401."""

    def wrap(handler: Handler) -> OcpiEndpoint:
        operation = Operation(
            method=method,
            path=PREFIX + path,
            summary=summary,
            tag=TAG,
            body=body,
            errors={**COMMON_ERRORS, **(errors or {})},
            security=SECURITY,
            description=description,
        )
        return OcpiEndpoint(method, PREFIX + path, handler, operation, registered_only)

    return wrap


# -- pagination --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Page:
    date_from: datetime | None
    date_to: datetime | None
    offset: int
    limit: int

    @staticmethod
    def of(request: Request) -> Page:
        q = request.query_params
        return Page(
            _time(q.get("date_from"), "date_from"),
            _time(q.get("date_to"), "date_to"),
            _int(q.get("offset"), "offset", 0),
            max(1, min(_int(q.get("limit"), "limit", MAX_LIMIT), MAX_LIMIT)),
        )

    def reply(self, call: OcpiCall, data: list[Any], total: int) -> OcpiReply:
        """The page with ``X-Total-Count``, ``X-Limit`` and a ``Link`` to the next page."""
        headers = {"X-Total-Count": str(total), "X-Limit": str(self.limit)}
        if self.offset + len(data) < total:
            params = dict(call.request.query_params)
            params.update(offset=str(self.offset + self.limit), limit=str(self.limit))
            base = call.base_url + call.request.url.path
            headers["Link"] = f'<{base}?{urlencode(params)}>; rel="next"'
        return OcpiReply(data, headers=headers)


def _time(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise OcpiError(2001, f"{name}: not an RFC 3339 date-time: {value!r}", http=400) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _int(value: str | None, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    # isascii: "²" is a digit to str.isdigit and no number to int(); the bound keeps an offset
    # inside a 64-bit database integer
    if not (value.isascii() and value.isdigit()) or len(value) > 9:
        text = f"{name}: must be an integer from 0 to 999999999, not {value[:20]!r}"
        raise OcpiError(2001, text, http=400)
    return int(value)
