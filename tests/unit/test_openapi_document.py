"""The OpenAPI document says what the server does: checks that need no server."""

from __future__ import annotations

import re
from typing import Any

from api.app import openapi_document
from api.rest.schemas import SessionQuery

# Escapes that match other characters in Python's re than in the ECMA 262 regexes of JSON Schema
# (Python's \s takes U+0085 and U+001C-U+001F, ECMA's does not; \w and \d take non-ASCII letters
# and digits in Python only).
_AMBIGUOUS = re.compile(r"\\[sSwWdDbB]")


def _patterns(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["pattern"]] if isinstance(node.get("pattern"), str) else []
        return own + [p for value in node.values() for p in _patterns(value)]
    if isinstance(node, list):
        return [p for value in node for p in _patterns(value)]
    return []


def test_patterns_mean_the_same_to_the_server_and_to_clients() -> None:
    """No pattern in the document uses an escape whose meaning differs between Python and ECMA."""
    patterns = _patterns(openapi_document())
    assert patterns
    assert [p for p in patterns if _AMBIGUOUS.search(p)] == []


def test_bounds_are_json_schema_keywords() -> None:
    """Bounds show as minimum/maximum, never pydantic's own ge/le (which clients ignore)."""
    text = repr(openapi_document())
    assert "'ge':" not in text and "'le':" not in text


def test_session_status_filter_is_documented_case_insensitively() -> None:
    """The status filter's pattern matches every status in any case, as the server does."""
    pattern = SessionQuery.model_json_schema()["properties"]["status"]["anyOf"][0]["pattern"]
    for status in ("created", "Started", "ENDED", "cancelled", "start_failed", "pending"):
        assert re.fullmatch(pattern, status)
    assert not re.fullmatch(pattern, "")
