"""Timestamps on the wire: UTC with 'Z', at most milliseconds, the same instant back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from csms.gateway.timefmt import format_time, parse_time


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime(2026, 3, 1, 12, 0, 5, tzinfo=UTC), "2026-03-01T12:00:05Z"),
        (datetime(2026, 3, 1, 12, 0, 5, 999, tzinfo=UTC), "2026-03-01T12:00:05Z"),
        (datetime(2026, 3, 1, 12, 0, 5, 120_500, tzinfo=UTC), "2026-03-01T12:00:05.120Z"),
        (datetime(2026, 3, 1, 12, 0, 5, 7_000, tzinfo=UTC), "2026-03-01T12:00:05.007Z"),
        (
            datetime(2026, 3, 1, 13, 30, 5, 250_000, tzinfo=timezone(timedelta(hours=1))),
            "2026-03-01T12:30:05.250Z",
        ),
        (datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC), "0999-01-02T03:04:05Z"),
    ],
)
def test_times_are_sent_as_utc_with_z_and_at_most_milliseconds(value: datetime, text: str) -> None:
    """A time goes out in UTC, with 'Z', a four-digit year and milliseconds only when nonzero."""
    assert format_time(value) == text
    assert parse_time(text) == value.astimezone(UTC).replace(
        microsecond=value.microsecond // 1000 * 1000
    )
