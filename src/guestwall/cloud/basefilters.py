"""guestwall's own filters for cloud ports, written in the nwfilter language (data files ``cloud/base/*.xml``,
as libvirt's builtins are in ``nwfilter/builtin/``) and stored like any filter.

They close the holes real frames showed in libvirt's ``clean-traffic`` (which stays as libvirt has it):
UDP from 0.0.0.0 only as a DHCP request, ARP probes from 0.0.0.0 allowed, IPv6 with its own anti-spoofing
(``::`` only for duplicate address detection, NDP and DHCPv6 client allowed, no router advertisements from
guests), stateful layer 3 (an unsolicited SYN-ACK is invalid and dropped), no DHCP server answers from
guests unless the port is one. ``translate.port_filter`` combines them with provider blocks and security
groups into a port's top filter.

Layer 2 (bridge table): sub-chains by ethertype as in libvirt, each ending in a drop for frames from the
guest that none of its return rules let through. Layer 3 (inet table, through br_netfilter): one ordered
chain per direction; the priorities below fix the order of the parts:

    -900 provider blocks   -850 invalid dropped   -840 established/related accepted
    -700 DHCP/DHCPv6 client, NDP/MLD, DHCP server (if marked)   500 security-group rules   1000 default drop
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from importlib.resources import files

from guestwall.model import Filter, Rule, VarRef

# Names of the fixed filters (the variable parts have names built in translate.py).
MAC = "gw-mac"
L2 = "gw-l2"
IPV4 = "gw-ipv4"
IPV4_UNADDRESSED = "gw-ipv4-unaddressed"
ARP_MAC = "gw-arp-mac"
ARP = "gw-arp"
ARP_UNADDRESSED = "gw-arp-unaddressed"
IPV6 = "gw-ipv6"
IPV6_NA = "gw-ipv6-na"
RARP = "gw-rarp"
NO_DHCP_SERVER = "gw-no-dhcp-server"
NO_DHCPV6_SERVER = "gw-no-dhcpv6-server"
STATEFUL = "gw-stateful"
CLIENT = "gw-client"
DHCP_SERVER = "gw-dhcp-server"
DEFAULT_DROP = "gw-default-drop"
OPEN = "gw-open"

PROVIDER_PRIORITY = -900
GROUP_RULE_PRIORITY = 500

NAMES = (
    MAC,
    L2,
    IPV4,
    IPV4_UNADDRESSED,
    NO_DHCP_SERVER,
    ARP_MAC,
    ARP,
    ARP_UNADDRESSED,
    IPV6,
    RARP,
    IPV6_NA,
    NO_DHCPV6_SERVER,
    STATEFUL,
    CLIENT,
    DHCP_SERVER,
    DEFAULT_DROP,
    OPEN,
)


# Host variants: the same filters for ports whose addresses are all single hosts (no allowed address pair
# with a prefix, the usual case). Masks that come from a variable are left out (a /32 or /128 is the address
# itself), so the kernel keeps the ports' addresses in hash sets: in the interval concatenations a mask needs,
# deleting a port's element costs the kernel about 7 microseconds per element held (7 ms a set at 1000
# ports). Derived from the masked filters, not written twice.
HOST = {IPV4: "gw-ipv4-host", ARP: "gw-arp-host", IPV6_NA: "gw-ipv6-na-host", IPV6: "gw-ipv6-host"}
_MASK_VARIABLES = frozenset({"IPMASK", "IPV6MASK"})


def _host_variant(definition: Filter, name: str) -> Filter:
    entries = []
    for entry in definition.entries:
        if isinstance(entry, Rule) and entry.match is not None:
            kept = tuple(
                (attr, value)
                for attr, value in entry.match.attrs
                if not (isinstance(value.value, VarRef) and value.value.name in _MASK_VARIABLES)
            )
            entry = replace(entry, match=replace(entry.match, attrs=kept))
        entries.append(entry)
    return replace(definition, name=name, entries=tuple(entries))


def xml(name: str) -> str:
    """The definition of base filter ``name`` as written, from ``cloud/base/<name>.xml``."""
    return (files("guestwall.cloud") / "base" / f"{name}.xml").read_text(encoding="utf-8")


@cache
def filters() -> dict[str, Filter]:
    """Every base filter as a model object, by name (read and parsed once per process)."""
    from guestwall.nwfilter import parse_filter

    parsed = {name: parse_filter(xml(name)) for name in NAMES}
    for masked, host in HOST.items():
        parsed[host] = _host_variant(parsed[masked], host)
    return parsed
