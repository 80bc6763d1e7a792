"""What a benchmark is made of: cases, metrics, targets, and the context it runs in."""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from bench.servers import Database, Server


@dataclass(frozen=True)
class Metric:
    """One figure a benchmark reports; ``better`` says which way is good (for the report)."""

    key: str
    label: str
    unit: str
    better: Literal["higher", "lower"]
    digits: int = 1


@dataclass(frozen=True)
class Case:
    """One configuration of a benchmark, e.g. throughput at 1,000 chargers."""

    label: str
    params: dict[str, Any]

    @property
    def slug(self) -> str:
        return "-".join(str(v) for v in self.params.values())


@dataclass(frozen=True)
class Target:
    """A goal from the issue: ``metric op value`` for the cases matching ``where``."""

    metric: str
    op: Literal["<=", ">="]
    value: float
    where: dict[str, Any]
    text: str

    def applies(self, case: Case) -> bool:
        """The target names this case's size (else the verdict is only indicative)."""
        return all(case.params.get(k) == v for k, v in self.where.items())

    def related(self, case: Case) -> bool:
        """Same case apart from the charger count: worth an indicative verdict."""
        return all(case.params.get(k) == v for k, v in self.where.items() if k != "chargers")

    def met(self, value: float) -> bool:
        compare = operator.le if self.op == "<=" else operator.ge
        return bool(compare(value, self.value))

    def worst(self, values: Sequence[float]) -> float:
        """The run that counts for the verdict: the worst one."""
        return max(values) if self.op == "<=" else min(values)


@dataclass
class Context:
    """What every benchmark run shares: where to work, which database, fleet sizing."""

    workdir: Path
    db: Database
    fleet_workers: int | None
    log: Callable[[str], None]
    extra: dict[str, Any] = field(default_factory=dict)


class Benchmark(Protocol):
    """The module interface of ``bench/benchmarks/*.py``."""

    NAME: str
    TITLE: str
    HOW: str
    METRICS: list[Metric]
    TARGETS: list[Target]
    NEEDS_API_KEY: bool

    def cases(self, sizes: Any) -> list[Case]: ...

    def heartbeat(self, sizes: Any) -> int: ...

    async def measure(self, ctx: Context, server: Server, case: Case) -> dict[str, Any]: ...
