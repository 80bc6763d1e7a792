"""OCPI 2.2.1 objects the CPO side receives and sends (field names as on the wire).

Requests are validated with these models; unknown fields are ignored (OCPI requires it).
Lengths follow the spec's CiString(n) / string(n) limits.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer

TokenType = Literal["AD_HOC_USER", "APP_USER", "OTHER", "RFID"]
WhitelistType = Literal["ALWAYS", "ALLOWED", "ALLOWED_OFFLINE", "NEVER"]
CommandResponseType = Literal["NOT_SUPPORTED", "REJECTED", "ACCEPTED", "UNKNOWN_SESSION"]
CommandResultType = Literal[
    "ACCEPTED",
    "CANCELED_RESERVATION",
    "EVSE_OCCUPIED",
    "EVSE_INOPERATIVE",
    "FAILED",
    "NOT_SUPPORTED",
    "REJECTED",
    "TIMEOUT",
    "UNKNOWN_RESERVATION",
]


def ocpi_utc(value: datetime) -> str:
    """OCPI DateTime: UTC with ``Z`` and milliseconds (fits string(25))."""
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Out(BaseModel):
    @field_serializer("*", when_used="json")
    def _times(self, value: Any) -> Any:
        if isinstance(value, datetime):
            return ocpi_utc(value)
        return value


class DisplayText(_In, _Out):
    language: str = Field(min_length=2, max_length=2)
    text: str = Field(max_length=512)


# -- versions and credentials -----------------------------------------------------------------


class Version(_Out):
    version: str
    url: str


class Endpoint(_In, _Out):
    identifier: str
    role: Literal["SENDER", "RECEIVER"]
    url: str


class VersionDetails(_In, _Out):
    version: str
    endpoints: list[Endpoint]


class BusinessDetails(_In, _Out):
    name: str = Field(max_length=100)
    website: str | None = None


class CredentialsRole(_In, _Out):
    role: Literal["CPO", "EMSP", "HUB", "NAP", "NSP", "OTHER", "SCSP"]
    business_details: BusinessDetails
    party_id: str = Field(min_length=3, max_length=3)
    country_code: str = Field(min_length=2, max_length=2)


class Credentials(_In, _Out):
    token: str = Field(min_length=1, max_length=64, pattern=r"^[!-~]+$")
    url: str = Field(min_length=1, max_length=255)
    roles: list[CredentialsRole] = Field(min_length=1)


# -- tokens ------------------------------------------------------------------------------------


class EnergyContract(_In, _Out):
    supplier_name: str = Field(max_length=64)
    contract_id: str | None = Field(None, max_length=64)


class Token(_In, _Out):
    country_code: str = Field(min_length=2, max_length=2)
    party_id: str = Field(min_length=3, max_length=3)
    uid: str = Field(min_length=1, max_length=36)
    type: TokenType
    contract_id: str = Field(max_length=36)
    visual_number: str | None = Field(None, max_length=64)
    issuer: str = Field(max_length=64)
    group_id: str | None = Field(None, max_length=36)
    valid: bool
    whitelist: WhitelistType
    language: str | None = Field(None, max_length=2)
    default_profile_type: str | None = None
    energy_contract: EnergyContract | None = None
    last_updated: datetime


class TokenPatch(_In):
    """PATCH: any Token field; ``last_updated`` is required."""

    contract_id: str | None = Field(None, max_length=36)
    visual_number: str | None = Field(None, max_length=64)
    issuer: str | None = Field(None, max_length=64)
    group_id: str | None = Field(None, max_length=36)
    valid: bool | None = None
    whitelist: WhitelistType | None = None
    language: str | None = Field(None, max_length=2)
    default_profile_type: str | None = None
    energy_contract: EnergyContract | None = None
    last_updated: datetime


# -- commands ----------------------------------------------------------------------------------


class StartSession(_In):
    response_url: str = Field(min_length=1, max_length=255)
    token: Token
    location_id: str = Field(min_length=1, max_length=36)
    evse_uid: str | None = Field(None, max_length=36)
    connector_id: str | None = Field(None, max_length=36)
    authorization_reference: str | None = Field(None, max_length=36)


class StopSession(_In):
    response_url: str = Field(min_length=1, max_length=255)
    session_id: str = Field(min_length=1, max_length=36)


class UnlockConnector(_In):
    response_url: str = Field(min_length=1, max_length=255)
    location_id: str = Field(min_length=1, max_length=36)
    evse_uid: str = Field(min_length=1, max_length=36)
    connector_id: str = Field(min_length=1, max_length=36)


class ReserveNow(_In):
    response_url: str = Field(min_length=1, max_length=255)


class CancelReservation(_In):
    response_url: str = Field(min_length=1, max_length=255)


class CommandResponse(_Out):
    result: CommandResponseType
    timeout: int
    message: list[DisplayText] | None = None


class CommandResult(_Out):
    result: CommandResultType
    message: list[DisplayText] | None = None


# -- sessions and CDRs -------------------------------------------------------------------------


class CdrToken(_In, _Out):
    country_code: str
    party_id: str
    uid: str
    type: TokenType
    contract_id: str


class CdrDimension(_Out):
    type: str
    volume: float


class ChargingPeriod(_Out):
    start_date_time: datetime
    dimensions: list[CdrDimension]
    tariff_id: str | None = None


class Price(_Out):
    excl_vat: float
    incl_vat: float | None = None


class OcpiSession(_Out):
    country_code: str
    party_id: str
    id: str
    start_date_time: datetime
    end_date_time: datetime | None = None
    kwh: float
    cdr_token: CdrToken
    auth_method: Literal["AUTH_REQUEST", "COMMAND", "WHITELIST"]
    authorization_reference: str | None = None
    location_id: str
    evse_uid: str
    connector_id: str
    meter_id: str | None = None
    currency: str
    charging_periods: list[ChargingPeriod] | None = None
    total_cost: Price | None = None
    status: Literal["ACTIVE", "COMPLETED", "INVALID", "PENDING", "RESERVATION"]
    last_updated: datetime


class GeoLocation(_Out):
    latitude: str
    longitude: str


class CdrLocation(_Out):
    id: str
    name: str | None = None
    address: str
    city: str
    postal_code: str | None = None
    country: str
    coordinates: GeoLocation
    evse_uid: str
    evse_id: str
    connector_id: str
    connector_standard: str
    connector_format: str
    connector_power_type: str


class Cdr(_Out):
    country_code: str
    party_id: str
    id: str
    start_date_time: datetime
    end_date_time: datetime
    session_id: str | None = None
    cdr_token: CdrToken
    auth_method: Literal["AUTH_REQUEST", "COMMAND", "WHITELIST"]
    authorization_reference: str | None = None
    cdr_location: CdrLocation
    currency: str
    charging_periods: list[ChargingPeriod]
    total_cost: Price
    total_energy: float
    total_time: float
    total_parking_time: float | None = None
    last_updated: datetime


# -- locations ---------------------------------------------------------------------------------


class Connector(_Out):
    id: str
    standard: str
    format: str
    power_type: str
    max_voltage: int
    max_amperage: int
    last_updated: datetime


class Evse(_Out):
    uid: str
    evse_id: str | None = None
    status: str
    capabilities: list[str] | None = None
    connectors: list[Connector]
    last_updated: datetime


class Location(_Out):
    country_code: str
    party_id: str
    id: str
    publish: bool
    name: str | None = None
    address: str
    city: str
    postal_code: str | None = None
    country: str
    coordinates: GeoLocation
    evses: list[Evse] | None = None
    time_zone: str
    last_updated: datetime
