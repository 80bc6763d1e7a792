"""``/v1/chargers``: register and change chargers, read live state, send any OCPP action."""

from __future__ import annotations

from api.rest.framework import ApiError, Call, Endpoint, Reply, endpoint, json_object
from api.rest.schemas import (
    CallEnvelope,
    CallOut,
    ChargerCreate,
    ChargerEnvelope,
    ChargerListEnvelope,
    ChargerPatch,
    ConnectorIn,
    PasswordChangeIn,
    PasswordEnvelope,
    PasswordOut,
)
from api.rest.views import charger_out
from csms.domain.commands import CommandStatus, RawCall
from csms.domain.model import ApiScope
from csms.domain.operators import ConnectorSpec

TAG = "Chargers"
OPERATOR = ApiScope.OPERATOR

_CALL_STATUS = {
    CommandStatus.ACCEPTED: 200,
    CommandStatus.REJECTED: 200,
    CommandStatus.FAILED: 502,
    CommandStatus.TIMEOUT: 504,
    CommandStatus.OFFLINE: 409,
}


def _specs(connectors: list[ConnectorIn] | None) -> list[ConnectorSpec] | None:
    if connectors is None:
        return None
    return [ConnectorSpec(c.evse_id, c.connector_id, c.evse_ref) for c in connectors]


@endpoint(
    "GET", "/v1/chargers", "List chargers", tag=TAG, response=ChargerListEnvelope, scope=OPERATOR
)
async def list_chargers(call: Call) -> Reply:
    found = await call.services.operators.chargers()
    result = [charger_out(c, conns) for c, conns in found]
    return Reply(ChargerListEnvelope(message=f"{len(result)} chargers", result=result))


@endpoint(
    "GET",
    "/v1/chargers/{charger_id}",
    "Read a charger: registration, live status, boot info, connectors",
    tag=TAG,
    response=ChargerEnvelope,
    scope=OPERATOR,
    errors={404: "Unknown charger"},
)
async def get_charger(call: Call) -> Reply:
    charger, connectors = await call.services.operators.charger(call.path("charger_id"))
    return Reply(ChargerEnvelope(message="Result", result=charger_out(charger, connectors)))


@endpoint(
    "POST",
    "/v1/chargers",
    "Register a charger",
    tag=TAG,
    body=ChargerCreate,
    response=ChargerEnvelope,
    status=201,
    scope=OPERATOR,
    errors={409: "The id or an EVSE ID is taken"},
    description="Without `password` (and without `no_password`) a Basic auth password is "
    "generated and returned once in `result.password`; only its salted hash is stored.",
)
async def create_charger(call: Call) -> Reply:
    body: ChargerCreate = call.body
    created = await call.services.operators.add_charger(
        body.id,
        password=body.password,
        generate_password=not body.no_password,
        connectors=_specs(body.connectors) or [],
        registration_status=body.registration_status,
        security_profile=body.security_profile,
        allow_missing_subprotocol=body.allow_missing_subprotocol,
    )
    out = charger_out(created.charger, created.connectors, created.password)
    return Reply(ChargerEnvelope(message="charger registered", result=out), 201)


@endpoint(
    "PATCH",
    "/v1/chargers/{charger_id}",
    "Change a charger's password, registration status, security profile or EVSE IDs",
    tag=TAG,
    body=ChargerPatch,
    response=ChargerEnvelope,
    scope=OPERATOR,
    errors={404: "Unknown charger", 409: "An EVSE ID is taken"},
)
async def patch_charger(call: Call) -> Reply:
    body: ChargerPatch = call.body
    charger_id = call.path("charger_id")
    # null means unchanged: none of these settings can be cleared
    settings = body.model_dump(exclude_none=True, exclude={"password", "connectors"})
    await call.services.operators.update_charger(
        charger_id, password=body.password, connectors=_specs(body.connectors), **settings
    )
    charger, connectors = await call.services.operators.charger(charger_id)
    return Reply(
        ChargerEnvelope(message="charger updated", result=charger_out(charger, connectors))
    )


@endpoint(
    "POST",
    "/v1/chargers/{charger_id}/calls/{action}",
    "Send any CSMS-initiated OCPP action of the charger's version",
    tag=TAG,
    response=CallEnvelope,
    scope=OPERATOR,
    errors={
        404: "Unknown charger",
        409: "Charger offline",
        502: "The charger answered with a CALLERROR",
        504: "The charger did not answer in time",
    },
    # the charger's side of a failed call is a CallEnvelope (ok false) like a successful one
    error_models={409: CallEnvelope, 502: CallEnvelope, 504: CallEnvelope},
    description="The body is the action's payload in OCPP's own camelCase, e.g. "
    '`{"type": "Soft"}` for a 1.6 Reset. It is checked against the official JSON schema of '
    "the charger's OCPP version before it is sent (400 naming the violation otherwise). "
    "`result.payload` is the charger's answer.",
)
async def call_charger(call: Call) -> Reply:
    charger_id, action = call.path("charger_id"), call.path("action")
    await call.services.operators.charger(charger_id)  # 404 for an unknown id
    payload = await json_object(call.request, empty={})
    result = await call.services.bus.send(charger_id, RawCall(action, payload))
    if not result.sent:
        text = f"{action}: {result.error_code}: {result.error_description}"
        raise ApiError(400, text, "invalid_call")
    out = CallOut(
        status=result.status.value,
        payload=result.payload,
        error_code=result.error_code,
        error_description=result.error_description,
    )
    ok = result.status in (CommandStatus.ACCEPTED, CommandStatus.REJECTED)
    message = f"charger answered {action}" if ok else f"{action}: {result.status.value}"
    return Reply(CallEnvelope(ok=ok, message=message, result=out), _CALL_STATUS[result.status])


# A password change the charger did not accept: (HTTP status, code); the old password stays.
_PASSWORD_ERRORS = {
    CommandStatus.REJECTED: (409, "password_rejected"),
    CommandStatus.FAILED: (502, "charger_error"),
    CommandStatus.TIMEOUT: (504, "charger_timeout"),
    CommandStatus.OFFLINE: (409, "charger_offline"),
}


@endpoint(
    "POST",
    "/v1/chargers/{charger_id}/password",
    "Change a charger's Basic auth password over OCPP",
    tag=TAG,
    body=PasswordChangeIn,
    response=PasswordEnvelope,
    scope=OPERATOR,
    errors={
        404: "Unknown charger",
        409: "Charger offline, it rejected the password, or a change is already under way",
        502: "The charger answered with a CALLERROR",
        504: "The charger did not answer in time",
    },
    description="Sends the connected charger a new password (1.6: ChangeConfiguration of "
    "`AuthorizationKey`, hex-encoded; 2.0.1: SetVariables of `SecurityCtrlr.BasicAuthPassword`). "
    "Body `{}` generates one. Only when the charger answers Accepted is the new password's "
    "hash stored: from then on only the new password gets in. Otherwise the old one stays "
    "valid and the answer says why. `result.password` is shown here once and never stored.",
)
async def change_password(call: Call) -> Reply:
    body: PasswordChangeIn = call.body
    change = await call.services.passwords.rotate(call.path("charger_id"), body.password)
    result = change.result
    if not change.stored:
        status, code = _PASSWORD_ERRORS.get(result.status, (409, "charger_unavailable"))
        text = f"password not changed ({result.describe()}): the old password stays valid"
        maybe_taken = result.sent and result.status in (
            CommandStatus.TIMEOUT,
            CommandStatus.OFFLINE,
        )
        if maybe_taken:
            text += "; if the charger took the new one anyway, set it with PATCH"
        raise ApiError(status, text, code, password=change.password if maybe_taken else None)
    out = PasswordOut(
        id=change.charger_id,
        protocol=change.protocol,
        password=change.password,
        charger_answer=result.payload,
    )
    return Reply(PasswordEnvelope(message="password changed", result=out))


ENDPOINTS: list[Endpoint] = [
    list_chargers,
    get_charger,
    create_charger,
    patch_charger,
    call_charger,
    change_password,
]
