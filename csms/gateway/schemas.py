"""Compiled JSON-schema validators for every OCPP action, from the schemas the ``ocpp`` package
ships (the official OCA schemas). fastjsonschema compiles each once, on first use."""

from __future__ import annotations

import importlib.resources
import json
from collections.abc import Callable
from functools import cache
from typing import Any

import fastjsonschema

Validator = Callable[[Any], Any]
ValidationError = fastjsonschema.JsonSchemaValueException


def _schema_name(version: str, action: str, response: bool) -> str:
    if version == "1.6":
        return f"v16/schemas/{action}{'Response' if response else ''}.json"
    return f"v201/schemas/{action}{'Response' if response else 'Request'}.json"


@cache
def validator(version: str, action: str, response: bool = False) -> Validator | None:
    """The validator for an action's request (or response), or None if the action is unknown."""
    path = importlib.resources.files("ocpp") / _schema_name(version, action, response)
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, IsADirectoryError):
        return None
    # 1.6 errata: units "Celsius" and "Celcius" are both valid; accept either.
    _patch_celsius(schema)
    compiled: Validator = fastjsonschema.compile(schema, use_default=False)
    return compiled


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
