"""Timestamps on the wire: RFC 3339 UTC with 'Z' and at most 3 fractional digits."""

from __future__ import annotations

from datetime import UTC, datetime


def format_time(value: datetime) -> str:
    """Milliseconds at most, as OCPP 2.0.1 (part 2, 3.1) asks; 1.6 CSMSs accept it too."""
    utc = value.astimezone(UTC)
    base = utc.strftime("%Y-%m-%dT%H:%M:%S")
    millis = utc.microsecond // 1000
    return f"{base}.{millis:03d}Z"


def now() -> str:
    """The current time on the wire."""
    return format_time(datetime.now(UTC))
