"""What the version handlers may call: the domain use cases, nothing else."""

from __future__ import annotations

from dataclasses import dataclass

from csms.domain.chargers import ChargerService
from csms.domain.transactions import TransactionService


@dataclass(frozen=True, slots=True)
class GatewayServices:
    chargers: ChargerService
    transactions: TransactionService
