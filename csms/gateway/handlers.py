"""Handler plumbing shared by both versions.

A handler takes the charger id and the CALL payload. The route tables are built once per
OCPP version and shared by every connection of that version: a connection holds a reference
to its version's table, not a dict of bound methods and closures of its own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from csms.domain.chargers import ChargerService

Handler = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]


def record_only(
    chargers: ChargerService, kind: str, answer: dict[str, Any] | None = None
) -> Handler:
    """A handler that durably records the payload as a charger event, then answers."""
    response = answer or {}

    async def handle(charger_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        await chargers.record_event(charger_id, kind, payload)
        return dict(response)

    return handle
