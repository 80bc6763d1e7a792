"""The native REST API (``/v1``), shapes after eDRV v1.1: sessions, chargers, tokens."""

from __future__ import annotations

from api.rest import chargers, sessions, tokens
from api.rest.framework import Endpoint

ENDPOINTS: list[Endpoint] = [*sessions.ENDPOINTS, *chargers.ENDPOINTS, *tokens.ENDPOINTS]
