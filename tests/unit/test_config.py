"""Settings: defaults, TOML file, AMPYRE_* environment, flags, and clear errors."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from ampyre.config import ConfigError, Settings, load_settings, replace


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ampyre.toml"
    path.write_text(text)
    return path


def test_defaults_match_the_documented_interface() -> None:
    s = load_settings(environ={})
    assert s.database_url == "sqlite+aiosqlite:///./var/ampyre.db"
    assert s.bus_url == "memory://"
    assert (s.host, s.ocpp_port, s.http_port) == ("127.0.0.1", 9000, 8000)
    assert s.auto_register is False
    assert s.bootstrap_token is None


def test_environment() -> None:
    s = load_settings(
        environ={
            "AMPYRE_DATABASE_URL": "postgresql+asyncpg://u@db/ampyre",
            "AMPYRE_OCPP_PORT": "9100",
            "AMPYRE_AUTO_REGISTER": "yes",
            "AMPYRE_PING_INTERVAL": "2.5",
            "AMPYRE_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.0.0/16,",
            "AMPYRE_BOOTSTRAP_TOKEN": "tok",
            "OTHER_OCPP_PORT": "1",
        }
    )
    assert s.database_url == "postgresql+asyncpg://u@db/ampyre"
    assert s.ocpp_port == 9100
    assert s.auto_register is True
    assert s.ping_interval == 2.5
    assert s.trusted_proxies == ["10.0.0.0/8", "192.168.0.0/16"]
    assert s.trusted_networks() == [
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("192.168.0.0/16"),
    ]
    assert s.bootstrap_token == "tok"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("TRUE", True), ("on", True), ("0", False), ("off", False), ("", False)],
)
def test_booleans(raw: str, expected: bool) -> None:
    assert load_settings(environ={"AMPYRE_AUTO_REGISTER": raw}).auto_register is expected


def test_empty_optional_string_is_none() -> None:
    assert load_settings(environ={"AMPYRE_BOOTSTRAP_TOKEN": ""}).bootstrap_token is None


def test_toml_file_top_level_and_section(tmp_path: Path) -> None:
    top = _toml(tmp_path, 'ocpp_port = 9001\nhost = "0.0.0.0"\nauto_register = true\n')
    s = load_settings(top, environ={})
    assert (s.ocpp_port, s.host, s.auto_register) == (9001, "0.0.0.0", True)
    section = _toml(tmp_path, '[ampyre]\nhttp_port = 8081\ntrusted_proxies = ["10.0.0.0/8"]\n')
    s = load_settings(section, environ={})
    assert s.http_port == 8081
    assert s.trusted_proxies == ["10.0.0.0/8"]


def test_precedence_flags_over_env_over_file_over_defaults(tmp_path: Path) -> None:
    path = _toml(tmp_path, "ocpp_port = 9001\nhttp_port = 8001\nheartbeat_interval = 77\n")
    env = {"AMPYRE_OCPP_PORT": "9002", "AMPYRE_HTTP_PORT": "8002"}
    s = load_settings(path, overrides={"ocpp_port": 9003, "http_port": None}, environ=env)
    assert s.ocpp_port == 9003  # flag
    assert s.http_port == 8002  # env (a None flag means "not given")
    assert s.heartbeat_interval == 77  # file
    assert s.call_timeout == Settings().call_timeout  # default


def test_process_environment_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AMPYRE_HTTP_PORT", "8123")
    assert load_settings().http_port == 8123


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"AMPYRE_OCPP_PORT": "nine"}, "AMPYRE_OCPP_PORT"),
        ({"AMPYRE_HTTP_PORT": "70000"}, "AMPYRE_HTTP_PORT"),
        ({"AMPYRE_OCPP_PORT": "-1"}, "AMPYRE_OCPP_PORT"),
        ({"AMPYRE_AUTO_REGISTER": "maybe"}, "AMPYRE_AUTO_REGISTER"),
        ({"AMPYRE_PING_INTERVAL": "fast"}, "AMPYRE_PING_INTERVAL"),
        ({"AMPYRE_HEARTBEAT_INTERVAL": "0"}, "AMPYRE_HEARTBEAT_INTERVAL"),
        ({"AMPYRE_MAX_MESSAGE_SIZE": "10"}, "AMPYRE_MAX_MESSAGE_SIZE"),
        ({"AMPYRE_SQLITE_SYNCHRONOUS": "sometimes"}, "AMPYRE_SQLITE_SYNCHRONOUS"),
        ({"AMPYRE_TRUSTED_PROXIES": "10.0.0.0/8,not-a-net"}, "AMPYRE_TRUSTED_PROXIES"),
    ],
)
def test_bad_environment_values_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        load_settings(environ=env)


def test_bad_values_from_flags_are_rejected() -> None:
    with pytest.raises(ConfigError, match="AMPYRE_OCPP_PORT"):
        load_settings(overrides={"ocpp_port": 123456}, environ={})


def test_unknown_key_in_file(tmp_path: Path) -> None:
    path = _toml(tmp_path, "ocpp_prot = 9000\n")
    with pytest.raises(ConfigError, match="ocpp_prot"):
        load_settings(path, environ={})


def test_unreadable_or_invalid_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--config"):
        load_settings(tmp_path / "missing.toml", environ={})
    with pytest.raises(ConfigError, match="--config"):
        load_settings(_toml(tmp_path, "ocpp_port = = 1"), environ={})


def test_bad_value_in_file_names_the_setting(tmp_path: Path) -> None:
    path = _toml(tmp_path, "http_port = 99999\n")
    with pytest.raises(ConfigError, match="AMPYRE_HTTP_PORT"):
        load_settings(path, environ={})
    path = _toml(tmp_path, 'ocpp_port = "abc"\n')
    with pytest.raises(ConfigError, match="AMPYRE_OCPP_PORT"):
        load_settings(path, environ={})


def test_wrongly_typed_value_in_file_is_a_config_error(tmp_path: Path) -> None:
    path = _toml(tmp_path, "ocpp_port = [9000]\n")
    with pytest.raises(ConfigError, match=r"ocpp_port|AMPYRE_OCPP_PORT"):
        load_settings(path, environ={})


def test_replace_returns_a_copy() -> None:
    s = Settings()
    t = replace(s, ocpp_port=1)
    assert (s.ocpp_port, t.ocpp_port) == (9000, 1)
