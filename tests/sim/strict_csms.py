"""A minimal *strict* OCPP-J CSMS for the simulator's tests: it checks every frame it gets.

Chargers connect to ``ws://127.0.0.1:<port>/ocpp/<charger id>`` with subprotocol ``ocpp1.6`` or
``ocpp2.0.1`` (anything else is refused in the handshake). For each frame it checks:

* framing: a text frame holding a JSON array (``NaN``/``Infinity`` are not JSON) shaped as CALL
  ``[2, id, action, payload]``, CALLRESULT ``[3, id, payload]`` or CALLERROR
  ``[4, id, code, description, details]``; the message id a string of 1 to 36 characters, never
  reused by a CALL on the connection; answers only to calls we made; CALLERROR codes from the
  version's table (2.0.1: description at most 255 characters);
* sequence and direction: a charger's first CALL is BootNotification (later connections need
  not boot again), and its actions are ones a charger may send in that version;
* payloads: every CALL and every CALLRESULT against the OFFICIAL JSON schemas shipped in the
  ``ocpp`` package, with the validator class each schema's ``$schema`` names (draft-04 for 1.6,
  draft-06 for 2.0.1) and format checking on. Our own requests and answers are checked the same
  way, so this fixture cannot drift from the schemas unnoticed;
* timestamps, with :func:`check_timestamp`: RFC 3339 ``date-time`` (section 5.6), in UTC (``Z``
  or ``+00:00``), and for 2.0.1 at most 3 fractional digits (OCPP 2.0.1 part 2, dateTime).
  UTC is the issue's rule for both versions: 1.6 only recommends UTC (section 3.14).

Where timestamps are: the official schemas declare every date-time property with ``"format":
"date-time"`` (``test_strict_csms`` checks that no time-like string property lacks it), so we
replace the format checker's ``date-time`` rule with ours. The validator then applies it exactly
where a schema says a date-time is, through ``$ref``, nesting and arrays, with no key-name guessing.

A problem is recorded in :attr:`StrictCsms.violations` (charger id, version, action, reason),
never raised, and a bad CALL gets a CALLERROR so the charger sees it. The codes are those of the
real CSMS (``docs/adr/0003-rpc-error-mapping.md``), so a scenario's ``expect_error`` means the
same against both. Schema errors go by the first (``best_match``) error's keyword: ``required``,
``minItems``, ``maxItems`` -> Occur(r)enceConstraintViolation; ``type`` -> TypeConstraintViolation;
``additionalProperties`` -> FormatViolation (1.6: FormationViolation); any other invalid value,
timestamps included -> PropertyConstraintViolation. An unreadable frame (not JSON, not an array,
no readable id) is answered with id ``"-1"`` as OCPP-J 2.0.1 section 4.2.3 says, code
RpcFrameworkError (1.6 has none: FormationViolation, "not conform the PDU structure"). A reused
CALL id gets that code too (our addition to the ADR). CALLERRORs with a bad code are only recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import re
import ssl
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from http import HTTPStatus
from pathlib import Path
from typing import Any, Literal

import jsonschema  # type: ignore[import-untyped]
import ocpp
from jsonschema.exceptions import best_match  # type: ignore[import-untyped]
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

Version = Literal["1.6", "2.0.1"]
Payload = dict[str, Any]

SUBPROTOCOLS: dict[str, Version] = {"ocpp1.6": "1.6", "ocpp2.0.1": "2.0.1"}
SCHEMA_DIRS: dict[Version, Path] = {
    "1.6": Path(ocpp.__file__).parent / "v16" / "schemas",
    "2.0.1": Path(ocpp.__file__).parent / "v201" / "schemas",
}
# What a charger may send (the other actions are the CSMS's to send).
# fmt: off
CHARGER_ACTIONS: dict[Version, frozenset[str]] = {
    "1.6": frozenset([
        "Authorize", "BootNotification", "DataTransfer", "DiagnosticsStatusNotification",
        "FirmwareStatusNotification", "Heartbeat", "MeterValues", "StartTransaction",
        "StatusNotification", "StopTransaction", "LogStatusNotification",
        "SecurityEventNotification", "SignCertificate", "SignedFirmwareStatusNotification",
    ]),
    "2.0.1": frozenset([
        "Authorize", "BootNotification", "ClearedChargingLimit", "DataTransfer",
        "FirmwareStatusNotification", "Get15118EVCertificate", "GetCertificateStatus",
        "Heartbeat", "LogStatusNotification", "MeterValues", "NotifyChargingLimit",
        "NotifyCustomerInformation", "NotifyDisplayMessages", "NotifyEVChargingNeeds",
        "NotifyEVChargingSchedule", "NotifyEvent", "NotifyMonitoringReport", "NotifyReport",
        "PublishFirmwareStatusNotification", "ReportChargingProfiles", "ReservationStatusUpdate",
        "SecurityEventNotification", "SignCertificate", "StatusNotification", "TransactionEvent",
    ]),
}
# fmt: on
# CALLERROR codes by kind of problem, as in docs/adr/0003-rpc-error-mapping.md (the real CSMS).
_CODES: dict[Version, dict[str, str]] = {
    "1.6": {
        "frame": "FormationViolation",
        "protocol": "ProtocolError",
        "message_type": "NotSupported",
        "format": "FormationViolation",
        "occurrence": "OccurenceConstraintViolation",
        "type": "TypeConstraintViolation",
        "property": "PropertyConstraintViolation",
    },
    "2.0.1": {
        "frame": "RpcFrameworkError",
        "protocol": "RpcFrameworkError",
        "message_type": "MessageTypeNotSupported",
        "format": "FormatViolation",
        "occurrence": "OccurrenceConstraintViolation",
        "type": "TypeConstraintViolation",
        "property": "PropertyConstraintViolation",
    },
}
_KIND_OF_KEYWORD = {
    "required": "occurrence",
    "minItems": "occurrence",
    "maxItems": "occurrence",
    "type": "type",
    "additionalProperties": "format",
}
# The RPC framework error codes: OCPP-J 1.6 section 4.2.3, OCPP 2.0.1 part 4 section 4.3.
# fmt: off
ERROR_CODES: dict[Version, frozenset[str]] = {
    "1.6": frozenset([
        "NotImplemented", "NotSupported", "InternalError", "ProtocolError", "SecurityError",
        "FormationViolation", "PropertyConstraintViolation", "OccurenceConstraintViolation",
        "TypeConstraintViolation", "GenericError",
    ]),
    "2.0.1": frozenset([
        "FormatViolation", "GenericError", "InternalError", "MessageTypeNotSupported",
        "NotImplemented", "NotSupported", "OccurrenceConstraintViolation",
        "PropertyConstraintViolation", "ProtocolError", "RpcFrameworkError", "SecurityError",
        "TypeConstraintViolation",
    ]),
}
# fmt: on
_SHAPES = {
    2: (4, "[2, id, action, payload]"),
    3: (3, "[3, id, payload]"),
    4: (5, "[4, id, code, description, details]"),
}
_DATE_TIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})"
)


def check_timestamp(value: str, *, max_fraction_digits: int | None) -> None:
    """Raise ``ValueError`` saying why ``value`` is not an RFC 3339 UTC date-time we accept."""
    match = _DATE_TIME.fullmatch(value)
    if match is None:
        raise ValueError(f"{value!r} is not an RFC 3339 date-time")
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    if second > 60:  # 60 is a leap second
        raise ValueError(f"{value!r}: second {second} is out of range")
    datetime(year, month, day, hour, minute, min(second, 59))  # a real date and time of day
    if match[8] not in ("Z", "z", "+00:00"):
        raise ValueError(f"{value!r}: offset {match[8]} is not UTC (Z or +00:00)")
    digits = len(match[7] or "")
    if max_fraction_digits is not None and digits > max_fraction_digits:
        raise ValueError(f"{value!r}: {digits} fractional digits, at most {max_fraction_digits}")


def _format_checker(version: Version) -> Any:
    checker = jsonschema.FormatChecker()
    digits = 3 if version == "2.0.1" else None

    def date_time(value: object) -> bool:
        if isinstance(value, str):
            check_timestamp(value, max_fraction_digits=digits)
        return True

    checker.checks("date-time", raises=ValueError)(date_time)
    return checker


@functools.cache
def schema(version: Version, action: str, kind: Literal["request", "response"]) -> Any:
    """The official schema's validator for ``action``'s request or response; None if none."""
    suffix = "Response" if kind == "response" else {"1.6": "", "2.0.1": "Request"}[version]
    path = SCHEMA_DIRS[version] / f"{action}{suffix}.json"
    if not re.fullmatch(r"[A-Za-z0-9]+", action) or not path.is_file():
        return None
    document = json.loads(path.read_text(encoding="utf-8-sig"), parse_float=Decimal)
    cls = jsonschema.validators.validator_for(document)  # honours "$schema"
    cls.check_schema(document)
    return cls(document, format_checker=_format_checker(version))


def _exact(payload: Any) -> Any:
    """``payload`` as it is on the wire, numbers as Decimal so ``multipleOf`` is exact."""
    return json.loads(json.dumps(payload), parse_float=Decimal)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


@dataclass(frozen=True, slots=True)
class Received:
    """A CALL from the charger and our answer (None: we answered a CALLERROR)."""

    action: str
    payload: Payload
    answer: Payload | None


@dataclass(frozen=True, slots=True)
class Answered:
    """The charger's answer to one of our calls (None: a CALLERROR), and where it came in
    among the charger's own CALLs: ``after`` of them had arrived before it."""

    action: str
    payload: Payload | None
    after: int


class ChargerCallError(Exception):
    """The charger answered one of our calls with a CALLERROR."""

    def __init__(self, code: str, description: str, details: Any) -> None:
        super().__init__(f"{code}: {description}")
        self.code, self.description, self.details = code, description, details


@dataclass(eq=False)
class _Connection:
    charger_id: str
    version: Version
    ws: ServerConnection
    call_ids: set[str] = field(default_factory=set)
    pending: dict[str, tuple[str, asyncio.Future[Payload]]] = field(default_factory=dict)


class StrictCsms:
    """Answers chargers like a permissive CSMS, but records every rule they break."""

    def __init__(
        self,
        *,
        boot_interval: int = 300,
        boot_statuses: Sequence[str] = (),
        silent_on: frozenset[str] = frozenset(),
    ) -> None:
        self.port = 0
        # BootNotification answers in turn (e.g. Pending first), then Accepted; and actions the
        # CSMS never answers (a lost answer every time).
        self._boot_statuses = list(boot_statuses)
        self._silent_on = silent_on
        self.violations: list[str] = []
        # What each charger showed in its handshake: the Authorization header and, over mutual
        # TLS, its certificate's common name.
        self.handshakes: dict[str, Handshake] = {}
        self._boot_interval = boot_interval
        self._log: dict[str, list[Received]] = {}
        self._answers: dict[str, list[Answered]] = {}
        self._connections: dict[str, _Connection] = {}
        self._changed = asyncio.Condition()
        self._last_transaction_id = 0
        self._booted: set[str] = set()

    def received(self, charger_id: str) -> list[Received]:
        """Every CALL the charger sent, in order."""
        return list(self._log.get(charger_id, []))

    def answered(self, charger_id: str) -> list[Answered]:
        """Every answer the charger gave to our calls, in order, placed among :meth:`received`:
        frames are handled in the order they arrive, so this is the order on the wire."""
        return list(self._answers.get(charger_id, []))

    async def wait_connected(self, charger_id: str, timeout: float = 10.0) -> None:
        """Return once ``charger_id`` is connected (TimeoutError after ``timeout`` seconds)."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: charger_id in self._connections)

    async def wait_for(
        self,
        charger_id: str,
        action: str,
        where: Callable[[Payload], bool] = lambda payload: True,
        timeout: float = 10.0,
    ) -> Received:
        """The first ``action`` CALL matching ``where`` (already answered), waiting if need be."""

        def found() -> Received | None:
            return next(
                (r for r in self.received(charger_id) if r.action == action and where(r.payload)),
                None,
            )

        async with asyncio.timeout(timeout), self._changed:
            received = await self._changed.wait_for(found)
        assert received is not None
        return received

    async def call(
        self, charger_id: str, action: str, payload: Payload, timeout: float = 10.0
    ) -> Payload:
        """Send a CALL to a connected charger; its CALLRESULT payload or :class:`ChargerCallError`."""
        conn = self._connections.get(charger_id)
        if conn is None:
            raise LookupError(f"{charger_id} is not connected")
        self._validate(conn, action, "request", payload, "our CALL")
        message_id = str(uuid.uuid4())
        future: asyncio.Future[Payload] = asyncio.get_running_loop().create_future()
        conn.pending[message_id] = (action, future)
        try:
            await conn.ws.send(json.dumps([2, message_id, action, payload]))
            async with asyncio.timeout(timeout):
                return await future
        finally:
            conn.pending.pop(message_id, None)

    # -- the connection ---------------------------------------------------------------------

    async def serve(self, ws: ServerConnection) -> None:
        """The websockets handler: one charger connection, frame by frame, answers in order."""
        assert ws.request is not None and ws.subprotocol is not None
        conn = _Connection(ws.request.path.removeprefix("/ocpp/"), SUBPROTOCOLS[ws.subprotocol], ws)
        self._connections[conn.charger_id] = conn
        await self._notify()
        try:
            async for raw in ws:
                reply = self._on_frame(conn, raw)
                if reply is not None:
                    await ws.send(json.dumps(reply))
                await self._notify()
        except ConnectionClosed:
            pass
        finally:
            if self._connections.get(conn.charger_id) is conn:
                del self._connections[conn.charger_id]
            for _, future in conn.pending.values():
                if not future.done():
                    future.set_exception(ConnectionError(f"{conn.charger_id} disconnected"))

    def _on_frame(self, conn: _Connection, raw: str | bytes) -> list[Any] | None:
        if isinstance(raw, bytes):
            self._violate(conn, "-", "a binary frame; OCPP-J uses text frames")
            raw = raw.decode(errors="replace")
        try:
            frame = _parse(conn, raw)
        except _Refused as refused:
            self._violate(conn, "-", f"{refused}: {raw[:200]!r}")
            code = _CODES[conn.version][refused.kind]
            return [4, refused.message_id, code, str(refused)[:255], {}]
        if frame[0] == 2:
            conn.call_ids.add(frame[1])
            return self._on_call(conn, frame[1], frame[2], frame[3])
        if frame[0] == 4 and (problem := _error_problem(conn.version, frame)) is not None:
            self._violate(conn, "-", f"{problem}: {raw[:200]!r}")
        self._on_answer(conn, frame)
        return None

    def _on_call(
        self, conn: _Connection, message_id: str, action: str, payload: Any
    ) -> list[Any] | None:
        code = self._refusal(conn, action, payload)
        if code is None and action in self._silent_on:
            self._record(conn, action, payload, None)
            return None
        answer = None if code else self._answer(conn, action, payload)
        self._record(conn, action, payload, answer)
        if code is not None:
            return [4, message_id, code, f"{action} refused: see the CSMS's violations", {}]
        if answer is None:
            return [4, message_id, "NotSupported", f"{action} is not supported here", {}]
        self._validate(conn, action, "response", answer, "our CALLRESULT")
        return [3, message_id, answer]

    def _refusal(self, conn: _Connection, action: str, payload: Any) -> str | None:
        """The CALLERROR code for a CALL that breaks a rule (recorded); None if it breaks none."""
        if action not in CHARGER_ACTIONS[conn.version]:
            self._violate(conn, action, f"not an action a {conn.version} charger sends")
            known = schema(conn.version, action, "request") is not None
            return "NotSupported" if known else "NotImplemented"
        code = self._validate(conn, action, "request", payload, "CALL")
        if code is None and action != "BootNotification" and conn.charger_id not in self._booted:
            self._violate(conn, action, "sent before an accepted BootNotification")
            return "SecurityError"
        return code

    def _answer(self, conn: _Connection, action: str, payload: Payload) -> Payload | None:
        """Accept everything; None for an action whose answer needs more than we know."""
        accepted = {"idTagInfo" if conn.version == "1.6" else "idTokenInfo": {"status": "Accepted"}}
        if action == "BootNotification":
            status = self._boot_statuses.pop(0) if self._boot_statuses else "Accepted"
            if status == "Accepted":
                self._booted.add(conn.charger_id)
            interval = self._boot_interval if status == "Accepted" else 1
            return {"status": status, "currentTime": _now(), "interval": interval}
        if action == "Heartbeat":
            return {"currentTime": _now()}
        if action == "Authorize":
            return accepted
        if action == "StartTransaction":
            self._last_transaction_id += 1
            return {"transactionId": self._last_transaction_id, **accepted}
        if action in ("StopTransaction", "TransactionEvent"):
            return accepted if {"idTag", "idToken"} & payload.keys() else {}
        if action == "DataTransfer":
            return {"status": "Accepted"}
        response = schema(conn.version, action, "response")
        return None if response is None or response.schema.get("required") else {}

    def _on_answer(self, conn: _Connection, frame: list[Any]) -> None:
        kind, message_id = frame[0], frame[1]
        entry = conn.pending.get(message_id)
        if entry is None:
            self._violate(conn, "-", f"an answer to no call of ours: {json.dumps(frame)[:200]}")
            return
        action, future = entry
        after = len(self._log.get(conn.charger_id, []))
        if kind == 3:
            self._validate(conn, action, "response", frame[2], "CALLRESULT")
            outcome: Payload | Exception = frame[2]
            answer = Answered(action, frame[2], after)
        else:
            outcome = ChargerCallError(frame[2], frame[3], frame[4])
            answer = Answered(action, None, after)
        self._answers.setdefault(conn.charger_id, []).append(answer)
        if future.done():
            return
        if isinstance(outcome, Exception):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)

    # -- checks and records -----------------------------------------------------------------

    def _validate(
        self,
        conn: _Connection,
        action: str,
        kind: Literal["request", "response"],
        payload: Any,
        what: str,
    ) -> str | None:
        """Record every schema error; the CALLERROR code for the first, None when valid."""
        validator = schema(conn.version, action, kind)
        if validator is None:
            self._violate(conn, action, f"{what}: no official {kind} schema for {action}")
            return "NotImplemented"
        errors = list(validator.iter_errors(_exact(payload)))
        for error in errors:
            reason = error.message if error.cause is None else error.cause  # ours say more
            self._violate(conn, action, f"{what}: {error.json_path}: {reason}")
        if not errors:
            return None
        return _CODES[conn.version][_KIND_OF_KEYWORD.get(best_match(errors).validator, "property")]

    def _violate(self, conn: _Connection, action: str, reason: str) -> None:
        self.violations.append(f"{conn.charger_id} ({conn.version}) {action}: {reason}")

    def _record(self, conn: _Connection, action: str, payload: Any, answer: Payload | None) -> None:
        payload = payload if isinstance(payload, dict) else {"<not an object>": payload}
        self._log.setdefault(conn.charger_id, []).append(Received(action, payload, answer))

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()


class _Refused(Exception):
    """A malformed frame: the kind of problem (a key of ``_CODES``) and the id to answer."""

    def __init__(self, kind: str, problem: str, message_id: str = "-1") -> None:
        super().__init__(problem)
        self.kind, self.message_id = kind, message_id


def _parse(conn: _Connection, raw: str) -> list[Any]:
    """The frame as a JSON array of the right shape, or :class:`_Refused` (ADR 0003's order)."""
    try:
        frame = json.loads(raw, parse_constant=_reject_constant)
    except ValueError as exc:
        raise _Refused("frame", f"not valid JSON ({exc})") from None
    if not isinstance(frame, list) or not frame:
        raise _Refused("frame", "not a non-empty JSON array")
    if len(frame) < 2 or not isinstance(frame[1], str) or not 0 < len(frame[1]) <= 36:
        raise _Refused("frame", "the message id is not a string of 1 to 36 characters")
    kind, message_id = frame[0], frame[1]
    if type(kind) is not int:
        raise _Refused("frame", f"message type {kind!r} is not an integer", message_id)
    if kind not in _SHAPES:
        raise _Refused("message_type", f"unknown message type {kind}", message_id)
    size, shape = _SHAPES[kind]
    if len(frame) != size:
        raise _Refused("protocol", f"{len(frame)} elements, expected {shape}", message_id)
    if kind == 2 and not isinstance(frame[2], str):
        raise _Refused("frame", "the action is not a string", message_id)
    if kind == 2 and not isinstance(frame[3], dict):
        raise _Refused("format", "the payload is not an object", message_id)
    if kind == 2 and message_id in conn.call_ids:
        raise _Refused("frame", f"message id {message_id!r} reused on this connection", message_id)
    return frame


def _error_problem(version: Version, frame: list[Any]) -> str | None:
    _, _, code, description, details = frame
    if code not in ERROR_CODES[version]:
        return f"CALLERROR code {code!r} is not a {version} error code"
    if not isinstance(description, str) or (version == "2.0.1" and len(description) > 255):
        return "the CALLERROR description is not a string (of at most 255 characters in 2.0.1)"
    if not isinstance(details, dict):
        return "the CALLERROR details are not an object"
    return None


@dataclass(frozen=True, slots=True)
class Handshake:
    authorization: str | None
    client_common_name: str | None


def _router(csms: StrictCsms) -> Callable[[ServerConnection, Request], Response | None]:
    def route(connection: ServerConnection, request: Request) -> Response | None:
        if re.fullmatch(r"/ocpp/[^/]+", request.path) is None:
            return connection.respond(HTTPStatus.NOT_FOUND, "connect to /ocpp/<charger id>\n")
        peer = connection.transport.get_extra_info("peercert") or {}
        names = [v for rdn in peer.get("subject", ()) for k, v in rdn if k == "commonName"]
        charger_id = request.path.rsplit("/", 1)[1]
        csms.handshakes[charger_id] = Handshake(
            request.headers.get("Authorization"), names[0] if names else None
        )
        return None

    return route


@contextlib.asynccontextmanager
async def running_strict_csms(
    *,
    boot_interval: int = 300,
    tls: ssl.SSLContext | None = None,
    boot_statuses: Sequence[str] = (),
    silent_on: frozenset[str] = frozenset(),
) -> AsyncIterator[StrictCsms]:
    """A :class:`StrictCsms` listening on an ephemeral port of 127.0.0.1 for the block.

    With ``tls`` it serves ``wss://`` (security profiles 2 and 3).
    """
    csms = StrictCsms(boot_interval=boot_interval, boot_statuses=boot_statuses, silent_on=silent_on)
    protocols = [Subprotocol(name) for name in SUBPROTOCOLS]
    async with serve(
        csms.serve,
        "127.0.0.1",
        0,
        subprotocols=protocols,
        process_request=_router(csms),
        ssl=tls,
    ) as server:
        csms.port = server.sockets[0].getsockname()[1]
        yield csms
