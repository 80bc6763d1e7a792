"""The native REST API (``/v1``), shapes after eDRV v1.1: sessions, chargers, tokens, webhooks."""

from __future__ import annotations

from api.rest import chargers, sessions, tokens, webhooks
from api.rest.framework import Endpoint

ENDPOINTS: list[Endpoint] = [
    *sessions.ENDPOINTS,
    *chargers.ENDPOINTS,
    *tokens.ENDPOINTS,
    *webhooks.ENDPOINTS,
]
