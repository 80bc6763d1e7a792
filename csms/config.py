"""Configuration: ``config.toml`` parsed once into frozen dataclasses.

Precedence: built-in defaults < the TOML file < ``CSMS_<SECTION>_<KEY>`` environment variables.
An unknown section or key, or a value of the wrong type, fails at start naming the key.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints


class ConfigError(Exception):
    pass


@dataclass(frozen=True)
class OcppConfig:
    host: str = "0.0.0.0"
    port: int = 9000
    auto_register: bool = False
    heartbeat_interval: int = 300
    call_timeout: float = 30.0
    max_frame_bytes: int = 65536
    ping_interval: float = 30.0
    ping_timeout: float = 30.0
    compression: bool = True
    # A TLS listener for security profiles 2 and 3 (ADR 0007) comes up when tls_cert_file is set.
    tls_port: int = 9443
    tls_cert_file: str = ""
    tls_key_file: str = ""  # "" = the key is in tls_cert_file
    tls_client_ca_file: str = ""  # "" = no client certificates asked for (no profile 3)
    max_messages_per_second: float = 0.0  # per connection; 0 = no limit
    message_burst: int = 0  # CALLs a charger may send at once; 0 = one second's worth

    def __post_init__(self) -> None:
        if not self.tls_cert_file:
            for key in ("tls_key_file", "tls_client_ca_file"):
                if getattr(self, key):
                    raise ConfigError(f"[ocpp] {key} is set but tls_cert_file is not")
        elif self.tls_port == self.port and self.port != 0:
            raise ConfigError(f"[ocpp] tls_port must differ from port ({self.port})")
        if self.max_messages_per_second < 0 or self.message_burst < 0:
            raise ConfigError(
                "[ocpp] max_messages_per_second and message_burst must be >= 0 (0 = off / "
                f"one second's worth), not {self.max_messages_per_second} / {self.message_burst}"
            )

    @property
    def tls(self) -> bool:
        return bool(self.tls_cert_file)


@dataclass(frozen=True)
class ApiConfig:
    host: str = "0.0.0.0"
    port: int = 8000
    max_body_bytes: int = 1_048_576  # larger request bodies get 413; 0 = no limit

    def __post_init__(self) -> None:
        if self.max_body_bytes < 0:
            raise ConfigError(f"[api] max_body_bytes must be >= 0, not {self.max_body_bytes}")


@dataclass(frozen=True)
class StorageConfig:
    url: str = "sqlite+aiosqlite:///./data/csms.db"


@dataclass(frozen=True)
class AuthorizationConfig:
    unknown_tokens: str = "reject"

    def __post_init__(self) -> None:
        if self.unknown_tokens not in ("reject", "accept"):
            raise ConfigError(
                f"[authorization] unknown_tokens must be 'reject' or 'accept', "
                f"not {self.unknown_tokens!r}"
            )


@dataclass(frozen=True)
class SessionsConfig:
    plugin_timeout: float = 120.0
    expiry_check_interval: float = 1.0
    # At most one session.updated per session per N seconds from meter values (ADR 0010);
    # 0 = one per metered message.
    update_interval: float = 10.0

    def __post_init__(self) -> None:
        if not self.update_interval >= 0:  # also refuses nan
            raise ConfigError(
                f"[sessions] update_interval must be >= 0 (0 = every metered message), "
                f"not {self.update_interval}"
            )


@dataclass(frozen=True)
class TariffConfig:
    currency: str = "EUR"
    price_per_kwh: float = 0.30
    price_per_minute: float = 0.0
    session_fee: float = 0.0


@dataclass(frozen=True)
class WebhooksConfig:
    max_attempts: int = 12
    retry_base: float = 2.0
    retry_max: float = 900.0
    timeout: float = 10.0


@dataclass(frozen=True)
class OioiConfig:
    partner_url: str = ""
    partner_identifier: str = ""
    api_key: str = ""


@dataclass(frozen=True)
class OcpiConfig:
    country_code: str = "NL"
    party_id: str = "CSM"
    business_name: str = "CSMS"
    public_url: str = ""
    command_timeout: int = 60
    address: str = "unknown"
    city: str = "unknown"
    postal_code: str = ""
    country: str = "NLD"
    latitude: str = "0.000000"
    longitude: str = "0.000000"
    time_zone: str = "Europe/Amsterdam"
    connector_standard: str = "IEC_62196_T2"
    connector_format: str = "SOCKET"
    power_type: str = "AC_3_PHASE"
    max_voltage: int = 230
    max_amperage: int = 32

    def __post_init__(self) -> None:
        if len(self.country_code) != 2 or len(self.party_id) != 3:
            raise ConfigError(
                "[ocpi] country_code must have 2 characters and party_id 3, "
                f"not {self.country_code!r} / {self.party_id!r}"
            )


@dataclass(frozen=True)
class LoggingConfig:
    level: str = "INFO"


@dataclass(frozen=True)
class Config:
    ocpp: OcppConfig = field(default_factory=OcppConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    authorization: AuthorizationConfig = field(default_factory=AuthorizationConfig)
    sessions: SessionsConfig = field(default_factory=SessionsConfig)
    tariff: TariffConfig = field(default_factory=TariffConfig)
    webhooks: WebhooksConfig = field(default_factory=WebhooksConfig)
    oioi: OioiConfig = field(default_factory=OioiConfig)
    ocpi: OcpiConfig = field(default_factory=OcpiConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Load ``path`` (or ``$CSMS_CONFIG``; none = defaults), then apply env overrides."""
    env = os.environ if env is None else env
    path = path or env.get("CSMS_CONFIG")
    data: dict[str, Any] = {}
    if path:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    sections = {}
    for f in dataclasses.fields(Config):
        raw = data.pop(f.name, {})
        if not isinstance(raw, dict):
            raise ConfigError(f"[{f.name}] must be a table")
        sections[f.name] = _section(f.name, get_type_hints(Config)[f.name], raw, env)
    if data:
        raise ConfigError(f"unknown config section(s): {', '.join(sorted(data))}")
    for name in env:
        if name.startswith("CSMS_") and name != "CSMS_CONFIG":
            section, _, key = name[5:].lower().partition("_")
            # CSMS_<SECTION>_<KEY> with a known section but an unknown key is a typo: fail.
            if section in sections and key not in _keys(type(sections[section])):
                raise ConfigError(f"unknown config environment variable {name}")
    return Config(**sections)


def _keys(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def _section(name: str, cls: type, raw: dict[str, Any], env: Mapping[str, str]) -> Any:
    hints = get_type_hints(cls)
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in hints:
            raise ConfigError(f"unknown config key [{name}] {key}")
        values[key] = _coerce(f"[{name}] {key}", hints[key], value)
    for key in hints:
        env_name = f"CSMS_{name.upper()}_{key.upper()}"
        if env_name in env:
            values[key] = _coerce(env_name, hints[key], env[env_name], from_env=True)
    return cls(**values)


def _coerce(label: str, kind: type, value: Any, from_env: bool = False) -> Any:
    if from_env and isinstance(value, str):
        if kind is bool:
            lowered = value.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ConfigError(f"{label} must be true or false, not {value!r}")
        if kind in (int, float):
            try:
                return kind(value)
            except ValueError:
                raise ConfigError(f"{label} must be a number, not {value!r}") from None
        return value
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{label} must be of type {kind.__name__}, not {value!r}")
    return value
