"""``/v1/sessions``: start, read, list and stop charging sessions."""

from __future__ import annotations

from api.rest.framework import ApiError, Call, Endpoint, Reply, endpoint
from api.rest.schemas import (
    Empty,
    SessionCreate,
    SessionEnvelope,
    SessionListEnvelope,
    SessionQuery,
)
from api.rest.views import FROM_WIRE, session_out
from csms.domain.commands import CommandStatus

TAG = "Sessions"

# A charger's answer to a stop that did not work -> HTTP status and stable code.
_STOP_FAILURE = {
    CommandStatus.REJECTED: (409, "stop_rejected"),
    CommandStatus.FAILED: (502, "charger_error"),
    CommandStatus.TIMEOUT: (504, "charger_timeout"),
    CommandStatus.OFFLINE: (409, "charger_offline"),
}


@endpoint(
    "POST",
    "/v1/sessions",
    "Start a session: remote-start the charger for a user",
    tag=TAG,
    body=SessionCreate,
    response=SessionEnvelope,
    status=201,
    errors={
        403: "The user's id token may not charge",
        404: "Unknown connector / EVSE ID",
        409: "Charger offline or connector occupied",
    },
    description="Stores the session as `created`, sends RemoteStartTransaction (1.6) or "
    "RequestStartTransaction (2.0.1) and answers with the charger's verdict: `created` when "
    "the charger accepted (the session becomes `started` when the EV charges, or `cancelled` "
    "when nobody plugs in within the plug-in timeout), `start_failed` when it rejected, "
    "failed or did not answer.",
)
async def create_session(call: Call) -> Reply:
    body: SessionCreate = call.body
    outcome = await call.services.sessions.start_at(body.connector, body.user)
    if outcome.result.accepted:
        message = "remote start accepted by the charger"
    else:
        message = f"remote start failed: {outcome.result.describe()}"
    return Reply(SessionEnvelope(message=message, result=session_out(outcome.session)), 201)


@endpoint(
    "GET",
    "/v1/sessions",
    "List sessions, newest first",
    tag=TAG,
    query=SessionQuery,
    response=SessionListEnvelope,
)
async def list_sessions(call: Call) -> Reply:
    q: SessionQuery = call.query
    status = None
    if q.status is not None:
        status = FROM_WIRE.get(q.status.lower())
        if status is None:
            raise ApiError(400, f"status: unknown session status {q.status!r}", "invalid_input")
    sessions = await call.services.sessions.list(
        status=status,
        charger_id=q.charger,
        id_token=q.user,
        created_from=q.created_at_gte,
        created_to=q.created_at_lte,
        limit=q.paginate_limit,
        offset=(q.paginate_page - 1) * q.paginate_limit,
    )
    result = [session_out(s) for s in sessions]
    return Reply(SessionListEnvelope(message=f"{len(result)} sessions", result=result))


@endpoint(
    "GET",
    "/v1/sessions/{session_id}",
    "Read one session with its meter values and cost",
    tag=TAG,
    response=SessionEnvelope,
    errors={404: "Unknown session"},
)
async def get_session(call: Call) -> Reply:
    session = await call.services.sessions.get(call.path("session_id"))
    samples = await call.services.sessions.samples(session.id)
    return Reply(SessionEnvelope(message="Result", result=session_out(session, samples)))


async def _stop(call: Call) -> Reply:
    session_id = call.path("session_id")
    result = await call.services.sessions.stop_session(session_id)
    if not result.accepted:
        status, code = _STOP_FAILURE[result.status]
        raise ApiError(status, f"stop failed: {result.describe()}", code)
    session = await call.services.sessions.get(session_id)
    message = (
        "stop accepted by the charger; session.ended follows"
        if session.is_open
        else "session was not started yet: cancelled"
    )
    return Reply(SessionEnvelope(message=message, result=session_out(session)))


def _stop_endpoint(method: str, summary: str) -> Endpoint:
    return endpoint(
        method,
        "/v1/sessions/{session_id}/stop",
        summary,
        tag=TAG,
        response=SessionEnvelope,
        query=Empty if method == "GET" else None,
        errors={
            404: "Unknown session",
            409: "Session not active, charger offline, or the charger rejected the stop",
            502: "The charger answered with a CALLERROR",
            504: "The charger did not answer in time",
        },
        description="Sends RemoteStopTransaction / RequestStopTransaction and answers with the "
        "charger's verdict; the session becomes `ended` when the charger reports the stop "
        "(webhook `session.ended`). A session still `created` is cancelled instead.",
    )(_stop)


stop_session = _stop_endpoint("POST", "Stop a session")
stop_session_get = _stop_endpoint("GET", "Stop a session (eDRV compatible GET form)")


ENDPOINTS: list[Endpoint] = [
    create_session,
    list_sessions,
    get_session,
    stop_session,
    stop_session_get,
]
