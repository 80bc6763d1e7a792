"""Our compiled OCPP validators check and report exactly as fastjsonschema's own compile does."""

from __future__ import annotations

import copy
import importlib.resources
import json
from typing import Any

import fastjsonschema
import pytest

from csms.gateway.schemas import ValidationError, compile_schema

_UPDATED = {
    "eventType": "Updated",
    "timestamp": "2026-11-22T02:57:17.052Z",
    "triggerReason": "MeterValuePeriodic",
    "seqNo": 5,
    "transactionInfo": {"transactionId": "b1aef410", "chargingState": "Charging"},
    "meterValue": [
        {
            "timestamp": "2026-11-22T02:57:17.052Z",
            "sampledValue": [
                {"value": 10, "measurand": "Energy.Active.Import.Register"},
                {"value": 7.5, "measurand": "Power.Active.Import", "unitOfMeasure": {"unit": "kW"}},
            ],
        }
    ],
}
_METER_VALUES_16 = {
    "connectorId": 1,
    "transactionId": 7,
    "meterValue": [
        {
            "timestamp": "2026-11-22T02:57:17.192Z",
            "sampledValue": [{"value": "1183", "unit": "Wh"}, {"value": "7", "unit": "kW"}],
        }
    ],
}


def _schema(path: str) -> dict[str, Any]:
    text = (importlib.resources.files("ocpp") / path).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _outcome(validate: Any, payload: Any) -> tuple[str, str, str | None] | None:
    try:
        validate(payload)
    except ValidationError as exc:
        return exc.message, exc.name, exc.rule
    return None


def _broken(payload: dict[str, Any], *path: str | int, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(payload)
    node: Any = out
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return out


@pytest.mark.parametrize(
    ("schema_path", "payload", "broken_at"),
    [
        (
            "v201/schemas/TransactionEventRequest.json",
            _UPDATED,
            ("meterValue", 0, "sampledValue", 1, "value"),
        ),
        ("v201/schemas/TransactionEventRequest.json", _UPDATED, ("meterValue", 0, "timestamp")),
        (
            "v16/schemas/MeterValues.json",
            _METER_VALUES_16,
            ("meterValue", 0, "sampledValue", 1, "unit"),
        ),
    ],
)
def test_compiled_validator_reports_the_same_error_as_fastjsonschema(
    schema_path: str, payload: dict[str, Any], broken_at: tuple[str | int, ...]
) -> None:
    """A valid payload passes both; a bad array item fails both with the same message and name."""
    schema = _schema(schema_path)
    ours, theirs = compile_schema(schema), fastjsonschema.compile(schema, use_default=False)
    assert _outcome(ours, payload) is None and _outcome(theirs, payload) is None
    bad = _broken(payload, *broken_at, value="not valid here")
    expected = _outcome(theirs, bad)
    assert expected is not None and "meterValue[0]" in expected[1]  # the item's name
    assert _outcome(ours, bad) == expected


def test_every_request_and_response_schema_of_both_versions_compiles() -> None:
    """All 1.6 and 2.0.1 schemas the ocpp package ships compile, and refuse a non-object."""
    count = 0
    for folder in ("v16/schemas", "v201/schemas"):
        for entry in (importlib.resources.files("ocpp") / folder).iterdir():
            if entry.name.endswith(".json"):
                validate = compile_schema(_schema(f"{folder}/{entry.name}"))
                assert _outcome(validate, []) is not None, entry.name
                count += 1
    assert count > 200
