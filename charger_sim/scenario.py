"""Scenarios as data: a TOML file with a ``[charger]`` table and ``[[steps]]``.

The format is documented in ``charger_sim/scenarios/README.md``. :func:`load` validates the
whole file before anything connects, and a bad file fails with :class:`ScenarioError` naming
the key (``steps[2]: unknown key 'kwhh' for action 'charge'``).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from charger_sim.sampling import ENERGY, MeterSpec, check

SCENARIO_DIR = Path(__file__).parent / "scenarios"


class ScenarioError(ValueError):
    """The scenario file is not valid; the message names the table, step and key."""


@dataclass(frozen=True, slots=True)
class ChargerSpec:
    vendor: str = "ChargerSim"
    model: str = "SimAC22"
    serial_number: str = "SIM-0001"
    firmware_version: str = "0.1.0"
    evses: int = 1
    meter_start_wh: int = 1_000
    power_kw: float = 11.0
    time_scale: float = 1.0
    id_tag: str = "SIMTAG01"
    call_timeout: float = 30.0
    message_attempts: int = 3
    message_retry_interval: float = 5.0
    reconnect_min: float = 1.0
    reconnect_max: float = 30.0
    reconnect_random: float = 1.0
    ev_connection_timeout: float = 120.0
    clock_skew_s: float = 0.0
    answer_delay: float = 0.0
    send_subprotocol: bool = True
    kind: str = "AC"
    max_power_kw: float = 50.0
    battery_kwh: float = 60.0
    soc_start: float = 20.0
    soc_target: float = 100.0
    measurands: tuple[str, ...] = (ENERGY,)
    meter_unit: str = "Wh"
    clock_aligned_interval: float = 0.0
    reject_remote_start: bool = False
    reject_remote_stop: bool = False
    reject_reset: bool = False
    unlock_fails: bool = False


@dataclass(frozen=True, slots=True)
class Step:
    index: int
    action: str
    evse: int = 1
    id_tag: str | None = None
    kwh: float | None = None
    seconds: float | None = None
    power_kw: float | None = None
    sample_interval: float = 60.0
    reason: str = "Local"
    timeout: float = 60.0
    expect_status: str | None = None
    expect_id_tag_status: str | None = None
    expect_transaction_id: bool | None = None
    message: str | None = None
    count: int = 1
    drop_link: bool = False
    frame: str | None = None
    payload: dict[str, Any] | None = None
    expect_error: str | None = None
    by: str = "EV"

    @property
    def name(self) -> str:
        return f"steps[{self.index}] ({self.action})"


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    charger: ChargerSpec
    steps: tuple[Step, ...]


# Which keys each action takes (besides ``action``).
ACTIONS: dict[str, frozenset[str]] = {
    "boot": frozenset({"expect_status", "timeout"}),
    "plug": frozenset({"evse"}),
    "unplug": frozenset({"evse"}),
    "authorize": frozenset({"id_tag", "expect_id_tag_status"}),
    "start": frozenset({"evse", "id_tag", "expect_id_tag_status", "expect_transaction_id"}),
    "charge": frozenset({"evse", "kwh", "seconds", "power_kw", "sample_interval"}),
    "stop": frozenset({"evse", "id_tag", "reason", "expect_id_tag_status"}),
    "wait_remote_start": frozenset({"timeout"}),
    "wait_remote_stop": frozenset({"timeout"}),
    "go_offline": frozenset(),
    "come_back": frozenset({"timeout"}),
    "drop": frozenset({"timeout"}),
    "wait_queue": frozenset({"timeout"}),
    "lose_answer": frozenset({"message", "count", "drop_link"}),
    "send_raw": frozenset({"frame", "expect_error", "timeout"}),
    "call": frozenset({"message", "payload", "expect_status", "expect_error", "timeout"}),
    "suspend": frozenset({"evse", "by", "seconds", "sample_interval"}),
    "resume": frozenset({"evse"}),
    "idle": frozenset({"seconds"}),
    "wait_remote_start_timeout": frozenset({"timeout"}),
    "wait_call": frozenset({"message", "timeout"}),
    "reboot": frozenset({"timeout"}),
}
# The steps that only finish when the CSMS does something (a remote start or stop, any call):
# a scenario with one needs someone to play the CSMS's part (an operator, the REST API or a
# test driver). Every other ``wait_*`` step waits for the charger itself (``wait_queue``).
CSMS_WAITS = frozenset(
    {"wait_remote_start", "wait_remote_stop", "wait_remote_start_timeout", "wait_call"}
)
_REQUIRED: dict[str, tuple[str, ...]] = {
    "lose_answer": ("message",),
    "send_raw": ("frame",),
    "call": ("message",),
    "idle": ("seconds",),
    "wait_call": ("message",),
}
_STOP_REASONS = ("Local", "Remote", "EVDisconnected")
_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "dict": (dict,),
    "tuple": (list,),
}


def resolve(name_or_path: str) -> Path:
    """A path to a file, or the name of a shipped scenario (``remote_start``)."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        return path
    return SCENARIO_DIR / f"{name_or_path}.toml"


def load(name_or_path: str) -> Scenario:
    path = resolve(name_or_path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(f"no scenario {name_or_path!r} (looked for {path})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: {exc}") from exc
    return parse(data, name=path.stem)


def parse(data: dict[str, Any], *, name: str = "scenario") -> Scenario:
    unknown = set(data) - {"charger", "steps"}
    if unknown:
        raise ScenarioError(f"unknown top-level key {sorted(unknown)[0]!r}")
    charger = _charger(data.get("charger", {}))
    steps = data.get("steps")
    if not isinstance(steps, list) or not steps:
        raise ScenarioError("'steps' must be a non-empty array of tables ([[steps]])")
    return Scenario(name, charger, tuple(_step(i, raw) for i, raw in enumerate(steps)))


def _charger(raw: Any) -> ChargerSpec:
    if not isinstance(raw, dict):
        raise ScenarioError("'charger' must be a table")
    known = {f.name: f for f in fields(ChargerSpec)}
    for key, value in raw.items():
        if key not in known:
            raise ScenarioError(f"charger: unknown key {key!r} (allowed: {', '.join(known)})")
        _check_type(f"charger: {key!r}", value, str(known[key].type))
    if "measurands" in raw:
        raw = {**raw, "measurands": _measurands(raw["measurands"])}
    spec = ChargerSpec(**raw)
    _check_power(spec)
    if spec.evses < 1 or spec.power_kw <= 0 or spec.time_scale <= 0 or spec.meter_start_wh < 0:
        raise ScenarioError("charger: evses, power_kw and time_scale must be positive")
    if spec.message_attempts < 1 or spec.call_timeout <= 0 or spec.reconnect_min < 0:
        raise ScenarioError("charger: message_attempts and call_timeout must be positive")
    return spec


def _step(index: int, raw: Any) -> Step:
    where = f"steps[{index}]"
    if not isinstance(raw, dict):
        raise ScenarioError(f"{where}: must be a table")
    action = raw.get("action")
    if action not in ACTIONS:
        raise ScenarioError(
            f"{where}: 'action' must be one of {', '.join(ACTIONS)}; got {action!r}"
        )
    types = {f.name: str(f.type) for f in fields(Step)}
    for key, value in raw.items():
        if key == "action":
            continue
        if key not in ACTIONS[action]:
            allowed = ", ".join(sorted(ACTIONS[action]))
            raise ScenarioError(f"{where}: unknown key {key!r} for {action!r} (allowed: {allowed})")
        _check_type(f"{where}: {key!r}", value, types[key])
    for key in _REQUIRED.get(action, ()):
        if key not in raw:
            raise ScenarioError(f"{where}: {action!r} needs {key!r}")
    step = Step(index=index, **raw)
    if action == "charge" and (step.kwh is None) == (step.seconds is None):
        raise ScenarioError(f"{where}: 'charge' needs exactly one of 'kwh' or 'seconds'")
    if step.by not in ("EV", "EVSE"):
        raise ScenarioError(f"{where}: 'by' must be EV or EVSE; got {step.by!r}")
    if step.reason not in _STOP_REASONS:
        raise ScenarioError(f"{where}: 'reason' must be one of {', '.join(_STOP_REASONS)}")
    if (
        min(
            step.evse,
            step.sample_interval,
            step.timeout,
            step.kwh or 1,
            step.seconds or 1,
            step.power_kw or 1,
            step.count,
        )
        <= 0
    ):
        raise ScenarioError(f"{where}: numbers must be positive")
    return step


def _measurands(value: list[Any]) -> tuple[str, ...]:
    if not all(isinstance(m, str) for m in value):
        raise ScenarioError("charger: 'measurands' must be a list of strings")
    return tuple(value)


def _check_power(spec: ChargerSpec) -> None:
    """The power model and sampling keys: kind, battery, SoC range, measurands, unit."""
    if spec.kind not in ("AC", "DC"):
        raise ScenarioError(f"charger: 'kind' must be AC or DC; got {spec.kind!r}")
    if spec.max_power_kw <= 0 or spec.battery_kwh <= 0:
        raise ScenarioError("charger: max_power_kw and battery_kwh must be positive")
    if not 0 <= spec.soc_start < spec.soc_target <= 100:
        raise ScenarioError("charger: needs 0 <= soc_start < soc_target <= 100 (percent)")
    metering = MeterSpec(spec.measurands, spec.meter_unit, spec.clock_aligned_interval)
    problem = check(metering, dc=spec.kind == "DC")
    if problem is not None:
        raise ScenarioError(f"charger: {problem}")


def _check_type(where: str, value: Any, annotation: str) -> None:
    kind = annotation.split(" | ")[0].split("[")[0]
    ok = isinstance(value, _TYPES[kind])
    if kind in ("int", "float") and isinstance(value, bool):
        ok = False
    if not ok:
        name = "list" if kind == "tuple" else kind  # TOML arrays are lists
        raise ScenarioError(f"{where} must be {name}, got {type(value).__name__} {value!r}")
