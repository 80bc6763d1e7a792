"""Domain objects from the values of stored rows (column name -> value)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from csms.domain.model import ApiKey, Charger, ConnectorState, Protocol, RegistrationStatus


def charger_of(values: Mapping[str, Any]) -> Charger:
    charger = Charger(**values)
    charger.registration_status = RegistrationStatus(charger.registration_status)
    if charger.protocol is not None:
        charger.protocol = Protocol(charger.protocol)
    return charger


def connector_of(values: Mapping[str, Any]) -> ConnectorState:
    return ConnectorState(**values)


def api_key_of(values: Mapping[str, Any]) -> ApiKey:
    return ApiKey(**values)
