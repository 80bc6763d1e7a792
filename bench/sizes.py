"""How big each benchmark runs: ``small`` (the smoke sizes), ``medium``, ``full`` (the issue's).

Every field can be overridden from the command line (``python -m bench --help``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    throughput_chargers: tuple[int, ...]
    throughput_seconds: float  # flooding, after every charger is Accepted
    connections_chargers: tuple[int, ...]
    connections_hold: float  # seconds idle after all are Accepted, before reading RSS
    connections_compression: tuple[str, ...]  # what the fleet offers: "none", "deflate"
    heartbeat_interval: int  # what the servers give in BootNotification answers (connections)
    storm_chargers: tuple[int, ...]
    remote_chargers: int
    remote_starts: int
    connect_rate: float  # connects per second when ramping up (connections, remote start, paced)
    paced_chargers: tuple[int, ...] = (1000,)
    paced_rates: tuple[float, ...] = (1.0,)  # meter samples per second per charger
    paced_seconds: float = 15  # after every transaction runs


SIZES = {
    "small": Sizes(
        throughput_chargers=(20,),
        throughput_seconds=2,
        connections_chargers=(20,),
        connections_hold=1.5,
        connections_compression=("none", "deflate"),
        heartbeat_interval=1,
        storm_chargers=(20,),
        remote_chargers=20,
        remote_starts=20,
        connect_rate=500,
        paced_chargers=(20,),
        paced_rates=(1.0,),
        paced_seconds=2,
    ),
    "medium": Sizes(
        throughput_chargers=(100, 1000),
        throughput_seconds=15,
        connections_chargers=(1000,),
        connections_hold=12,
        connections_compression=("none", "deflate"),
        heartbeat_interval=10,
        storm_chargers=(2000,),
        remote_chargers=1000,
        remote_starts=1000,
        connect_rate=500,
        paced_chargers=(1000,),
        paced_rates=(1.0, 2.0),
        paced_seconds=15,
    ),
    "full": Sizes(
        throughput_chargers=(100, 1000),
        throughput_seconds=30,
        connections_chargers=(1000, 10_000, 19_000),
        connections_hold=35,
        connections_compression=("none", "deflate"),
        heartbeat_interval=30,
        storm_chargers=(10_000,),
        remote_chargers=1000,
        remote_starts=1000,
        connect_rate=500,
        paced_chargers=(1000,),
        paced_rates=(1.0, 2.0, 4.0),
        paced_seconds=30,
    ),
}


def sizes_for(name: str, **overrides: object) -> Sizes:
    """The ``name`` profile with the non-None ``overrides`` applied."""
    values = {k: v for k, v in overrides.items() if v is not None}
    return dataclasses.replace(SIZES[name], **values)  # type: ignore[arg-type]
