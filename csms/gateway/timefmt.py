"""Timestamps on the wire: parse ISO 8601 / RFC 3339 leniently, emit UTC with 'Z'."""

from __future__ import annotations

from datetime import UTC, datetime

from csms.gateway.rpc import Err, RpcError


def parse_time(value: str) -> datetime:
    """Parse any ISO 8601 offset or fraction; a naive time is taken as UTC."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise RpcError(Err.PROPERTY, f"not an ISO 8601 date-time: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_time(value: datetime) -> str:
    """RFC 3339 UTC with at most 3 fractional digits (OCPP 2.0.1 P2 3.1)."""
    utc = value.astimezone(UTC)
    base = utc.strftime("%Y-%m-%dT%H:%M:%S")
    millis = utc.microsecond // 1000
    return f"{base}.{millis:03d}Z" if millis else f"{base}Z"
