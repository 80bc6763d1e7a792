"""Cost of a session from its energy and duration."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from csms.domain.model import Session


@dataclass(frozen=True, slots=True)
class Tariff:
    currency: str = "EUR"
    price_per_kwh: float = 0.0
    price_per_minute: float = 0.0
    session_fee: float = 0.0

    def cost(self, session: Session) -> float:
        """Fee + energy price + time price, rounded half-up to cents."""
        total = Decimal(str(self.session_fee))
        total += Decimal(str(self.price_per_kwh)) * Decimal(str(session.energy_kwh))
        if self.price_per_minute and session.session_start is not None:
            end = session.session_end or session.updated_at
            minutes = Decimal(str(max(0.0, (end - session.session_start).total_seconds()) / 60))
            total += Decimal(str(self.price_per_minute)) * minutes
        return float(total.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
