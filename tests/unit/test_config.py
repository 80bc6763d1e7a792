"""Config: TOML + CSMS_* environment overrides into frozen dataclasses; bad keys fail by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from csms.config import ConfigError, load_config


def test_defaults_without_file() -> None:
    """No file and no environment gives the documented defaults."""
    config = load_config(None, env={})
    assert (config.ocpp.port, config.api.port) == (9000, 8000)
    assert config.storage.url == "sqlite+aiosqlite:///./data/csms.db"
    assert config.authorization.unknown_tokens == "reject"
    assert config.sessions.update_interval == 10.0


def test_file_then_environment_precedence(tmp_path: Path) -> None:
    """Environment variables override the file, which overrides defaults."""
    path = tmp_path / "c.toml"
    path.write_text("[ocpp]\nport = 9100\nauto_register = true\n[tariff]\nprice_per_kwh = 1\n")
    config = load_config(path, env={"CSMS_OCPP_PORT": "9200", "CSMS_OCPP_AUTO_REGISTER": "false"})
    assert config.ocpp.port == 9200 and config.ocpp.auto_register is False
    assert config.tariff.price_per_kwh == 1.0


def test_unrelated_csms_variables_are_ignored() -> None:
    """A CSMS_* variable whose middle part is not a config section (e.g. a test switch) is ignored."""
    assert load_config(None, env={"CSMS_REQUIRE_POSTGRES": "1"}).ocpp.port == 9000


def test_csms_config_env_names_the_file(tmp_path: Path) -> None:
    """CSMS_CONFIG points at the file when no path is given."""
    path = tmp_path / "c.toml"
    path.write_text("[api]\nport = 8100\n")
    assert load_config(None, env={"CSMS_CONFIG": str(path)}).api.port == 8100


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ("[ocpp]\nprot = 1\n", {}, "[ocpp] prot"),
        ("[nope]\n", {}, "nope"),
        ('[ocpp]\nport = "x"\n', {}, "[ocpp] port"),
        ("", {"CSMS_OCPP_PROT": "1"}, "CSMS_OCPP_PROT"),
        ("", {"CSMS_OCPP_PORT": "abc"}, "CSMS_OCPP_PORT"),
        ('[authorization]\nunknown_tokens = "maybe"\n', {}, "unknown_tokens"),
        ("[sessions]\nupdate_interval = -1\n", {}, "[sessions] update_interval"),
        ("", {"CSMS_SESSIONS_UPDATE_INTERVAL": "nan"}, "[sessions] update_interval"),
    ],
)
def test_bad_keys_and_values_fail_naming_them(
    tmp_path: Path, text: str, env: dict[str, str], message: str
) -> None:
    """An unknown key or a wrongly typed value stops start-up with the key in the message."""
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_config(path, env=env)


def test_example_config_toml_loads() -> None:
    """The documented config.toml at the repo root is valid."""
    root = Path(__file__).resolve().parents[2]
    config = load_config(root / "config.toml", env={})
    assert config.ocpp.port == 9000


def test_tls_keys_without_a_certificate_fail() -> None:
    """A TLS key or client CA without [ocpp] tls_cert_file is a mistake named at start."""
    with pytest.raises(ConfigError, match="tls_key_file is set but tls_cert_file is not"):
        load_config(None, env={"CSMS_OCPP_TLS_KEY_FILE": "server.key"})
    with pytest.raises(ConfigError, match="tls_client_ca_file is set but tls_cert_file"):
        load_config(None, env={"CSMS_OCPP_TLS_CLIENT_CA_FILE": "ca.pem"})
    with pytest.raises(ConfigError, match="tls_port must differ"):
        load_config(None, env={"CSMS_OCPP_TLS_CERT_FILE": "s.pem", "CSMS_OCPP_TLS_PORT": "9000"})


def test_tls_files_that_do_not_load_fail_naming_the_key(tmp_path: Path) -> None:
    """A certificate or client CA file that is missing or not PEM stops start-up by key."""
    from csms.bootstrap import tls_context
    from tests.certs import TestCa

    missing = load_config(None, env={"CSMS_OCPP_TLS_CERT_FILE": str(tmp_path / "no.pem")})
    with pytest.raises(ConfigError, match="tls_cert_file"):
        tls_context(missing.ocpp)
    pair = TestCa(tmp_path).server()
    (tmp_path / "junk.pem").write_text("junk\n")
    env = {
        "CSMS_OCPP_TLS_CERT_FILE": str(pair.cert),
        "CSMS_OCPP_TLS_KEY_FILE": str(pair.key),
        "CSMS_OCPP_TLS_CLIENT_CA_FILE": str(tmp_path / "junk.pem"),
    }
    with pytest.raises(ConfigError, match="tls_client_ca_file"):
        tls_context(load_config(None, env=env).ocpp)
    assert tls_context(load_config(None, env={}).ocpp) is None


def test_session_update_interval_zero_is_allowed(tmp_path: Path) -> None:
    """[sessions] update_interval = 0 (a session.updated per metered message) is a valid value."""
    path = tmp_path / "c.toml"
    path.write_text("[sessions]\nupdate_interval = 0\n")
    assert load_config(path, env={}).sessions.update_interval == 0.0
