"""What a fleet run does: one frozen, picklable value that every worker process receives.

``charger-sim fleet`` builds it from the command line (:func:`add_arguments`,
:func:`from_args`); in-process callers build it directly. A bad value raises
:class:`UsageError` naming the option, which the command line turns into exit code 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from charger_sim.auth import client_tls
from charger_sim.runner import ProtocolVersion

FleetProtocol = Literal["1.6", "2.0.1", "mix"]
Compression = Literal["deflate", "none"]

MAX_ID_LENGTH = 48  # OCPP 2.0.1 identity (and most 1.6 CSMSs): at most 48 characters


class UsageError(ValueError):
    """An option value the fleet cannot run with; the message names the option."""


@dataclass(frozen=True, slots=True)
class FleetOptions:
    """Every knob of a fleet run; the field names are the CLI options without ``--``."""

    url: str
    count: int = 1
    protocol: FleetProtocol = "mix"
    workers: int = 1
    id_prefix: str = "SIM"
    first_id: int = 1
    password: str | None = None
    ca_file: str | None = None
    id_tag: str = "SIMTAG01"
    sessions_per_hour: float = 0.0
    session_minutes: float = 30.0
    power_kw: float = 11.0
    meter_interval: float = 60.0
    time_scale: float = 1.0
    flood: bool = False
    duration: float = 0.0
    ramp_up: float = 0.0
    reconnect: float = 5.0
    compression: Compression = "deflate"
    open_timeout: float = 30.0
    call_timeout: float = 30.0
    max_size: int = 65536
    ping_interval: float = 0.0
    seed: int | None = None
    summary: str | None = None
    quiet: bool = False

    def __post_init__(self) -> None:
        if not self.url.startswith(("ws://", "wss://")):
            raise UsageError(f"--url must start with ws:// or wss://, not {self.url!r}")
        if self.protocol not in ("1.6", "2.0.1", "mix"):
            raise UsageError(f"--protocol must be 1.6, 2.0.1 or mix, not {self.protocol!r}")
        if self.compression not in ("deflate", "none"):
            raise UsageError(f"--compression must be deflate or none, not {self.compression!r}")
        _at_least("--count", self.count, 1)
        _at_least("--workers", self.workers, 1)
        if self.workers > self.count:
            raise UsageError(f"--workers {self.workers} is more than --count {self.count}")
        _at_least("--first-id", self.first_id, 0)
        _at_least("--max-size", self.max_size, 1024)
        for name in ("sessions_per_hour", "duration", "ramp_up", "reconnect", "ping_interval"):
            _at_least(_flag(name), getattr(self, name), 0)
        for name in ("session_minutes", "power_kw", "meter_interval", "time_scale"):
            _positive(_flag(name), getattr(self, name))
        for name in ("open_timeout", "call_timeout"):
            _positive(_flag(name), getattr(self, name))
        if self.flood and self.sessions_per_hour > 0:
            raise UsageError("--flood and --sessions-per-hour exclude each other; choose one")
        if self.ca_file is not None:
            _trusts(self.url, self.ca_file)
        if any(c in self.id_prefix for c in "/:?#% "):
            raise UsageError(f"--id-prefix {self.id_prefix!r} has a character not allowed in ids")
        longest = self.charger_id(self.count - 1)
        if len(longest) > MAX_ID_LENGTH:
            raise UsageError(f"charger id {longest!r} is longer than {MAX_ID_LENGTH} characters")

    def charger_id(self, index: int) -> str:
        """The id of charger ``index`` (0-based): prefix + zero-padded number, e.g. SIM00001."""
        width = max(5, len(str(self.first_id + self.count - 1)))
        return f"{self.id_prefix}{self.first_id + index:0{width}d}"

    def protocol_of(self, index: int) -> ProtocolVersion:
        """``mix`` alternates by index: even 1.6, odd 2.0.1."""
        if self.protocol == "mix":
            return "1.6" if index % 2 == 0 else "2.0.1"
        return self.protocol

    def slices(self) -> list[range]:
        """The charger indexes of each worker: contiguous, sizes differing by at most one."""
        bounds = [self.count * w // self.workers for w in range(self.workers + 1)]
        return [range(bounds[w], bounds[w + 1]) for w in range(self.workers)]

    def public(self) -> dict[str, Any]:
        """The parameters for the summary, without the password."""
        values = dataclasses.asdict(self)
        values["password"] = None if self.password is None else "***"
        return values


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``charger-sim fleet`` options (documented in docs/charger-sim-fleet.md)."""
    d = FleetOptions("ws://x")
    add = parser.add_argument
    add("--url", required=True, help="CSMS URL; each charger id is appended")
    add("--count", type=int, default=d.count, help="number of chargers")
    add("--protocol", choices=["1.6", "2.0.1", "mix"], default=d.protocol, help="mix alternates")
    add("--workers", type=int, default=d.workers, help="processes sharing the chargers")
    add("--id-prefix", default=d.id_prefix, help="charger ids are PREFIX + a zero-padded number")
    add("--first-id", type=int, default=d.first_id, help="number of the first charger id")
    add("--password", help="Basic auth password, the same for every charger")
    add("--ca-file", help="PEM CA certificate(s) to trust for a wss:// URL")
    add("--id-tag", default=d.id_tag, help="the token every session authorizes with")
    add("--sessions-per-hour", type=float, default=d.sessions_per_hour, help="per charger")
    add("--session-minutes", type=float, default=d.session_minutes, help="mean session length")
    add("--power-kw", type=float, default=d.power_kw, help="constant AC charging power")
    add("--meter-interval", type=float, default=d.meter_interval, help="simulated s per sample")
    add("--time-scale", type=float, default=d.time_scale, help="simulated s per wall second")
    add("--flood", action="store_true", help="one transaction each, samples back-to-back")
    add("--duration", type=float, default=d.duration, help="seconds; 0 = until interrupted")
    add("--ramp-up", type=float, default=d.ramp_up, help="seconds to spread connects over")
    add("--reconnect", type=float, default=d.reconnect, help="retry delay, s; 0 = never retry")
    add("--compression", choices=["deflate", "none"], default=d.compression)
    add("--open-timeout", type=float, default=d.open_timeout, help="WebSocket handshake, s")
    add("--call-timeout", type=float, default=d.call_timeout, help="seconds to wait for answers")
    add("--max-size", type=int, default=d.max_size, help="largest frame accepted, bytes")
    add("--ping-interval", type=float, default=d.ping_interval, help="WebSocket pings; 0 = off")
    add("--seed", type=int, help="random seed for session timing")
    add("--summary", metavar="FILE", help="also write the summary JSON to FILE")
    add("--quiet", action="store_true", help="no progress line")


def from_args(args: argparse.Namespace) -> FleetOptions:
    """The options from parsed arguments; raises :class:`UsageError` for a bad value."""
    names = {f.name for f in dataclasses.fields(FleetOptions)}
    return FleetOptions(**{k: v for k, v in vars(args).items() if k in names})


def _trusts(url: str, ca_file: str) -> None:
    """``--ca-file`` goes with ``wss://`` and must load as PEM CA certificates."""
    if not url.startswith("wss://"):
        raise UsageError("--ca-file needs a wss:// --url")
    try:
        client_tls(Path(ca_file))
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(f"--ca-file {ca_file!r} cannot be loaded: {exc}") from exc


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _at_least(flag: str, value: float, minimum: float) -> None:
    if not value >= minimum:  # also refuses NaN
        raise UsageError(f"{flag} must be at least {minimum}, not {value}")


def _positive(flag: str, value: float) -> None:
    if not value > 0:
        raise UsageError(f"{flag} must be more than 0, not {value}")
