"""Host configuration, shared by the CLI and the agent so that both build the same desired state.

Read from ``/etc/guestwall/guestwall.toml``, or from the file named by ``GUESTWALL_CONFIG``; a missing default
file means the defaults (no guest patterns: unbound ports are left alone). Unknown keys are errors, because a
mistyped key in a firewall's configuration must not silently mean "off". See docs/agent.md::

    [ports]
    guest_patterns = ["vnet*", "tap*"]   # interface names of guest ports (nft wildcards: a trailing *)
    unbound = "drop"                     # guest ports without a binding: "drop" everything, or "filter"
    default_filter = "clean-traffic"     # with unbound = "filter": the filter they get, with their MAC
    default_parameters = { CTRL_IP_LEARNING = "dhcp", DHCPSERVER = ["10.0.0.1"] }
    guest_mac = "tap"                    # the guest's MAC for such ports: "tap" (fe:.. -> 52:..) or "port"

    [learning]
    dhcp_rate = 10                       # DHCP packets per second snooped per port (libvirt: 10, burst 50)
    dhcp_burst = 50

    [agent]
    poll_interval = 0.2                  # seconds between looks at the store's generation counter
    check_interval = 5.0                 # seconds between full kernel checks (nft monitor is the fast path)

    [log]                                # the drop log (docs/logging.md): nfnetlink_log group, per-rule limit
    group = 27
    rate = 100
    burst = 25
    path = "/var/log/guestwall/packets.jsonl"
    max_bytes = 10485760                 # rotated beyond this, keeping ``keep`` files
    keep = 5

    [counters]
    rules = false                        # a counter in every filter rule (status --counters, metrics)
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

from guestwall.errors import InputError
from guestwall.model.mac import MacAddress

if TYPE_CHECKING:
    from guestwall.compile.compiler import Options

DEFAULT_PATH = "/etc/guestwall/guestwall.toml"
ENV_VAR = "GUESTWALL_CONFIG"

UNBOUND_DROP = "drop"
UNBOUND_FILTER = "filter"
GUEST_MAC_TAP = "tap"
GUEST_MAC_PORT = "port"

# An interface name (at most 15 characters) with an optional trailing '*' (nft's only wildcard).
_PATTERN_RE = re.compile(r"^[A-Za-z0-9_.:@+-]{1,15}\*?$")
_PARAM_NAME_RE = re.compile(r"^[A-Za-z0-9_]+$")
_PARAM_VALUE_RE = re.compile(r"^[A-Za-z0-9_.:]+$")


class ConfigError(InputError):
    pass


@dataclass(frozen=True)
class HostConfig:
    guest_patterns: tuple[str, ...] = ()
    unbound: str = UNBOUND_DROP
    default_filter: str | None = None
    default_parameters: tuple[tuple[str, str], ...] = ()  # (name, value), repeated names make lists
    guest_mac: str = GUEST_MAC_TAP
    dhcp_rate: float = 10.0
    dhcp_burst: int = 50
    poll_interval: float = 0.2
    check_interval: float = 5.0
    log_group: int = 27  # nfnetlink_log group of the drop log (one reader per group and namespace)
    log_rate: int = 100  # logged packets per second, per rule (Neutron's default)
    log_burst: int = 25
    log_path: str = "/var/log/guestwall/packets.jsonl"
    log_max_bytes: int = 10 * 1024 * 1024  # rotated beyond this size
    log_keep: int = 5  # rotated files kept: packets.jsonl.1 ... .5
    rule_counters: bool = False  # [counters] rules: a counter in every filter rule
    source: str | None = field(default=None, compare=False)  # the file it was read from

    def options(self) -> Options:
        """The compiler's host-wide options: guest ports without rules are dropped (fail closed)."""
        from guestwall.compile.compiler import Options
        from guestwall.compile.droplog import LogOptions

        log = LogOptions(self.log_group, self.log_rate, self.log_burst)
        return Options(guest_patterns=self.guest_patterns, log=log, counters=self.rule_counters)

    def is_guest_port(self, ifname: str) -> bool:
        return any(_matches(pattern, ifname) for pattern in self.guest_patterns)

    @property
    def default_filtered(self) -> bool:
        """Whether unbound guest ports get the default filter (rather than only the drop rule)."""
        return self.unbound == UNBOUND_FILTER and bool(self.guest_patterns)

    def guest_mac_of(self, port_mac: MacAddress) -> MacAddress:
        """The guest's MAC behind a port: libvirt creates taps with the guest's MAC and first byte 0xfe."""
        if self.guest_mac == GUEST_MAC_TAP and port_mac.bits >> 40 == 0xFE:
            return port_mac.with_first_byte(0x52)
        return port_mac


def _matches(pattern: str, ifname: str) -> bool:
    if pattern.endswith("*"):
        return ifname.startswith(pattern[:-1])
    return ifname == pattern


def config_path() -> tuple[str, bool]:
    """The configuration file to read, and whether it was asked for explicitly (then it must exist)."""
    explicit = os.environ.get(ENV_VAR)
    return (explicit, True) if explicit else (DEFAULT_PATH, False)


def load_config(path: str | None = None) -> HostConfig:
    """The host configuration from ``path`` (or GUESTWALL_CONFIG, or the default file if it exists)."""
    required = path is not None
    if path is None:
        path, required = config_path()
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        if required:
            raise ConfigError(f"configuration file {path} does not exist") from None
        return HostConfig()
    except OSError as e:
        raise ConfigError(f"cannot read configuration file {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"configuration file {path} is not valid TOML: {e}") from None
    return parse_config(data, path)


def parse_config(data: Mapping[str, Any], source: str = "<config>") -> HostConfig:
    """Validate the TOML document ``data``; errors name the file and the key."""
    reader = _Reader(source)
    reader.keys("", data, {"ports", "learning", "agent", "log", "counters"})
    ports = reader.table(
        data, "ports", {"guest_patterns", "unbound", "default_filter", "default_parameters", "guest_mac"}
    )
    learning = reader.table(data, "learning", {"dhcp_rate", "dhcp_burst"})
    agent = reader.table(data, "agent", {"poll_interval", "check_interval"})
    log = reader.table(data, "log", {"group", "rate", "burst", "path", "max_bytes", "keep"})
    counters = reader.table(data, "counters", {"rules"})
    rule_counters = counters.get("rules", False)
    if not isinstance(rule_counters, bool):
        reader.fail("counters.rules", "expected true or false")
    log_path = log.get("path", HostConfig.log_path)
    if not isinstance(log_path, str) or not log_path.startswith("/"):
        reader.fail("log.path", "expected an absolute file name")
    log_group = int(reader.number(log, "log.group", 27, minimum=0))
    if log_group > 65535:
        reader.fail("log.group", "expected a number from 0 to 65535")

    patterns = reader.strings(ports, "ports.guest_patterns")
    for pattern in patterns:
        if not _PATTERN_RE.match(pattern):
            reader.fail(
                "ports.guest_patterns", f"'{pattern}' is not an interface name with an optional trailing *"
            )
    unbound = reader.choice(ports, "ports.unbound", (UNBOUND_DROP, UNBOUND_FILTER), UNBOUND_DROP)
    default_filter = ports.get("default_filter")
    if default_filter is not None and (not isinstance(default_filter, str) or not default_filter):
        reader.fail("ports.default_filter", "expected a filter name")
    if unbound == UNBOUND_FILTER and default_filter is None:
        reader.fail("ports.default_filter", 'required when ports.unbound = "filter"')
    params = reader.parameters(ports.get("default_parameters", {}), "ports.default_parameters")
    guest_mac = reader.choice(ports, "ports.guest_mac", (GUEST_MAC_TAP, GUEST_MAC_PORT), GUEST_MAC_TAP)
    return HostConfig(
        guest_patterns=tuple(patterns),
        unbound=unbound,
        default_filter=default_filter,
        default_parameters=params,
        guest_mac=guest_mac,
        dhcp_rate=reader.number(learning, "learning.dhcp_rate", 10.0, minimum=0.1),
        dhcp_burst=int(reader.number(learning, "learning.dhcp_burst", 50, minimum=1)),
        poll_interval=reader.number(agent, "agent.poll_interval", 0.2, minimum=0.01),
        check_interval=reader.number(agent, "agent.check_interval", 5.0, minimum=0.1),
        log_group=log_group,
        log_rate=int(reader.number(log, "log.rate", 100, minimum=1)),
        log_burst=int(reader.number(log, "log.burst", 25, minimum=1)),
        log_path=log_path,
        log_max_bytes=int(reader.number(log, "log.max_bytes", 10 * 1024 * 1024, minimum=4096)),
        log_keep=int(reader.number(log, "log.keep", 5, minimum=1)),
        rule_counters=rule_counters,
        source=source,
    )


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, why: str) -> NoReturn:
        raise ConfigError(f"configuration file {self.source}: {key}: {why}")

    def keys(self, where: str, table: Mapping[str, Any], allowed: set[str]) -> None:
        unknown = sorted(set(table) - allowed)
        if unknown:
            key = f"{where}.{unknown[0]}" if where else unknown[0]
            self.fail(key, f"unknown key (known: {', '.join(sorted(allowed))})")

    def table(self, data: Mapping[str, Any], name: str, allowed: set[str]) -> Mapping[str, Any]:
        value = data.get(name, {})
        if not isinstance(value, dict):
            self.fail(name, "expected a table")
        self.keys(name, value, allowed)
        result: Mapping[str, Any] = value
        return result

    def strings(self, table: Mapping[str, Any], key: str) -> list[str]:
        value = table.get(key.rsplit(".", 1)[1], [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(key, "expected a list of strings")
        return list(value)

    def choice(self, table: Mapping[str, Any], key: str, allowed: tuple[str, ...], default: str) -> str:
        value = table.get(key.rsplit(".", 1)[1], default)
        if value not in allowed:
            self.fail(key, f"expected one of {', '.join(repr(a) for a in allowed)}, not {value!r}")
        return str(value)

    def number(self, table: Mapping[str, Any], key: str, default: float, minimum: float) -> float:
        value = table.get(key.rsplit(".", 1)[1], default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
            self.fail(key, f"expected a number of at least {minimum:g}, not {value!r}")
        return float(value)

    def parameters(self, value: Any, key: str) -> tuple[tuple[str, str], ...]:
        if not isinstance(value, dict):
            self.fail(key, "expected a table of NAME = value or [values]")
        out: list[tuple[str, str]] = []
        for name, values in value.items():
            items = values if isinstance(values, list) else [values]
            if not _PARAM_NAME_RE.match(name):
                self.fail(f"{key}.{name}", "invalid parameter name")
            for item in items:
                if not isinstance(item, str) or not _PARAM_VALUE_RE.match(item):
                    self.fail(f"{key}.{name}", f"invalid value {item!r} (expected [A-Za-z0-9_.:]+)")
                out.append((name, item))
        return tuple(out)


# ---- the settings that change enforcement: desired state kept in the store --------------------------------

# TOML key -> the HostConfig field it sets. These change what the kernel enforces, so they live in the store
# (services.hostsettings); a configuration file only seeds them. [agent] keys stay the file's.
ENFORCEMENT_KEYS: dict[str, str] = {
    "ports.guest_patterns": "guest_patterns",
    "ports.unbound": "unbound",
    "ports.default_filter": "default_filter",
    "ports.default_parameters": "default_parameters",
    "ports.guest_mac": "guest_mac",
    "learning.dhcp_rate": "dhcp_rate",
    "learning.dhcp_burst": "dhcp_burst",
}


def enforcement_settings(config: HostConfig) -> dict[str, Any]:
    """The enforcement settings of ``config`` as JSON-ready values by TOML key (defaults included)."""
    out: dict[str, Any] = {}
    for key, attr in ENFORCEMENT_KEYS.items():
        value = getattr(config, attr)
        if attr == "guest_patterns":
            value = list(value)
        elif attr == "default_parameters":
            params: dict[str, list[str]] = {}
            for name, item in value:
                params.setdefault(name, []).append(item)
            value = params
        elif attr == "dhcp_burst":
            value = int(value)
        out[key] = value
    return out


def with_settings(base: HostConfig, settings: Mapping[str, Any], source: str) -> HostConfig:
    """``base`` (its [agent] values) with the enforcement settings ``settings`` (by TOML key), validated as
    a configuration file would be; errors name ``source`` and the key."""
    doc: dict[str, dict[str, Any]] = {
        "ports": {},
        "learning": {},
        "agent": {"poll_interval": base.poll_interval, "check_interval": base.check_interval},
        # the drop log and counters stay the file's, as the [agent] timings (docs/logging.md)
        "log": {
            "group": base.log_group,
            "rate": base.log_rate,
            "burst": base.log_burst,
            "path": base.log_path,
            "max_bytes": base.log_max_bytes,
            "keep": base.log_keep,
        },
        "counters": {"rules": base.rule_counters},
    }
    for key, value in settings.items():
        if key not in ENFORCEMENT_KEYS:
            raise ConfigError(f"{source}: unknown host setting {key} (known: {', '.join(ENFORCEMENT_KEYS)})")
        if value is None:
            continue  # unset: the default
        table, name = key.split(".")
        doc[table][name] = value
    return parse_config(doc, source)
