"""Compiled JSON-schema validators for every OCPP action, from the schemas the ``ocpp`` package
ships (the official OCA schemas). fastjsonschema compiles each once, on first use."""

from __future__ import annotations

import importlib.resources
import json
import re
import sys
from collections.abc import Callable
from functools import cache
from typing import Any

import fastjsonschema
from fastjsonschema.ref_resolver import RefResolver

Validator = Callable[[Any], Any]
ValidationError = fastjsonschema.JsonSchemaValueException

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
# 1.6 energy registers in Wh: a lifetime register may pass 2**31 Wh (2.1 GWh).
_WIDE_INTEGERS = frozenset({"meterStart", "meterStop"})


def _schema_name(version: str, action: str, response: bool) -> str:
    if version == "1.6":
        return f"v16/schemas/{action}{'Response' if response else ''}.json"
    return f"v201/schemas/{action}{'Response' if response else 'Request'}.json"


def validator(version: str, action: str, response: bool = False) -> Validator | None:
    """The validator for an action's request (or response), or None if the action is unknown.

    Only names of the version's schema files get this far: a charger's made-up action (a NUL,
    "../x", a new name per frame) neither reaches the file system nor grows the cache.
    """
    if action not in known_actions(version):
        return None
    return _compiled(version, action, response)


@cache
def _compiled(version: str, action: str, response: bool) -> Validator | None:
    path = importlib.resources.files("ocpp") / _schema_name(version, action, response)
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, IsADirectoryError):
        return None
    # 1.6 errata: units "Celsius" and "Celcius" are both valid; accept either.
    _patch_celsius(schema)
    _bound_numbers(schema)
    return compile_schema(schema)


# In fastjsonschema's generated code, the name of an array item for error messages is built
# for every item validated, with ``"...[{index}]".format(**locals())``: ``locals()`` copies
# every local of the function into a dict, a third of the time a 2.0.1 TransactionEvent takes
# to validate. The same text as an f-string reads just that one local.
_LOCALS_FORMAT = re.compile(
    r'"((?:[^"{}\\]|\{[A-Za-z_]\w*\})*)"'  # a plain literal, {name} fields and all
    r"\.format\(\*\*locals\(\)\)"
)


def compile_schema(schema: dict[str, Any]) -> Validator:
    """fastjsonschema's validator for ``schema`` (defaults not applied), item names as
    f-strings (``_LOCALS_FORMAT``); the same checks and the same errors."""
    code = _LOCALS_FORMAT.sub(r'f"\1"', fastjsonschema.compile_to_code(schema, use_default=False))
    namespace: dict[str, Any] = {}
    exec(compile(code, "<fastjsonschema>", "exec"), namespace)
    # The root function's name, found as fastjsonschema.compile finds it.
    validate: Validator = namespace[RefResolver.from_schema(schema, store={}).get_scope_name()]
    return validate


@cache
def known_actions(version: str) -> frozenset[str]:
    folder = importlib.resources.files("ocpp") / (
        "v16/schemas" if version == "1.6" else "v201/schemas"
    )
    names = set()
    for entry in folder.iterdir():
        name = entry.name
        if not name.endswith(".json") or name.endswith("Response.json"):
            continue
        names.add(name.removesuffix(".json").removesuffix("Request"))
    return frozenset(names)


def _patch_celsius(node: Any) -> None:
    if isinstance(node, dict):
        enum = node.get("enum")
        if isinstance(enum, list) and ("Celsius" in enum) != ("Celcius" in enum):
            enum.extend(u for u in ("Celsius", "Celcius") if u not in enum)
        for value in node.values():
            _patch_celsius(value)
    elif isinstance(node, list):
        for value in node:
            _patch_celsius(value)


def _bound_numbers(node: Any, name: str = "") -> None:
    """Give every integer the 32-bit range of OCPP's integer type, and every number a finite one.

    OCPP 2.0.1 Part 2 defines integer as 32-bit; 1.6 stores the same fields (connector, EVSE and
    request ids) and only its Wh registers need more (``_WIDE_INTEGERS``, 64-bit). Without a
    bound a 2**70 connector id passes the schema and fails in the database. A finite bound on
    numbers refuses ``1e999``, which ``json`` reads as infinity.
    """
    if isinstance(node, dict):
        kind = node.get("type")
        if kind == "integer":
            low, high = INT64 if name in _WIDE_INTEGERS else INT32
            node.setdefault("minimum", low)
            node.setdefault("maximum", high)
        elif kind == "number":
            node.setdefault("minimum", -sys.float_info.max)
            node.setdefault("maximum", sys.float_info.max)
        properties = node.get("properties")
        for key, value in node.items():
            if key == "properties" and isinstance(properties, dict):
                for prop, schema in properties.items():
                    _bound_numbers(schema, prop)
            else:
                _bound_numbers(value, name if key == "items" else "")
    elif isinstance(node, list):
        for value in node:
            _bound_numbers(value, name)
