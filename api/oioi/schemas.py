"""Plugsurfing OIOI v4 request and response bodies (kebab-case on the wire).

One request object holds exactly one call; :class:`OioiRequest` names every call we receive and
is what ``/openapi.json`` documents. Unknown fields are ignored, as OIOI requires.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="ignore", validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
    )


class User(_Model):
    identifier_type: Literal["evco-id", "rfid", "username", "token"] = Field(
        alias="identifier-type"
    )
    identifier: str = Field(min_length=1, max_length=64)
    token: str | None = None


class SessionStart(_Model):
    user: User
    connector_id: str = Field(alias="connector-id", min_length=1, description="the EVSE ID")
    payment_reference: str | None = Field(None, alias="payment-reference")


class SessionStop(_Model):
    user: User
    connector_id: str = Field(alias="connector-id", min_length=1)
    session_id: str | None = Field(None, alias="session-id")


class UserRecentSessions(_Model):
    user: User


class RfidPost(_Model):
    rfids: list[str] = Field(description="RFID UIDs (hex) allowed to charge")
    partner_identifier: str = Field(alias="partner-identifier", min_length=1)


class OioiRequest(_Model):
    """Exactly one of these keys per request."""

    model_config = ConfigDict(
        json_schema_extra={"minProperties": 1, "maxProperties": 1, "additionalProperties": False}
    )

    # null is no call: the document shows each key as its object only
    session_start: SessionStart | SkipJsonSchema[None] = Field(None, alias="session-start")
    session_stop: SessionStop | SkipJsonSchema[None] = Field(None, alias="session-stop")
    user_get_recent_sessions: UserRecentSessions | SkipJsonSchema[None] = Field(
        None, alias="user-get-recent-sessions"
    )
    rfid_post: RfidPost | SkipJsonSchema[None] = Field(None, alias="rfid-post")


class Result(_Model):
    code: int
    message: str


class SessionStarted(_Model):
    session_id: str = Field(alias="session-id")
    is_stoppable: bool = Field(alias="is-stoppable")


class Interval(_Model):
    start: datetime | None
    end: datetime | None


class RecentSession(_Model):
    request_sent: datetime = Field(alias="request-sent")
    connector_id: str = Field(alias="connector-id", description="EVSE ID (or our connector id)")
    charging_station_id: str = Field(alias="charging-station-id")
    session_interval: Interval = Field(alias="session-interval")
    charging_interval: Interval = Field(alias="charging-interval")
    energy_consumed: float = Field(alias="energy-consumed", description="kWh")
    cost: str | None = Field(description='decimal string, e.g. "3.76"')
    currency: str | None
    external_session_id: str = Field(alias="external-session-id")
    status: str


class RecentSessions(_Model):
    sessions: list[RecentSession]


class RfidProcessed(_Model):
    success: bool
    processed: int


class OioiResponse(_Model):
    """``result`` always; the call's own key when it returns data."""

    result: Result
    session_start: SessionStarted | None = Field(None, alias="session-start")
    user: RecentSessions | None = None
    rfid: RfidProcessed | None = None


class OioiError(_Model):
    error: dict[str, str]
    result: Result


# -- calls we send (CPO -> partner) -----------------------------------------------------------


class PostInterval(_Model):
    start: datetime | None
    stop: datetime | None = None


class Cost(_Model):
    amount: float
    currency: str


class SessionPost(_Model):
    """The CDR of a finished session (``session-post``)."""

    user: User
    session_id: str = Field(alias="session-id")
    connector_id: str = Field(alias="connector-id")
    session_interval: PostInterval = Field(alias="session-interval")
    charging_interval: PostInterval | None = Field(None, alias="charging-interval")
    energy_consumed: float | None = Field(None, alias="energy-consumed", description="kWh")
    calculated_cost: Cost | None = Field(None, alias="calculated-cost")
    partner_identifier: str = Field(alias="partner-identifier")


class ConnectorPostStatus(_Model):
    connector_id: str = Field(alias="connector-id")
    status: Literal["Available", "Occupied", "Offline", "Reserved", "Unknown"]
    partner_identifier: str = Field(alias="partner-identifier")
