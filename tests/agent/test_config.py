"""Host configuration: defaults, the documented example, and errors that name the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from guestwall.config import ConfigError, HostConfig, load_config, parse_config
from guestwall.model.mac import MacAddress

EXAMPLE = """
[ports]
guest_patterns = ["vnet*", "tap*", "macvtap0"]
unbound = "filter"
default_filter = "clean-traffic"
default_parameters = { CTRL_IP_LEARNING = "dhcp", DHCPSERVER = ["10.0.0.1", "10.0.0.2"] }
guest_mac = "tap"

[learning]
dhcp_rate = 5
dhcp_burst = 20

[agent]
poll_interval = 0.5
check_interval = 2
"""


def test_missing_default_file_means_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("GUESTWALL_CONFIG", raising=False)
    monkeypatch.setattr("guestwall.config.DEFAULT_PATH", str(tmp_path / "absent.toml"))
    assert load_config() == HostConfig()
    assert HostConfig().options().guest_patterns == ()


def test_explicit_file_must_exist(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GUESTWALL_CONFIG", str(tmp_path / "absent.toml"))
    with pytest.raises(ConfigError, match=r"absent\.toml does not exist"):
        load_config()


def test_example(tmp_path: Path) -> None:
    path = tmp_path / "g.toml"
    path.write_text(EXAMPLE)
    config = load_config(str(path))
    assert config.guest_patterns == ("vnet*", "tap*", "macvtap0")
    assert config.default_filtered and config.default_filter == "clean-traffic"
    assert config.default_parameters == (
        ("CTRL_IP_LEARNING", "dhcp"),
        ("DHCPSERVER", "10.0.0.1"),
        ("DHCPSERVER", "10.0.0.2"),
    )
    assert (config.dhcp_rate, config.dhcp_burst, config.poll_interval, config.check_interval) == (
        5,
        20,
        0.5,
        2,
    )
    assert config.options().guest_patterns == ("vnet*", "tap*", "macvtap0")
    assert config.is_guest_port("vnet12") and config.is_guest_port("macvtap0")
    assert not config.is_guest_port("macvtap01") and not config.is_guest_port("br0")
    assert config.guest_mac_of(MacAddress(0xFE5400123456)) == MacAddress(0x525400123456)
    assert (
        parse_config({"ports": {"guest_mac": "port"}}).guest_mac_of(MacAddress(0xFE5400123456))
        == MacAddress(0xFE5400123456)
    )


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"port": {}}, "port: unknown key"),
        ({"ports": {"guest_pattern": ["vnet*"]}}, "ports.guest_pattern: unknown key"),
        ({"ports": {"guest_patterns": "vnet*"}}, "ports.guest_patterns: expected a list of strings"),
        ({"ports": {"guest_patterns": ["v*net"]}}, "'v\\*net' is not an interface name"),
        ({"ports": {"guest_patterns": ["a-very-long-name-x*"]}}, "is not an interface name"),
        ({"ports": {"unbound": "accept"}}, "ports.unbound: expected one of 'drop', 'filter'"),
        ({"ports": {"unbound": "filter"}}, "ports.default_filter: required"),
        (
            {"ports": {"default_parameters": {"IP": "1.2.3.4/24"}}},
            "ports.default_parameters.IP: invalid value",
        ),
        ({"agent": {"check_interval": 0}}, "agent.check_interval: expected a number of at least 0.1"),
        ({"learning": {"dhcp_burst": True}}, "learning.dhcp_burst: expected a number"),
    ],
)
def test_errors_name_file_and_key(doc: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as e:
        parse_config(doc, "/etc/guestwall/guestwall.toml")
    assert str(e.value).startswith("configuration file /etc/guestwall/guestwall.toml: ")


def test_invalid_toml(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[ports\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config(str(path))
