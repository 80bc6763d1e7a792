"""The per-connection message rate limiter and the limit settings."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from csms.config import ConfigError, load_config
from csms.gateway.limits import MessageRate, message_rate
from csms.gateway.rpc import Err


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_burst_then_rate_then_refill_up_to_the_burst_only() -> None:
    """A full bucket lets `burst` CALLs through at once, then one per 1/rate seconds; an idle
    charger saves up no more than the burst."""
    clock = Clock()
    bucket = MessageRate(2.0, 3.0, clock)
    assert [bucket.admit() for _ in range(4)] == [True, True, True, False]
    clock.t += 0.5  # one token at 2/s
    assert [bucket.admit(), bucket.admit()] == [True, False]
    clock.t += 3600  # a long idle time still gives only 3
    assert [bucket.admit() for _ in range(4)] == [True, True, True, False]


def test_refusal_is_generic_error_logged_once_per_burst(caplog: pytest.LogCaptureFixture) -> None:
    """Every refused CALL gets GenericError; only the first of each burst is logged."""
    caplog.set_level(logging.WARNING, logger="csms.gateway")
    clock = Clock()
    bucket = MessageRate(1.0, 1.0, clock)
    assert bucket.admit()
    errors = [bucket.refusal("CP1") for _ in range(50) if not bucket.admit()]
    assert len(errors) == 50 and {e.err for e in errors} == {Err.GENERIC}
    assert "at most 1 messages per second" in errors[0].description
    clock.t += 1.0
    assert bucket.admit()  # the burst is over
    assert not bucket.admit()
    bucket.refusal("CP1")
    lines = [r.getMessage() for r in caplog.records if "CALLs/s" in r.getMessage()]
    assert len(lines) == 2 and lines[0].startswith("charger CP1 sends more than 1 CALLs/s")


def test_no_bucket_without_a_limit_and_a_second_of_burst_by_default() -> None:
    """0 messages per second means no bucket at all; burst 0 means one second's worth."""
    assert message_rate(0, 10) is None
    clock_free = message_rate(5, 0)
    assert clock_free is not None
    assert sum(clock_free.admit() for _ in range(10)) == 5


def test_limit_settings_load_and_bad_values_fail_naming_the_key(tmp_path: Path) -> None:
    """The new keys load from config.toml and env; negative values fail at start."""
    path = tmp_path / "c.toml"
    path.write_text(
        "[ocpp]\nmax_messages_per_second = 50\nmessage_burst = 200\n[api]\nmax_body_bytes = 4096\n"
    )
    config = load_config(path, env={"CSMS_API_MAX_BODY_BYTES": "2048"})
    assert (config.ocpp.max_messages_per_second, config.ocpp.message_burst) == (50.0, 200)
    assert config.api.max_body_bytes == 2048
    with pytest.raises(ConfigError, match=r"\[api\] max_body_bytes"):
        load_config(None, env={"CSMS_API_MAX_BODY_BYTES": "-1"})
    with pytest.raises(ConfigError, match=r"\[ocpp\] max_messages_per_second"):
        load_config(None, env={"CSMS_OCPP_MAX_MESSAGES_PER_SECOND": "-5"})


def test_shipped_config_keeps_the_limits_off_or_generous() -> None:
    """config.toml: no message rate limit (benchmarks flood one charger), 1 MiB bodies."""
    config = load_config(Path(__file__).parents[2] / "config.toml", env={})
    assert config.ocpp.max_messages_per_second == 0
    assert config.api.max_body_bytes == 1_048_576
