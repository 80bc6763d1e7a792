"""The charger's device model: 1.6 configuration keys and 2.0.1 components/variables. No I/O.

Each :class:`Setting` is named for both versions where both have it (1.6 ``HeartbeatInterval``
is 2.0.1 ``OCPPCommCtrlr.HeartbeatInterval``), so a change made through either protocol is the
same change, and the charger reads the values it acts on from here: the heartbeat period, how
long a remote start waits for the EV, the transaction-message retries and the Basic auth
password of the next connection. The runner hears of every change through :meth:`Device.watch`.

Only the ``Actual`` attribute of a 2.0.1 variable exists. Values are text as on the wire:
integers, ``true``/``false``, comma-separated lists of measurands. An integer setting seeded
with a fraction of a second (a fast test's 0.2 s retry interval) is reported rounded up, as an
integer, while the charger goes on acting on the exact seed until the CSMS writes a value
(:attr:`Setting.exact`). The sampling settings tell the truth about the scenario's
``measurands`` and ``clock_aligned_interval``; changing them is stored only.

The 1.6 ``AuthorizationKey`` is written hex-encoded (16 to 20 bytes, as the 1.6 security
whitepaper and OCTT TC_073 send it); 2.0.1 ``BasicAuthPassword`` as plain text of 16 to 40
characters. Both are write-only.
"""

from __future__ import annotations

import binascii
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Literal

from charger_sim.model import Evse, Station

Kind = Literal["integer", "boolean", "MemberList", "OptionList", "string", "password"]
Mutability = Literal["ReadOnly", "WriteOnly", "ReadWrite"]
Version = Literal["1.6", "2.0.1"]

# The settings the charger itself acts on, by their canonical (1.6) names.
HEARTBEAT_INTERVAL = "HeartbeatInterval"
CONNECTION_TIMEOUT = "ConnectionTimeOut"
MESSAGE_ATTEMPTS = "TransactionMessageAttempts"
MESSAGE_RETRY_INTERVAL = "TransactionMessageRetryInterval"
PASSWORD = "AuthorizationKey"

ENERGY = "Energy.Active.Import.Register"
_MEASURANDS_16 = frozenset(
    [
        "Current.Export",
        "Current.Import",
        "Current.Offered",
        "Energy.Active.Export.Register",
        "Energy.Active.Import.Register",
        "Energy.Reactive.Export.Register",
        "Energy.Reactive.Import.Register",
        "Energy.Active.Export.Interval",
        "Energy.Active.Import.Interval",
        "Energy.Reactive.Export.Interval",
        "Energy.Reactive.Import.Interval",
        "Frequency",
        "Power.Active.Export",
        "Power.Active.Import",
        "Power.Factor",
        "Power.Offered",
        "Power.Reactive.Export",
        "Power.Reactive.Import",
        "RPM",
        "SoC",
        "Temperature",
        "Voltage",
    ]
)
MEASURANDS_201 = (_MEASURANDS_16 - {"RPM", "Temperature"}) | frozenset(
    [
        "Energy.Active.Net",
        "Energy.Reactive.Net",
        "Energy.Apparent.Net",
        "Energy.Apparent.Import",
        "Energy.Apparent.Export",
    ]
)
_MEASURANDS: dict[Version, frozenset[str]] = {"1.6": _MEASURANDS_16, "2.0.1": MEASURANDS_201}
AVAILABILITY = "Available,Occupied,Reserved,Unavailable,Faulted"


@dataclass(frozen=True, slots=True)
class Name201:
    """Where a setting lives in the 2.0.1 device model."""

    component: str
    variable: str
    instance: str | None = None  # the variable's instance (MessageAttempts: TransactionEvent)
    evse: int | None = None  # an EVSE-level component's EVSE id
    connector: int | None = None  # a connector-level component's connector id
    component_instance: str | None = None


@dataclass(slots=True)
class Setting:
    name: str  # the 1.6 key, or ``Component.Variable[.instance]`` for 2.0.1-only settings
    kind: Kind
    value: str
    mutability: Mutability = "ReadWrite"
    v201: Name201 | None = None
    in16: bool = True  # a 1.6 configuration key called ``name``
    reboot: bool = False  # a change takes effect after a reboot (answered RebootRequired)
    minimum: int = 0
    read: Callable[[], str] | None = field(default=None, repr=False)  # a live value
    exact: float | None = None  # a fractional seed the charger acts on; ``value`` rounds it up

    @property
    def current(self) -> str:
        return self.read() if self.read is not None else self.value


@dataclass(frozen=True, slots=True)
class Seeds:
    """Start values from the scenario's ``[charger]`` table and the connection settings."""

    connection_timeout: float = 120.0
    message_attempts: int = 3
    message_retry_interval: float = 5.0
    password: str | None = None
    security_profile: int = 0


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of a write: a status named as both versions name it, and why if refused."""

    status: Literal["Accepted", "Rejected", "RebootRequired"]
    reason: str | None = None  # a 2.0.1 reasonCode (at most 20 characters)


class Device:
    def __init__(self, settings: list[Setting]) -> None:
        self._settings = {s.name: s for s in settings}
        self._watchers: list[Callable[[str], None]] = []

    @classmethod
    def build(cls, station: Station, seeds: Seeds | None = None) -> Device:
        return cls(_settings(station, seeds or Seeds()))

    def watch(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(name)`` after every change of a setting's value."""
        self._watchers.append(callback)

    def get(self, name: str) -> str:
        return self._settings[name].current

    def number(self, name: str) -> float:
        """The value the charger acts on: the exact seed until the CSMS writes one."""
        setting = self._settings[name]
        if setting.exact is not None:
            return setting.exact
        return float(setting.current or 0)

    def set(self, name: str, value: str) -> None:
        """Change a value from inside the charger (a boot interval), without any checks."""
        setting = self._settings[name]
        setting.value, setting.exact = value, None
        for callback in self._watchers:
            callback(name)

    # -- 1.6 --------------------------------------------------------------------------------

    def keys16(self) -> list[Setting]:
        """Every readable 1.6 key (a write-only key is never reported)."""
        return [s for s in self._settings.values() if s.in16 and s.mutability != "WriteOnly"]

    def find16(self, key: str) -> Setting | None:
        """The 1.6 key called ``key`` (keys are case-insensitive, CiString50)."""
        wanted = key.casefold()
        return next(
            (s for s in self._settings.values() if s.in16 and s.name.casefold() == wanted), None
        )

    # -- 2.0.1 ------------------------------------------------------------------------------

    def variables(self) -> list[Setting]:
        return [s for s in self._settings.values() if s.v201 is not None]

    def find201(self, name: Name201) -> Setting | Literal["UnknownComponent", "UnknownVariable"]:
        """The variable at ``name``; names compare case-insensitively, instances exactly."""
        here = [
            s
            for s in self.variables()
            if s.v201 is not None
            and s.v201.component.casefold() == name.component.casefold()
            and (s.v201.evse, s.v201.connector) == (name.evse, name.connector)
            and s.v201.component_instance == name.component_instance
        ]
        if not here:
            return "UnknownComponent"
        for s in here:
            assert s.v201 is not None
            if s.v201.variable.casefold() == name.variable.casefold() and (
                s.v201.instance == name.instance
            ):
                return s
        return "UnknownVariable"

    # -- both -------------------------------------------------------------------------------

    def write(self, setting: Setting, raw: str, version: Version) -> Outcome:
        """Change a setting as the CSMS asked; refused if read-only or not a valid value."""
        if setting.mutability == "ReadOnly" or setting.read is not None:
            return Outcome("Rejected", "ReadOnly")
        value = _parse(setting, raw, version)
        if value is None:
            return Outcome("Rejected", "InvalidValue")
        self.set(setting.name, value)
        return Outcome("RebootRequired" if setting.reboot else "Accepted")


def _parse(setting: Setting, raw: str, version: Version) -> str | None:
    """The value to store for ``raw``, or None if it is not valid for the setting."""
    text = raw.strip()
    if setting.kind == "integer":
        return str(int(text)) if text.isdigit() and int(text) >= setting.minimum else None
    if setting.kind == "boolean":
        return text.lower() if text.lower() in ("true", "false") else None
    if setting.kind == "MemberList":
        items = [item.strip() for item in text.split(",")] if text else []
        ok = all(item in _MEASURANDS[version] for item in items)
        return ",".join(items) if ok else None
    if setting.kind == "password":
        return _password(raw, version)
    return raw if len(raw) <= 500 else None


def _password(raw: str, version: Version) -> str | None:
    """1.6: hex of 16 to 20 bytes of text; 2.0.1: 16 to 40 characters as they are."""
    if version == "2.0.1":
        return raw if 16 <= len(raw) <= 40 and raw.isprintable() else None
    try:
        secret = binascii.unhexlify(raw.strip())
        text = secret.decode()  # our link sends a text password in the Basic auth header
    except (binascii.Error, ValueError):
        return None
    return text if 16 <= len(secret) <= 20 and text.isprintable() else None


def _seconds(name: str, seed: float, v201: Name201) -> Setting:
    """An integer setting in seconds seeded from a float: whole seconds as they are; a fraction
    reported rounded up (so at least 1) and kept exact for the charger to act on."""
    if float(seed).is_integer():
        return Setting(name, "integer", str(int(seed)), v201=v201)
    return Setting(name, "integer", str(math.ceil(seed)), v201=v201, exact=seed)


def _availability(evse: Evse) -> str:
    if not evse.available:
        return "Unavailable"
    return "Available" if evse.state == "Available" else "Occupied"


def _settings(station: Station, seeds: Seeds) -> list[Setting]:
    def at(component: str, variable: str, instance: str | None = None) -> Name201:
        return Name201(component, variable, instance)

    sampled, aligned, comm = "SampledDataCtrlr", "AlignedDataCtrlr", "OCPPCommCtrlr"
    metering = station.metering  # periodic and clock-aligned samples hold the same measurands
    measurands = ",".join(metering.measurands)
    items = [
        Setting(HEARTBEAT_INTERVAL, "integer", "0", v201=at(comm, "HeartbeatInterval")),
        _seconds(
            CONNECTION_TIMEOUT, seeds.connection_timeout, at("TxCtrlr", "EVConnectionTimeOut")
        ),
        Setting("MeterValueSampleInterval", "integer", "60", v201=at(sampled, "TxUpdatedInterval")),
        Setting(
            "MeterValuesSampledData",
            "MemberList",
            measurands,
            v201=at(sampled, "TxUpdatedMeasurands"),
        ),
        _seconds(
            "ClockAlignedDataInterval", metering.clock_aligned_interval, at(aligned, "Interval")
        ),
        Setting("MeterValuesAlignedData", "MemberList", measurands, v201=at(aligned, "Measurands")),
        Setting("StopTxnSampledData", "MemberList", ENERGY, v201=at(sampled, "TxEndedMeasurands")),
        Setting(
            MESSAGE_ATTEMPTS,
            "integer",
            str(seeds.message_attempts),
            v201=at(comm, "MessageAttempts", "TransactionEvent"),
            minimum=1,
        ),
        _seconds(
            MESSAGE_RETRY_INTERVAL,
            seeds.message_retry_interval,
            at(comm, "MessageAttemptInterval", "TransactionEvent"),
        ),
        Setting("NumberOfConnectors", "integer", str(len(station.evses)), "ReadOnly"),
        # The simulator never authorizes a remote start itself (1.6 allows this key read-only).
        Setting(
            "AuthorizeRemoteTxRequests",
            "boolean",
            "false",
            "ReadOnly",
            v201=at("AuthCtrlr", "AuthorizeRemoteStart"),
        ),
        Setting(
            "LocalAuthorizeOffline",
            "boolean",
            "true",
            v201=at("AuthCtrlr", "LocalAuthorizeOffline"),
        ),
        Setting("LocalPreAuthorize", "boolean", "false", v201=at("AuthCtrlr", "LocalPreAuthorize")),
        Setting(
            PASSWORD,
            "password",
            seeds.password or "",
            "WriteOnly",
            v201=at("SecurityCtrlr", "BasicAuthPassword"),
        ),
        Setting(
            "SecurityProfile",
            "integer",
            str(seeds.security_profile),
            "ReadOnly",
            v201=at("SecurityCtrlr", "SecurityProfile"),
        ),
        Setting("SupportedFeatureProfiles", "string", "Core,RemoteTrigger", "ReadOnly"),
        Setting("GetConfigurationMaxKeys", "integer", "64", "ReadOnly"),
        Setting(
            "WebSocketPingInterval",
            "integer",
            "20",
            v201=at(comm, "WebSocketPingInterval"),
            reboot=True,
        ),
        # An unplug always stops the transaction and releases the cable here: read-only.
        Setting(
            "UnlockConnectorOnEVSideDisconnect",
            "boolean",
            "true",
            "ReadOnly",
            v201=at(comm, "UnlockOnEVSideDisconnect"),
        ),
        Setting(
            "StopTransactionOnEVSideDisconnect",
            "boolean",
            "true",
            "ReadOnly",
            v201=at("TxCtrlr", "StopTxOnEVSideDisconnect"),
        ),
    ]
    for instance in ("GetVariables", "SetVariables"):
        name = at("DeviceDataCtrlr", "ItemsPerMessage", instance)
        items.append(
            Setting(
                f"DeviceDataCtrlr.ItemsPerMessage.{instance}",
                "integer",
                "20",
                "ReadOnly",
                name,
                in16=False,
            )
        )
    for evse in station.evses.values():
        name = Name201("EVSE", "AvailabilityState", evse=evse.id)
        items.append(
            Setting(
                f"EVSE.{evse.id}.AvailabilityState",
                "OptionList",
                "",
                "ReadOnly",
                name,
                in16=False,
                read=partial(_availability, evse),
            )
        )
    return items
