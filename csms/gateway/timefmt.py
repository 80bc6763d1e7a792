"""Timestamps on the wire: parse ISO 8601 / RFC 3339 leniently, emit UTC with 'Z'."""

from __future__ import annotations

from datetime import UTC, datetime

from csms.gateway.rpc import Err, RpcError


def parse_time(value: str) -> datetime:
    """Parse any ISO 8601 offset or fraction; a naive time is taken as UTC.

    RFC 3339 allows a lower-case "t" and "z", which ``fromisoformat`` refuses; an offset that
    moves the instant out of years 1-9999 ("0001-01-01T00:00:00+01:00") has no UTC datetime.
    """
    try:
        parsed = datetime.fromisoformat(value.upper())
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except ValueError:
        raise RpcError(Err.PROPERTY, f"not an ISO 8601 date-time: {value[:40]!r}") from None
    except OverflowError:
        raise RpcError(Err.PROPERTY, f"date-time out of range: {value[:40]!r}") from None


def format_time(value: datetime) -> str:
    """RFC 3339 UTC with at most 3 fractional digits (OCPP 2.0.1 P2 3.1)."""
    utc = (value if value.tzinfo is UTC else value.astimezone(UTC)).replace(tzinfo=None)
    if utc.microsecond < 1000:  # no fraction (isoformat, unlike strftime, pads the year)
        return utc.replace(microsecond=0).isoformat() + "Z"
    return utc.isoformat(timespec="milliseconds") + "Z"
