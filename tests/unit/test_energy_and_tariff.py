"""Meter arithmetic and cost: unit normalisation, register choice, placeholders, rounding."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from csms.domain.energy import apply_samples, normalise
from csms.domain.model import ENERGY_REGISTER, MeterSample, Protocol, Session, SessionStatus
from csms.domain.tariffs import Tariff

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _session() -> Session:
    return Session("s", "cp", Protocol.V201, SessionStatus.STARTED, T0, T0)


def _sample(value: float, minutes: int = 0, **kw: object) -> MeterSample:
    fields: dict = {"measurand": ENERGY_REGISTER, "unit": "Wh", **kw}
    return MeterSample(timestamp=T0 + timedelta(minutes=minutes), value=value, **fields)


@pytest.mark.parametrize(
    ("value", "unit", "multiplier", "expected"),
    [
        (1.5, "kWh", 0, (1500.0, "Wh")),
        (12, "Wh", 3, (12000.0, "Wh")),
        (7, "kW", 0, (7000.0, "W")),
        (20, "Celcius", 0, (20.0, "Celsius")),
        (3, None, 0, (3.0, "")),
        (1.001, "kWh", 0, (1001.0, "Wh")),  # not 1000.9999999999999
        (12345.678, "kWh", 0, (12345678.0, "Wh")),
        (0.3, "Wh", 1, (3.0, "Wh")),
    ],
)
def test_normalise_units_and_multipliers(
    value: float, unit: str | None, multiplier: int, expected: tuple[float, str]
) -> None:
    """kWh becomes Wh, kW becomes W, 2.0.1 multipliers apply, the 1.6 Celcius typo is mapped."""
    assert normalise(value, unit, multiplier) == expected


def test_energy_is_highest_minus_lowest_register_ignoring_noise() -> None:
    """Only whole-meter Energy.Active.Import.Register readings count; phases, power, signed do not."""
    session = _session()
    apply_samples(
        session,
        [
            _sample(0, 0, context="Transaction.Begin"),
            _sample(1000, 1),
            _sample(5000, 2, phase="L1"),
            _sample(99999, 2, signed=True),
            _sample(22000, 3, measurand="Power.Active.Import", unit="W"),
            _sample(3500, 4),
        ],
        baseline_from_samples=True,
    )
    assert session.energy_wh == 2500.0
    assert session.charging_start == T0 + timedelta(minutes=4)


def test_out_of_order_replay_gives_same_energy() -> None:
    """Readings replayed out of order give the same result as in order."""
    a, b = _session(), _session()
    readings = [_sample(100, 0), _sample(400, 1), _sample(900, 2)]
    apply_samples(a, readings, baseline_from_samples=True)
    apply_samples(b, list(reversed(readings)), baseline_from_samples=True)
    assert a.energy_wh == b.energy_wh == 800.0


def test_tariff_rounds_half_up_to_cents() -> None:
    """Fee + kWh price + minute price, rounded half-up."""
    session = _session()
    session.energy_wh = 4250.0
    session.session_start, session.session_end = T0, T0 + timedelta(minutes=30)
    assert Tariff("EUR", 0.30).cost(session) == 1.28
    assert Tariff("EUR", 0.30, price_per_minute=0.01, session_fee=0.5).cost(session) == 2.08


def test_each_price_of_a_tariff_counts_alone_and_a_free_tariff_costs_nothing() -> None:
    """A tariff of only a fee, only a kWh price or only a minute price charges it; none: 0."""
    session = _session()
    session.energy_wh = 4250.0
    session.session_start, session.session_end = T0, T0 + timedelta(minutes=30)
    assert Tariff("EUR").cost(session) == 0.0
    assert Tariff("EUR", session_fee=0.5).cost(session) == 0.5
    assert Tariff("EUR", 0.30).cost(session) == 1.28
    assert Tariff("EUR", price_per_minute=0.01).cost(session) == 0.3
