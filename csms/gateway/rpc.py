"""OCPP-J RPC framing, sans I/O: parse a text frame, validate payloads, encode answers.

The ``ocpp`` package only logs frames it cannot unpack; here every malformed frame becomes the
CALLERROR of the negotiated version (see ADR 0003 for the table), and never embeds the raw frame.
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass
from typing import Any

from csms.gateway.schemas import ValidationError, known_actions, validator

CALL, CALLRESULT, CALLERROR = 2, 3, 4
MAX_ID_LENGTH = 36
UNKNOWN_ID = "-1"
# A \uD800-\uDFFF escape: json.loads turns a lone one into a str no database can store.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class Err(enum.Enum):
    """Version-neutral error kinds; ``wire_code`` spells them for 1.6 or 2.0.1."""

    FORMAT = "format"
    RPC_FRAMEWORK = "rpc_framework"
    PROTOCOL = "protocol"
    MESSAGE_TYPE = "message_type"
    PROPERTY = "property"
    OCCURRENCE = "occurrence"
    TYPE = "type"
    NOT_IMPLEMENTED = "not_implemented"
    NOT_SUPPORTED = "not_supported"
    SECURITY = "security"
    INTERNAL = "internal"
    GENERIC = "generic"


_V16 = {
    Err.FORMAT: "FormationViolation",
    Err.RPC_FRAMEWORK: "FormationViolation",
    Err.PROTOCOL: "ProtocolError",
    Err.MESSAGE_TYPE: "NotSupported",
    Err.PROPERTY: "PropertyConstraintViolation",
    Err.OCCURRENCE: "OccurenceConstraintViolation",
    Err.TYPE: "TypeConstraintViolation",
    Err.NOT_IMPLEMENTED: "NotImplemented",
    Err.NOT_SUPPORTED: "NotSupported",
    Err.SECURITY: "SecurityError",
    Err.INTERNAL: "InternalError",
    Err.GENERIC: "GenericError",
}
_V201 = {
    **_V16,
    Err.FORMAT: "FormatViolation",
    Err.RPC_FRAMEWORK: "RpcFrameworkError",
    Err.PROTOCOL: "RpcFrameworkError",
    Err.MESSAGE_TYPE: "MessageTypeNotSupported",
    Err.OCCURRENCE: "OccurrenceConstraintViolation",
}


def wire_code(version: str, err: Err) -> str:
    return (_V16 if version == "1.6" else _V201)[err]


class RpcError(Exception):
    def __init__(self, err: Err, description: str, message_id: str = UNKNOWN_ID) -> None:
        super().__init__(description)
        self.err = err
        self.description = description[:255]
        self.message_id = message_id


@dataclass(frozen=True, slots=True)
class Call:
    message_id: str
    action: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallResult:
    message_id: str
    payload: Any


@dataclass(frozen=True, slots=True)
class CallError:
    message_id: str
    code: str
    description: str
    details: Any


Frame = Call | CallResult | CallError


def parse(text: str | bytes) -> Frame:
    """Parse one frame; raise :class:`RpcError` carrying the id to answer with."""
    try:
        if isinstance(text, bytes):  # a binary frame: RFC 8259 JSON is UTF-8, nothing else
            text = text.decode("utf-8")
        msg = _DECODER.decode(text)
    except ValueError:  # UnicodeDecodeError is a ValueError too
        raise RpcError(Err.RPC_FRAMEWORK, "frame is not valid JSON") from None
    except RecursionError:  # "[[[[..." nested deeper than the interpreter's stack allows
        raise RpcError(Err.RPC_FRAMEWORK, "frame is not valid JSON: nested too deeply") from None
    if not isinstance(msg, list) or not msg:
        raise RpcError(Err.RPC_FRAMEWORK, "frame is not a non-empty JSON array")
    message_id = _message_id(msg)
    type_id = msg[0]
    if not isinstance(type_id, int) or isinstance(type_id, bool):
        raise RpcError(Err.RPC_FRAMEWORK, "MessageTypeId is not an integer", message_id)
    if type_id == CALL:
        return _call(msg, message_id, text)
    if type_id == CALLRESULT:
        if len(msg) != 3:
            raise RpcError(Err.PROTOCOL, "CALLRESULT must have 3 elements", message_id)
        return CallResult(message_id, msg[2])
    if type_id == CALLERROR:
        if len(msg) != 5:
            raise RpcError(Err.PROTOCOL, "CALLERROR must have 5 elements", message_id)
        return CallError(message_id, str(msg[2]), str(msg[3]), msg[4])
    raise RpcError(Err.MESSAGE_TYPE, f"MessageTypeId {type_id} is not supported", message_id)


def _no_constant(name: str) -> Any:
    """NaN, Infinity and -Infinity: Python's json reads them, RFC 8259 has no such thing."""
    raise ValueError(f"{name} is not JSON")


# One decoder for every frame: ``json.loads(text, parse_constant=...)`` builds a new decoder
# and scanner on each call, about as much work as decoding a MeterValues frame.
_DECODER = json.JSONDecoder(parse_constant=_no_constant)


def _message_id(msg: list[Any]) -> str:
    if len(msg) < 2 or not isinstance(msg[1], str):
        raise RpcError(Err.RPC_FRAMEWORK, "MessageId is missing or not a string")
    if not msg[1] or len(msg[1]) > MAX_ID_LENGTH:
        raise RpcError(Err.RPC_FRAMEWORK, f"MessageId must be 1 to {MAX_ID_LENGTH} characters")
    return str(msg[1])


def _call(msg: list[Any], message_id: str, text: str) -> Call:
    if len(msg) != 4:
        raise RpcError(Err.PROTOCOL, "CALL must have 4 elements", message_id)
    action, payload = msg[2], msg[3]
    if not isinstance(action, str):
        raise RpcError(Err.RPC_FRAMEWORK, "Action is not a string", message_id)
    if not isinstance(payload, dict):
        raise RpcError(Err.FORMAT, "payload is not a JSON object", message_id)
    if _SURROGATE_ESCAPE.search(text) and not _is_unicode(payload):
        raise RpcError(Err.FORMAT, "payload holds an unpaired UTF-16 surrogate escape", message_id)
    return Call(message_id, action, payload)


def _is_unicode(payload: dict[str, Any]) -> bool:
    """False if some key or string holds a lone surrogate (only a \\uD8xx escape makes one)."""
    try:
        json.dumps(payload, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_RULES = {
    "required": Err.OCCURRENCE,
    "minItems": Err.OCCURRENCE,
    "maxItems": Err.OCCURRENCE,
    "type": Err.TYPE,
    "additionalProperties": Err.FORMAT,
}


def validate(version: str, action: str, payload: Any, *, response: bool = False) -> None:
    """Check a payload against the official schema; raise :class:`RpcError` naming the field."""
    check = validator(version, action, response)
    if check is None:
        if action in known_actions(version):
            return
        raise RpcError(Err.NOT_IMPLEMENTED, f"unknown action {action}")
    try:
        check(payload)
    except ValidationError as exc:
        err = _RULES.get(exc.rule or "", Err.PROPERTY)
        raise RpcError(err, exc.message) from None


# One encoder for every frame, as for decoding: ``json.dumps`` with any option set builds a
# new encoder on each call.
_ENCODER = json.JSONEncoder(separators=(",", ":"))


def encode_call(message_id: str, action: str, payload: dict[str, Any]) -> str:
    return _ENCODER.encode([CALL, message_id, action, payload])


def encode_result(message_id: str, payload: dict[str, Any]) -> str:
    return _ENCODER.encode([CALLRESULT, message_id, payload])


def encode_error(version: str, error: RpcError) -> str:
    code = wire_code(version, error.err)
    return _ENCODER.encode([CALLERROR, error.message_id, code, error.description, {}])
