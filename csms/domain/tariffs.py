"""Cost of a session from its energy and duration."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from csms.domain.model import Session


@dataclass(frozen=True, slots=True)
class Tariff:
    currency: str = "EUR"
    price_per_kwh: float = 0.0
    price_per_minute: float = 0.0
    session_fee: float = 0.0
    # The three prices as Decimals, converted once: cost() runs for every meter value.
    _decimals: tuple[Decimal, Decimal, Decimal] = field(init=False, repr=False, compare=False)
    _free: bool = field(init=False, repr=False, compare=False)  # all three prices are zero

    def __post_init__(self) -> None:
        prices = (self.session_fee, self.price_per_kwh, self.price_per_minute)
        object.__setattr__(self, "_decimals", tuple(Decimal(str(p)) for p in prices))
        object.__setattr__(self, "_free", not any(self._decimals))

    def cost(self, session: Session) -> float:
        """Fee + energy price + time price, rounded half-up to cents."""
        if self._free:  # the default: no decimal arithmetic
            return 0.0
        fee, per_kwh, per_minute = self._decimals
        total = fee + per_kwh * Decimal(str(session.energy_kwh))
        if self.price_per_minute and session.session_start is not None:
            end = session.session_end or session.updated_at
            minutes = Decimal(str(max(0.0, (end - session.session_start).total_seconds()) / 60))
            total += per_minute * minutes
        return float(total.quantize(_CENT, rounding=ROUND_HALF_UP))


_CENT = Decimal("0.01")
