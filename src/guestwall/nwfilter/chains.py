"""Filter chain names and their default priorities, as libvirt 9.0 checks and assigns them: ``root`` or
a protocol prefix, at most 12 characters. Part of the language table (re-exported by ``schema``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from guestwall.errors import FilterError

# Checked in this order (libvirt's enum order); the first prefix that matches wins.
CHAIN_PREFIXES = ("root", "mac", "vlan", "stp", "arp", "rarp", "ipv4", "ipv6")

# libvirt's chain_priorities map. stp is missing there (its -810 constant is unused), so an stp chain
# gets the fallback (1000 + -1000) / 2 = 0, as the code really does.
DEFAULT_PRIORITIES: Mapping[str, int] = MappingProxyType(
    {"root": 0, "mac": -800, "vlan": -750, "ipv4": -700, "ipv6": -600, "arp": -500, "rarp": -400}
)
FALLBACK_PRIORITY = 0

MAX_CHAIN_NAME = 12
CHAIN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-")

MIN_FILTER_PRIORITY = -1000
MAX_FILTER_PRIORITY = 1000

INVALID_ARG = "invalid argument"


def chain_prefix(chain: str) -> str:
    """Which of root/mac/vlan/stp/arp/rarp/ipv4/ipv6 the chain name starts with ("" if none)."""
    for prefix in CHAIN_PREFIXES:
        if prefix == "root":
            if chain == "root":
                return "root"
            continue
        if chain.startswith(prefix):
            return prefix
    return ""


def validate_chain_name(name: str) -> str:
    """Return the name if libvirt accepts it as a chain, else raise FilterError with libvirt's message.

    libvirt reports no error at all for names that start with ``root`` but are not ``root`` (virsh then
    says "An error occurred, but the cause is unknown"); guestwall says what is wrong.
    """
    if len(name.encode()) > MAX_CHAIN_NAME:
        raise FilterError(f"Name of chain is longer than {MAX_CHAIN_NAME} characters", code=INVALID_ARG)
    if any(c not in CHAIN_CHARS for c in name):
        raise FilterError("Chain name contains invalid characters", code=INVALID_ARG)
    if name == "root":
        return name
    if name.startswith("root"):
        raise FilterError(
            f"Invalid chain name '{name}': 'root' is only allowed as the whole name, not as a prefix",
            code=INVALID_ARG,
        )
    if chain_prefix(name):
        return name
    others = ", ".join(p for p in CHAIN_PREFIXES if p != "root")
    raise FilterError(
        f"Invalid chain name '{name}'. Please use a chain name called 'root' or any of the following "
        f"prefixes: {others}",
        code=INVALID_ARG,
    )


def default_chain_priority(chain: str) -> int:
    """The priority of a chain given without ``priority=``: by prefix, stp (and anything else) 0."""
    return DEFAULT_PRIORITIES.get(chain_prefix(chain), FALLBACK_PRIORITY)
