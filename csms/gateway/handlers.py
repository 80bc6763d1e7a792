"""Handler plumbing shared by both versions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from csms.domain.chargers import ChargerService

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


def record_only(
    chargers: ChargerService, charger_id: str, kind: str, answer: dict[str, Any] | None = None
) -> Handler:
    """A handler that durably records the payload as a charger event, then answers."""
    response = answer or {}

    async def handle(payload: dict[str, Any]) -> dict[str, Any]:
        await chargers.record_event(charger_id, kind, payload)
        return dict(response)

    return handle
