"""``POST /oioi/v4/request``: the Plugsurfing OIOI v4 call API, CPO side (receiver).

One endpoint; the request body's single top-level key names the call. Business outcomes are
HTTP 200 with ``result.code`` (0 = success); malformed requests are 400 with ``{"error": ...}``
and code 230; a missing or wrong ``Authorization: key=<api key>`` is 401 with code 210.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.oioi.push import WHITELIST_GROUP
from api.oioi.schemas import (
    Interval,
    OioiError,
    OioiRequest,
    OioiResponse,
    RecentSession,
    RecentSessions,
    Result,
    RfidPost,
    RfidProcessed,
    SessionStart,
    SessionStarted,
    SessionStop,
    UserRecentSessions,
)
from api.openapi import Operation
from csms.domain.commands import CommandStatus
from csms.domain.errors import (
    AlreadyExists,
    ChargerUnavailable,
    ConnectorNotFound,
    ConnectorOccupied,
    DomainError,
    NotAuthorized,
    NotFound,
    SessionNotActive,
)
from csms.domain.model import ApiScope, Session, SessionStatus
from csms.domain.sessions import connector_key

if TYPE_CHECKING:
    from csms.bootstrap import Services

log = logging.getLogger("csms.oioi")

PATH = "/oioi/v4/request"
SECURITY = "oioiKey"

MESSAGES = {
    0: "Success",
    140: "Authentication failed: No positive authentication response",
    145: "Authentication failed: User token not valid",
    181: "EVSE not found",
    182: "Session not found",
    210: "Invalid API key",
    220: "API key not allowed to access the requested resource",
    230: "Invalid request format",
    300: "CPO error",
    302: "CPO timeout",
    310: "EVSE error",
    312: "EVSE timeout",
    320: "EVSE already in use",
}
# The charger's answer to a remote start or stop -> OIOI result code.
_COMMAND_CODE = {
    CommandStatus.ACCEPTED: 0,
    CommandStatus.REJECTED: 310,
    CommandStatus.OFFLINE: 310,
    CommandStatus.TIMEOUT: 312,
    CommandStatus.FAILED: 300,
}

OPERATION = Operation(
    method="POST",
    path=PATH,
    summary="Plugsurfing OIOI v4: session-start, session-stop, user-get-recent-sessions, rfid-post",
    tag="OIOI v4",
    body=OioiRequest,
    response=OioiResponse,
    errors={400: "Malformed request or unknown call (code 230)", 401: "Invalid API key (210)"},
    error_model=OioiError,
    security=SECURITY,
    description="Send exactly one top-level key naming the call. Business errors are HTTP 200 "
    "with a non-zero `result.code`: 140/145 authentication, 181 unknown EVSE ID, 182 unknown "
    "session, 310 EVSE error (rejected or offline), 312 EVSE timeout, 320 EVSE in use, 300 CPO "
    "error.",
)


class _Reject(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def result(code: int, message: str | None = None) -> Result:
    return Result(code=code, message=message or MESSAGES.get(code, "Error"))


def error_response(status: int, code: int, message: str) -> JSONResponse:
    """OIOI's error envelope: ``{"error": {"request": ...}, "result": {"code": ...}}``."""
    error = OioiError(error={"request": message}, result=result(code, message))
    return JSONResponse(error.model_dump(mode="json"), status)


def route(services: Services) -> Route:
    calls: dict[str, tuple[type[BaseModel], Callable[[Any], Awaitable[OioiResponse]]]] = {
        "session-start": (SessionStart, lambda body: _session_start(services, body)),
        "session-stop": (SessionStop, lambda body: _session_stop(services, body)),
        "user-get-recent-sessions": (UserRecentSessions, lambda body: _recent(services, body)),
        "rfid-post": (RfidPost, lambda body: _rfid_post(services, body)),
    }

    async def serve(request: Request) -> Response:
        try:
            await _authenticate(services, request)
            name, raw = await _call_of(request)
            if name not in calls:
                raise _Reject(400, 230, f"unknown call {name!r}")
            model, handler = calls[name]
            body = _validate(model, raw, name)
            answer = await handler(body)
        except _Reject as exc:
            return error_response(exc.status, exc.code, exc.message)
        return JSONResponse(answer.model_dump(mode="json", exclude_none=True))

    return Route(PATH, serve, methods=["POST"])


async def _authenticate(services: Services, request: Request) -> None:
    kind, _, presented = request.headers.get("authorization", "").partition("=")
    if kind.strip().lower() != "key" or not presented.strip():
        raise _Reject(401, 210, "missing API key: send Authorization: key=<api key>")
    key = await services.operators.authenticate(presented.strip())
    if key is None:
        raise _Reject(401, 210, "invalid API key")
    if not key.allows(ApiScope.SESSIONS):
        raise _Reject(403, 220, "this API key may not start or read sessions")


async def _call_of(request: Request) -> tuple[str, Any]:
    try:
        data = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        raise _Reject(400, 230, "body: not valid JSON") from None
    if not isinstance(data, dict) or len(data) != 1:
        raise _Reject(400, 230, "body: expected an object with exactly one key naming the call")
    ((name, raw),) = data.items()
    return str(name), raw


def _validate(model: type[BaseModel], raw: Any, name: str) -> Any:
    if not isinstance(raw, dict):
        raise _Reject(400, 230, f"{name}: expected an object")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or name
        raise _Reject(400, 230, f"{name}.{field}: {first['msg']}") from None


# -- calls --------------------------------------------------------------------------------------


async def _session_start(services: Services, body: SessionStart) -> OioiResponse:
    try:
        outcome = await services.sessions.start_at(
            body.connector_id, body.user.identifier, requested_by="oioi"
        )
    except DomainError as exc:
        return OioiResponse(result=_domain_result(exc))
    code = _COMMAND_CODE[outcome.result.status]
    if code != 0:
        return OioiResponse(result=result(code, f"charger answered: {outcome.result.describe()}"))
    started = SessionStarted(session_id=outcome.session.id, is_stoppable=True)
    return OioiResponse(result=result(0), session_start=started)


async def _session_stop(services: Services, body: SessionStop) -> OioiResponse:
    try:
        session = await _session_to_stop(services, body)
        answer = await services.sessions.stop_session(session.id)
    except DomainError as exc:
        return OioiResponse(result=_domain_result(exc))
    code = _COMMAND_CODE[answer.status]
    return OioiResponse(
        result=result(code, None if code == 0 else "charger answered: " + answer.describe())
    )


async def _session_to_stop(services: Services, body: SessionStop) -> Session:
    ref = await services.sessions.resolve_connector(body.connector_id)
    token = await services.sessions.token_for_user(body.user.identifier)
    if body.session_id is not None:
        session = await services.sessions.get(body.session_id)
        if session.charger_id != ref.charger_id or session.id_token != token:
            raise SessionNotActive("the session is not this user's session at this EVSE")
        return session
    for status in (SessionStatus.STARTED, SessionStatus.PENDING):
        for session in await services.sessions.list(
            charger_id=ref.charger_id, id_token=token, status=status
        ):
            if ref.evse_id is None or session.evse_id in (None, ref.evse_id):
                return session
    raise SessionNotActive("no running session of this user at this EVSE")


async def _recent(services: Services, body: UserRecentSessions) -> OioiResponse:
    token = await services.sessions.token_for_user(body.user.identifier)
    sessions = await services.sessions.list(id_token=token, limit=20)
    evse_ids = await _evse_ids(services, {s.charger_id for s in sessions})
    items = [_recent_session(s, evse_ids) for s in sessions]
    return OioiResponse(result=result(0), user=RecentSessions(sessions=items))


async def _evse_ids(services: Services, charger_ids: set[str]) -> dict[str, str]:
    """Our connector id -> the operator's EVSE ID, where one is assigned."""
    found: dict[str, str] = {}
    for charger_id in charger_ids:
        try:
            _, connectors = await services.operators.charger(charger_id)
        except NotFound:
            continue
        for c in connectors:
            if c.evse_ref:
                found[connector_key(c.charger_id, c.evse_id, None)] = c.evse_ref
    return found


def _recent_session(s: Session, evse_ids: dict[str, str]) -> RecentSession:
    key = connector_key(s.charger_id, s.evse_id, None)
    return RecentSession(
        request_sent=s.created_at,
        connector_id=evse_ids.get(key, key),
        charging_station_id=s.charger_id,
        session_interval=Interval(start=s.session_start, end=s.session_end),
        charging_interval=Interval(start=s.charging_start, end=s.charging_end),
        energy_consumed=s.energy_kwh,
        cost=None if s.cost is None else f"{s.cost:.2f}",
        currency=s.currency,
        external_session_id=s.id,
        status=s.status.value,
    )


async def _rfid_post(services: Services, body: RfidPost) -> OioiResponse:
    added = 0
    for uid in dict.fromkeys(u.strip().upper() for u in body.rfids if u.strip()):
        try:
            await services.operators.add_token(uid, type="ISO14443", group_id=WHITELIST_GROUP)
        except AlreadyExists:
            continue
        added += 1
    log.info("rfid-post from %s: %d new of %d", body.partner_identifier, added, len(body.rfids))
    return OioiResponse(result=result(0), rfid=RfidProcessed(success=True, processed=added))


def _domain_result(exc: DomainError) -> Result:
    if isinstance(exc, ConnectorNotFound):
        return result(181, str(exc))
    if isinstance(exc, NotFound | SessionNotActive):
        return result(182, str(exc))
    if isinstance(exc, NotAuthorized):
        code = 145 if "Blocked" in str(exc) or "Expired" in str(exc) else 140
        return result(code, str(exc))
    if isinstance(exc, ConnectorOccupied):
        return result(320, str(exc))
    if isinstance(exc, ChargerUnavailable):
        return result(310, str(exc))
    log.warning("OIOI call failed: %s", exc)
    return result(300, str(exc))
