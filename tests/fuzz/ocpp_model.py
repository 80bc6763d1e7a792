"""What the fuzz tests send and what they expect back, written apart from the server's code.

``EXAMPLES`` holds one valid payload per charger-initiated action (and a few per transaction
message). The strategies build raw garbage, well-formed frames of the wrong shape, and CALLs
whose payload is an example with a few mutations. :func:`expect` is the oracle: from the frame
alone (the OCPP-J rules of ADR 0003 and the official schemas, checked with ``jsonschema``, not
with the server's fastjsonschema validators) it says whether an answer is due, with which
message id, and which CALLERROR codes are right.
"""

from __future__ import annotations

import decimal
import importlib.resources
import json
import math
import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

import jsonschema
from hypothesis import strategies as st

TS = "2024-05-01T10:00:00Z"
MAX_FRAME_BYTES = 65536  # [ocpp] max_frame_bytes of the test server
MAX_ID = 36

# The messages a charger sends to the CSMS (OCPP 1.6 + security whitepaper; 2.0.1 Part 2).
CHARGER_ACTIONS = {
    "1.6": frozenset(
        {
            "Authorize",
            "BootNotification",
            "DataTransfer",
            "DiagnosticsStatusNotification",
            "FirmwareStatusNotification",
            "Heartbeat",
            "MeterValues",
            "StartTransaction",
            "StatusNotification",
            "StopTransaction",
            "SecurityEventNotification",
            "SignCertificate",
            "SignedFirmwareStatusNotification",
            "LogStatusNotification",
        }
    ),
    "2.0.1": frozenset(
        {
            "Authorize",
            "BootNotification",
            "ClearedChargingLimit",
            "DataTransfer",
            "FirmwareStatusNotification",
            "Get15118EVCertificate",
            "GetCertificateStatus",
            "Heartbeat",
            "LogStatusNotification",
            "MeterValues",
            "NotifyChargingLimit",
            "NotifyCustomerInformation",
            "NotifyDisplayMessages",
            "NotifyEVChargingNeeds",
            "NotifyEVChargingSchedule",
            "NotifyEvent",
            "NotifyMonitoringReport",
            "NotifyReport",
            "PublishFirmwareStatusNotification",
            "ReportChargingProfiles",
            "ReservationStatusUpdate",
            "SecurityEventNotification",
            "SignCertificate",
            "StatusNotification",
            "TransactionEvent",
        }
    ),
}

_SAMPLE16 = {"value": "1500", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
_METER16 = [{"timestamp": TS, "sampledValue": [_SAMPLE16, {"value": "7.2", "unit": "kW"}]}]
_SAMPLE201 = {
    "value": 1500.0,
    "measurand": "Energy.Active.Import.Register",
    "unitOfMeasure": {"unit": "Wh", "multiplier": 0},
}
_METER201 = [{"timestamp": TS, "sampledValue": [_SAMPLE201]}]
_TOKEN201 = {"idToken": "TAG1", "type": "ISO14443"}


def _tx_event(event_type: str, trigger: str, seq: int, state: str) -> dict[str, Any]:
    return {
        "eventType": event_type,
        "timestamp": TS,
        "triggerReason": trigger,
        "seqNo": seq,
        "transactionInfo": {"transactionId": "fuzz-tx-1", "chargingState": state},
        "idToken": _TOKEN201,
        "evse": {"id": 1, "connectorId": 1},
        "meterValue": _METER201,
    }


EXAMPLES: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "1.6": [
        (
            "BootNotification",
            {
                "chargePointVendor": "V",
                "chargePointModel": "M",
                "chargePointSerialNumber": "S1",
                "firmwareVersion": "1.0",
            },
        ),
        ("Heartbeat", {}),
        (
            "StatusNotification",
            {"connectorId": 1, "errorCode": "NoError", "status": "Available", "timestamp": TS},
        ),
        ("Authorize", {"idTag": "TAG1"}),
        (
            "StartTransaction",
            {"connectorId": 1, "idTag": "TAG1", "meterStart": 1000, "timestamp": TS},
        ),
        ("MeterValues", {"connectorId": 1, "transactionId": 1, "meterValue": _METER16}),
        (
            "StopTransaction",
            {
                "transactionId": 1,
                "meterStop": 2000,
                "timestamp": TS,
                "reason": "Local",
                "idTag": "TAG1",
                "transactionData": _METER16,
            },
        ),
        ("DataTransfer", {"vendorId": "X", "messageId": "m", "data": "d"}),
        ("FirmwareStatusNotification", {"status": "Installed"}),
        ("DiagnosticsStatusNotification", {"status": "Uploaded"}),
        ("SecurityEventNotification", {"type": "StartupOfTheDevice", "timestamp": TS}),
        ("SignCertificate", {"csr": "-----BEGIN CERTIFICATE REQUEST-----"}),
        ("LogStatusNotification", {"status": "Uploaded", "requestId": 1}),
        ("SignedFirmwareStatusNotification", {"status": "Installed", "requestId": 1}),
    ],
    "2.0.1": [
        (
            "BootNotification",
            {
                "chargingStation": {
                    "model": "M",
                    "vendorName": "V",
                    "serialNumber": "S1",
                    "firmwareVersion": "1.0",
                    "modem": {"iccid": "1", "imsi": "2"},
                },
                "reason": "PowerUp",
            },
        ),
        ("Heartbeat", {}),
        (
            "StatusNotification",
            {"timestamp": TS, "connectorStatus": "Available", "evseId": 1, "connectorId": 1},
        ),
        ("Authorize", {"idToken": _TOKEN201}),
        ("TransactionEvent", _tx_event("Started", "Authorized", 0, "Charging")),
        ("TransactionEvent", _tx_event("Updated", "MeterValuePeriodic", 1, "Charging")),
        ("TransactionEvent", _tx_event("Ended", "StopAuthorized", 2, "Idle")),
        ("MeterValues", {"evseId": 1, "meterValue": _METER201}),
        (
            "NotifyReport",
            {
                "requestId": 1,
                "generatedAt": TS,
                "seqNo": 0,
                "tbc": False,
                "reportData": [
                    {
                        "component": {"name": "ChargingStation"},
                        "variable": {"name": "Model"},
                        "variableAttribute": [
                            {"type": "Actual", "value": "M", "mutability": "ReadOnly"}
                        ],
                        "variableCharacteristics": {
                            "dataType": "string",
                            "supportsMonitoring": False,
                        },
                    }
                ],
            },
        ),
        (
            "NotifyEvent",
            {
                "generatedAt": TS,
                "seqNo": 0,
                "eventData": [
                    {
                        "eventId": 1,
                        "timestamp": TS,
                        "trigger": "Delta",
                        "actualValue": "Available",
                        "eventNotificationType": "HardWiredNotification",
                        "component": {"name": "Connector", "evse": {"id": 1, "connectorId": 1}},
                        "variable": {"name": "AvailabilityState"},
                    }
                ],
            },
        ),
        ("DataTransfer", {"vendorId": "X", "messageId": "m", "data": {"a": [1, "b"]}}),
        ("FirmwareStatusNotification", {"status": "Installed", "requestId": 1}),
        ("SecurityEventNotification", {"type": "StartupOfTheDevice", "timestamp": TS}),
        ("LogStatusNotification", {"status": "Uploaded", "requestId": 1}),
        ("ReservationStatusUpdate", {"reservationId": 1, "reservationUpdateStatus": "Expired"}),
        (
            "NotifyEVChargingNeeds",
            {"evseId": 1, "chargingNeeds": {"requestedEnergyTransfer": "DC"}},
        ),
    ],
}


# ---------------------------------------------------------------------------------------------
# The oracle


@dataclass(frozen=True, slots=True)
class Expect:
    """What the server must do with one frame."""

    answered: bool
    message_id: str | None = None
    codes: frozenset[str] = frozenset()  # CALLERROR codes that are right
    result: bool = False  # a CALLRESULT is right (validated against the response schema)
    action: str | None = None


NO_ANSWER = Expect(answered=False)

_CODES = {
    "1.6": {
        "framework": "FormationViolation",
        "format": "FormationViolation",
        "protocol": "ProtocolError",
        "type_id": "NotSupported",
        "occurrence": "OccurenceConstraintViolation",
        "property": "PropertyConstraintViolation",
        "type": "TypeConstraintViolation",
    },
    "2.0.1": {
        "framework": "RpcFrameworkError",
        "format": "FormatViolation",
        "protocol": "RpcFrameworkError",
        "type_id": "MessageTypeNotSupported",
        "occurrence": "OccurrenceConstraintViolation",
        "property": "PropertyConstraintViolation",
        "type": "TypeConstraintViolation",
    },
}
_VALIDATOR_KIND = {
    "required": "occurrence",
    "minItems": "occurrence",
    "maxItems": "occurrence",
    "type": "type",
    "additionalProperties": "format",
}


def _error(version: str, message_id: str, *kinds: str) -> Expect:
    codes = frozenset(_CODES[version].get(k, k) for k in kinds)
    return Expect(answered=True, message_id=message_id, codes=codes)


def expect(version: str, frame: str | bytes) -> Expect:
    """The ADR 0003 table, applied to one frame."""
    try:
        text = frame.decode("utf-8") if isinstance(frame, bytes) else frame  # RFC 8259 §8.1
        msg = strict_json(text)
    except (ValueError, RecursionError):
        return _error(version, "-1", "framework")
    if not isinstance(msg, list) or not msg:
        return _error(version, "-1", "framework")
    if len(msg) < 2 or not isinstance(msg[1], str) or not 1 <= len(msg[1]) <= MAX_ID:
        return _error(version, "-1", "framework")
    message_id, type_id = msg[1], msg[0]
    if not isinstance(type_id, int) or isinstance(type_id, bool):
        return _error(version, message_id, "framework")
    if type_id == 2:
        return _expect_call(version, msg, message_id)
    if type_id in (3, 4):
        if len(msg) != (3 if type_id == 3 else 5):
            return _error(version, message_id, "protocol")
        return NO_ANSWER  # an answer to a call we never made: logged and dropped
    return _error(version, message_id, "type_id")


def _expect_call(version: str, msg: list[Any], message_id: str) -> Expect:
    if len(msg) != 4:
        return _error(version, message_id, "protocol")
    action, payload = msg[2], msg[3]
    if not isinstance(action, str):
        return _error(version, message_id, "framework")
    if not isinstance(payload, dict) or _has_lone_surrogate(payload):
        return _error(version, message_id, "format")
    if request_schema(version, action) is None:
        return _error(version, message_id, "NotImplemented")
    if action not in CHARGER_ACTIONS[version]:
        return _error(version, message_id, "NotSupported")
    kinds = schema_error_kinds(version, action, payload)
    doubtful, bad = _value_checks(version, action, payload)
    if kinds:  # the validator may find a value check's violation first
        return _error(version, message_id, *kinds, *(["property"] if doubtful or bad else []))
    if bad:
        return _error(version, message_id, "property")
    codes = frozenset({_CODES[version]["property"]}) if doubtful else frozenset()
    return Expect(answered=True, message_id=message_id, codes=codes, result=True, action=action)


@cache
def request_schema(version: str, action: str) -> dict[str, Any] | None:
    return _schema(version, action, response=False)


@cache
def response_schema(version: str, action: str) -> dict[str, Any] | None:
    return _schema(version, action, response=True)


def _schema(version: str, action: str, *, response: bool) -> dict[str, Any] | None:
    folder = "v16/schemas" if version == "1.6" else "v201/schemas"
    suffix = (
        ("Response" if response else "")
        if version == "1.6"
        else ("Response" if response else "Request")
    )
    path = importlib.resources.files("ocpp") / folder / f"{action}{suffix}.json"
    if not re.fullmatch(r"[A-Za-z0-9]+", action) or not path.is_file():
        return None
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema


def schema_error_kinds(version: str, action: str, payload: Any) -> set[str]:
    """The kinds of every violation ``jsonschema`` finds (formats aside: see _value_checks)."""
    schema = request_schema(version, action)
    assert schema is not None
    cls = jsonschema.validators.validator_for(schema)
    kinds = set()
    for error in cls(schema).iter_errors(payload):
        if _celsius_erratum(error):
            continue
        kinds.add(_VALIDATOR_KIND.get(str(error.validator), "property"))
    return kinds


def _celsius_erratum(error: jsonschema.ValidationError) -> bool:
    """1.6 errata: "Celsius" and "Celcius" are both accepted as a unit."""
    return error.validator == "enum" and error.instance in ("Celsius", "Celcius")


_RFC3339 = re.compile(r"\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)", re.ASCII)
_DATE_START = re.compile(r"\d{4}-", re.ASCII)


def _value_checks(version: str, action: str, payload: Any) -> tuple[bool, bool]:
    """(doubtful, bad) for what a schema's types do not pin down.

    - date-time: RFC 3339 and a real instant is fine; not even starting like a date is bad;
      anything between may go either way;
    - integer: OCPP's is 32-bit (the 1.6 Wh registers meterStart/meterStop: 64-bit);
    - number: must be finite (json reads 1e999 as infinity);
    - a 1.6 sampledValue must be a finite decimal unless it is SignedData;
    - a huge sampledValue (in 2.0.1: scaled by its multiplier) may be refused.
    """
    doubtful = bad = False
    schema = request_schema(version, action)
    assert schema is not None
    for name, sub, value in _typed_values(schema, schema, payload):
        kind = sub.get("type")
        if sub.get("format") == "date-time" and isinstance(value, str):
            if _RFC3339.fullmatch(value) and _parses(value):
                continue
            if _DATE_START.match(value):
                doubtful = True
            else:
                bad = True
        elif kind == "integer" and (_is_int(value) or _integral_float(value)):
            wide = version == "1.6" and name in ("meterStart", "meterStop")
            bits = 63 if wide else 31
            bad = bad or not -(2**bits) <= value < 2**bits
        elif kind == "number" and isinstance(value, int | float) and not isinstance(value, bool):
            bad = bad or abs(value) > sys.float_info.max
    if version == "1.6":
        for sampled in _sampled_values_16(payload):
            if sampled.get("format") == "SignedData" or not isinstance(sampled.get("value"), str):
                continue
            try:
                number = float(sampled["value"])
            except ValueError:
                number = math.nan
            bad = bad or not math.isfinite(number)
            doubtful = doubtful or abs(number) > 1e12  # readings have a sane range
    else:
        doubtful = doubtful or _scaled_overflow(payload)
    return doubtful, bad


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _integral_float(value: Any) -> bool:
    """Draft 6 (2.0.1) counts 1.0 as an integer."""
    return isinstance(value, float) and value.is_integer()


def _scaled_overflow(payload: Any) -> bool:
    """A 2.0.1 sampledValue whose value x 10^multiplier is past any sane reading, or tiny."""
    with decimal.localcontext() as ctx:
        ctx.Emax, ctx.Emin = decimal.MAX_EMAX, decimal.MIN_EMIN
        for item in _walk(payload):
            if not isinstance(item, dict) or not isinstance(item.get("unitOfMeasure"), dict):
                continue
            value, mult = item.get("value"), item["unitOfMeasure"].get("multiplier", 0)
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if number and _is_int(mult) and abs(mult) > 400:
                return True
            if number and _is_int(mult) and abs(value) <= sys.float_info.max:
                scaled = decimal.Decimal(repr(value)).scaleb(mult) * 1000
                if abs(scaled) > decimal.Decimal("1e15") or (
                    value and abs(scaled) < decimal.Decimal(sys.float_info.min)
                ):
                    return True
    return False


def _parses(value: str) -> bool:
    """A real instant that has a UTC time (RFC 3339 allows a lower-case t and z)."""
    try:
        datetime.fromisoformat(value.upper()).astimezone(UTC)
    except (ValueError, OverflowError):
        return False
    return True


def _typed_values(
    root: dict[str, Any], schema: dict[str, Any], value: Any, name: str = ""
) -> list[tuple[str, dict[str, Any], Any]]:
    """(property name, schema, value) for every value in ``value`` the schema describes."""
    if "$ref" in schema:
        schema = root["definitions"][schema["$ref"].rsplit("/", 1)[-1]]
    found = [(name, schema, value)]
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key, item in value.items():
            if key in props:
                found += _typed_values(root, props[key], item, key)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            found += _typed_values(root, schema["items"], item, name)
    return found


def _sampled_values_16(payload: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for key in ("meterValue", "transactionData"):
        for mv in _list(payload.get(key)):
            if isinstance(mv, dict):
                out += [sv for sv in _list(mv.get("sampledValue")) if isinstance(sv, dict)]
    return out


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _walk(value: Any) -> list[Any]:
    stack, out = [value], []
    while stack:
        item = stack.pop()
        out.append(item)
        if isinstance(item, dict):
            stack += [*item.keys(), *item.values()]
        elif isinstance(item, list):
            stack += item
    return out


def _has_lone_surrogate(value: Any) -> bool:
    return any(
        isinstance(v, str) and any("\ud800" <= c <= "\udfff" for c in v) for v in _walk(value)
    )


def strict_json(text: str) -> Any:
    """Parse an answer as RFC 8259 JSON: NaN and Infinity are not JSON."""

    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


# ---------------------------------------------------------------------------------------------
# Strategies

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
tricky_strings = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "\ud800",  # a lone surrogate: valid JSON escape, not Unicode
        "a\udfffb",
        "\U0001f50c\u26a1",
        "\u202e\u0000\ufeff",
        "e\u0301" * 10,
        "2024-02-30T00:00:00Z",
        "2024-01-01T24:00:00Z",
        "2024-12-31T23:59:60Z",
        "2024-01-01T00:00:00+14:00",
        "2024-01-01T00:00:00.123456789Z",
        "2024-01-01t00:00:00z",
        "2024-01-01",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59-23:59",
        "NaN",
        "-Infinity",
        "1e999",
        "0x10",
        "1_000",
        "Available",
        "Accepted",
    ]
)
huge_strings = st.builds(
    lambda char, n: char * n,
    st.sampled_from(["x", "\u00e9", "\U0001f600"]),
    st.integers(256, 12000),
)
message_ids = st.one_of(
    st.text(min_size=1, max_size=MAX_ID),
    st.sampled_from(["-1", "0", " ", "\u0000", "x" * 36, "\U0001f600" * 36]),
)


def bad_message_ids() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.just(""),
        st.text(min_size=MAX_ID + 1, max_size=60),
        json_scalars.filter(lambda v: not isinstance(v, str)),
        st.lists(st.integers(), max_size=2),
    )


def encode(value: Any, ascii_only: bool = True) -> str:
    """JSON text as a charger could send it; lone surrogates always go as escapes."""
    text = json.dumps(value, ensure_ascii=ascii_only)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate cannot travel raw in a text frame
        text = json.dumps(value)
    return text


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path of every node in a JSON value, the root included."""
    out = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out += _paths(item, (*prefix, index))
    return out


def _replace_at(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replace_at(value[head], rest, new)}
    return [*value[:head], _replace_at(value[head], rest, new), *value[head + 1 :]]


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


@st.composite
def mutated(draw: st.DrawFn, value: Any) -> Any:
    """``value`` with one mutation at a node chosen uniformly: deep fields get hit too."""
    path = draw(st.sampled_from(_paths(value)))
    node = _get(value, path)
    if isinstance(node, dict) and node:
        op = draw(st.sampled_from(["delete", "extra", "rename", "replace"]))
        key = draw(st.sampled_from(sorted(node)))
        out = dict(node)
        if op == "delete":
            del out[key]
        elif op == "extra":
            out[draw(st.text(max_size=12))] = draw(json_values)
        elif op == "rename":
            out[draw(st.text(max_size=12))] = out.pop(key)
        else:
            out = draw(json_values)
    elif isinstance(node, list) and node:
        op = draw(st.sampled_from(["empty", "repeat", "append", "replace"]))
        if op == "empty":
            out = []
        elif op == "repeat":
            out = node * draw(st.integers(2, 40))
        elif op == "append":
            out = [*node, draw(json_values)]
        else:
            out = draw(json_values)
    else:
        out = draw(_replacement(node))
    return _replace_at(value, path, out)


def _replacement(value: Any) -> st.SearchStrategy[Any]:
    """Something else where ``value`` was: same type with odd contents, or another type."""
    same: st.SearchStrategy[Any]
    if isinstance(value, bool):
        same = st.booleans()
    elif isinstance(value, int):
        same = st.one_of(
            st.integers(-5, 5),
            st.sampled_from([2**31 - 1, 2**31, -(2**31) - 1, 2**63 - 1, 2**63, -(2**64), 10**30]),
            st.integers(),
        )
    elif isinstance(value, float):
        same = st.one_of(
            st.floats(), st.sampled_from([0.0, -0.0, 1e308, -1e308, 5e-324, 1e400, 10**30])
        )
    elif isinstance(value, str):
        same = st.one_of(st.text(max_size=40), tricky_strings, huge_strings)
    else:
        same = json_values
    return st.one_of(same, same, json_values)


@st.composite
def mutated_call(draw: st.DrawFn, version: str) -> str:
    """A CALL for a real action whose payload is a valid example with 0 to 3 mutations."""
    action, payload = draw(st.sampled_from(EXAMPLES[version]))
    for _ in range(draw(st.integers(0, 3))):
        payload = draw(mutated(payload))
    message_id = draw(message_ids)
    return encode([2, message_id, action, payload], ascii_only=draw(st.booleans()))


@st.composite
def wrong_shape(draw: st.DrawFn, version: str) -> str:
    """Well-formed JSON arrays that are not quite OCPP-J frames."""
    action, payload = draw(st.sampled_from(EXAMPLES[version]))
    good_id = draw(message_ids)
    kind = draw(st.integers(0, 9))
    if kind == 0:  # a bad message id
        frame: Any = [2, draw(bad_message_ids()), action, payload]
    elif kind == 1:  # a MessageTypeId that is not an integer, or an unknown one
        frame = [draw(json_scalars | st.integers(-3, 9)), good_id, action, payload]
    elif kind == 2:  # too few or too many elements
        base = [draw(st.sampled_from([2, 3, 4])), good_id, action, payload, {}, "x"]
        frame = base[: draw(st.integers(1, 6))]
    elif kind == 3:  # action not a string or not an action
        frame = [2, good_id, draw(json_values | st.text(max_size=40)), payload]
    elif kind == 4:  # a payload that is not an object
        frame = [2, good_id, action, draw(json_values.filter(lambda v: not isinstance(v, dict)))]
    elif kind == 5:  # an action of the version that only the CSMS sends, or of the other one
        other = "2.0.1" if version == "1.6" else "1.6"
        names = sorted(CHARGER_ACTIONS[other] | {"RemoteStartTransaction", "ClearCache", "Reset"})
        frame = [2, good_id, draw(st.sampled_from(names)), payload]
    elif kind == 6:  # an answer to a call we never made
        frame = [3, good_id, draw(json_values)]
    elif kind == 7:
        frame = [
            4,
            good_id,
            draw(st.text(max_size=30)),
            draw(st.text(max_size=30)),
            draw(json_values),
        ]
    elif kind == 8:  # the answer's shapes with junk
        frame = [draw(st.sampled_from([3, 4])), good_id, *draw(st.lists(json_values, max_size=4))]
    else:  # anything at all in an array
        frame = draw(st.lists(json_values, max_size=6))
    return encode(frame, ascii_only=draw(st.booleans()))


@st.composite
def garbage(draw: st.DrawFn) -> str | bytes:
    """Frames that are not JSON arrays: text, bytes, JSON scalars and objects, deep nesting."""
    kind = draw(st.integers(0, 6))
    if kind == 0:
        return draw(st.text(max_size=200))
    if kind == 1:
        return draw(st.binary(max_size=200))
    if kind == 2:
        return encode(draw(json_values))
    if kind == 3:  # truncated or spliced JSON of a real frame
        text = encode([2, "id", "Heartbeat", {}])
        cut = draw(st.integers(0, len(text)))
        return text[:cut] + draw(st.text(max_size=5))
    if kind == 4:  # nesting deep enough to exhaust a recursive parser
        depth = draw(st.sampled_from([100, 1000, 5000, 30000]))
        return draw(st.sampled_from(["[", '{"a":'])) * depth
    if kind == 5:
        depth = draw(st.sampled_from([1000, 30000]))
        return "[" * depth + "]" * depth
    return draw(st.sampled_from(["NaN", "Infinity", "[NaN]", "1" * 5000, "[2]", '[2,"a"]', "null"]))


def fits(frame: str | bytes) -> bool:
    data = frame.encode("utf-8", "surrogatepass") if isinstance(frame, str) else frame
    return len(data) <= MAX_FRAME_BYTES
