"""The named value sets of the language: ethertypes, ARP opcodes, IP protocols, conntrack states, TCP flags.

Data only: the attribute table (``schema``) refers to these by key, ``datatypes`` parses and prints them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType


@dataclass(frozen=True)
class NameSet:
    """Names for numbers: parsed case-insensitively, printed in the canonical case given here.

    ``numeric`` says how a number without a name is printed: ``as_parsed`` keeps the datatype's form
    (decimal or hex), ``decimal`` always prints decimal (libvirt's ARP opcode formatter does that).
    """

    key: str
    names: Mapping[str, int]
    numeric: str = "as_parsed"

    def lookup(self, text: str) -> int | None:
        return self._folded.get(text.lower())

    def name_of(self, number: int) -> str | None:
        for name, value in self.names.items():
            if value == number:
                return name
        return None

    @cached_property
    def _folded(self) -> dict[str, int]:
        return {name.lower(): value for name, value in self.names.items()}


def _frozen(pairs: dict[str, int]) -> Mapping[str, int]:
    return MappingProxyType(pairs)


ETHERTYPES = NameSet(
    "ethertype",
    _frozen({"arp": 0x0806, "rarp": 0x8035, "ipv4": 0x0800, "ipv6": 0x86DD, "vlan": 0x8100}),
)

ARP_OPCODES = NameSet(
    "arp-opcode",
    _frozen(
        {
            "Request": 1,
            "Reply": 2,
            "Request_Reverse": 3,
            "Reply_Reverse": 4,
            "DRARP_Request": 5,
            "DRARP_Reply": 6,
            "DRARP_Error": 7,
            "InARP_Request": 8,
            "ARP_NAK": 9,
        }
    ),
    numeric="decimal",
)

IP_PROTOCOLS = NameSet(
    "ip-protocol",
    _frozen(
        {
            "tcp": 6,
            "udp": 17,
            "udplite": 136,
            "esp": 50,
            "ah": 51,
            "icmp": 1,
            "igmp": 2,
            "sctp": 132,
            "icmpv6": 58,
        }
    ),
)

NAME_SETS: Mapping[str, NameSet] = MappingProxyType(
    {s.key: s for s in (ETHERTYPES, ARP_OPCODES, IP_PROTOCOLS)}
)


@dataclass(frozen=True)
class FlagSet:
    """Comma lists of flag names (``state``, tcp ``flags``): the names in print order and their bits.

    ``aliases`` are extra input names (ALL, NONE); ``all_name``/``none_name`` are printed for a full or
    empty set when given.
    """

    key: str
    flags: tuple[tuple[str, int], ...]
    aliases: tuple[tuple[str, int], ...] = ()
    all_name: str | None = None
    none_name: str | None = None

    @property
    def full(self) -> int:
        bits = 0
        for _, bit in self.flags:
            bits |= bit
        return bits

    def input_names(self) -> tuple[tuple[str, int], ...]:
        return self.flags + self.aliases


# Conntrack states in libvirt's print order. NONE is a marker of its own (no state match at all), handled
# by the parser; it is not a bit of this set.
CT_STATES = FlagSet(
    "ct-state",
    (("NEW", 1), ("ESTABLISHED", 2), ("RELATED", 4), ("INVALID", 8)),
)
CT_STATE_NONE = "NONE"

# TCP flags with the bit values of model.TcpFlags, in libvirt's print order.
TCP_FLAGS = FlagSet(
    "tcp-flags",
    (("FIN", 1), ("SYN", 2), ("RST", 4), ("PSH", 8), ("ACK", 16), ("URG", 32)),
    aliases=(("ALL", 63), ("NONE", 0)),
    all_name="ALL",
    none_name="NONE",
)

IPSET_FLAG_NAMES = ("src", "dst")
IPSET_MAX_FLAGS = 6
IPSET_NAME_MAX = 31
IPSET_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-+ ")

COMMENT_MAX_BYTES = 256
BOOLEAN_TRUE = ("true", "1", "yes")
