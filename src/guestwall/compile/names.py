"""Every name guestwall uses in the kernel: tables, base chains, dispatch maps, shared chains and sets.

Our tables are ``bridge guestwall`` (layer 2, anti-spoofing, port marks) and ``inet guestwall`` (stateful
layer 3/4 through br_netfilter). Nothing else is ever touched.
"""

from __future__ import annotations

import hashlib
import re

TABLE = "guestwall"
BRIDGE = "bridge"
INET = "inet"
FAMILIES = (BRIDGE, INET)

# base chains: (family, name, hook, priority)
BASE_CHAINS = (
    (BRIDGE, "pre", "prerouting", -300),  # frames from guests: anti-spoofing, before the bridge learns MACs
    (BRIDGE, "forward", "forward", -200),  # before br_netfilter hands the packet to inet forward
    (BRIDGE, "post", "postrouting", 300),  # frames to guests
    (INET, "pre", "prerouting", 0),  # after conntrack (-200): packets from guests
    (INET, "forward", "forward", 0),  # packets to guests
)

# The network layer (virtual networks, floating IPs) has its own tables, one per family as libvirt's
# ``ip/ip6 libvirt_network``: filters and networks are applied by the same dataplane, each diffing only
# its own tables.
IP = "ip"
IP6 = "ip6"
NET_FAMILIES = (IP, IP6)

# network base chains: (name, type, hook, priority)
NET_BASE_CHAINS = (
    ("forward", "filter", "forward", 0),
    ("input", "filter", "input", 0),
    ("output", "filter", "output", 0),
    ("mangle_post", "filter", "postrouting", 0),  # the DHCP checksum fix
    ("nat_pre", "nat", "prerouting", -100),  # floating IPs, metadata
    ("nat_out", "nat", "output", -100),  # floating IPs from the host itself
    ("nat_post", "nat", "postrouting", 100),  # masquerade, floating IP source NAT, hairpin
)
NET_IN_MAP = "net_in"  # oifname : verdict (packets to a network's bridge)
NET_OUT_MAP = "net_out"  # iifname : verdict (packets from a network's bridge)
NET_NAT_MAP = "net_nat"  # source subnet : verdict
NET_CROSS = "net_cross"  # iifname . oifname: guest to guest on one bridge
NET_BRIDGES = "net_bridges"  # bridges of active networks: DHCP/DNS accepted, checksums fixed
FIP_DNAT = "fip_dnat"  # floating -> fixed
FIP_SNAT = "fip_snat"  # fixed -> floating
FIP_SNAT_DEV = "fip_snat_dev"  # fixed . interface -> floating
FIP_FIXED = "fip_fixed"  # fixed addresses that have a floating IP
NET_LOCAL = "net_local"  # subnet . subnet of every network (no NAT inside a network; hairpin)


def net_chain(kind: str, network: str) -> str:
    """A network's own chain: ``kind`` is in, out or nat; e.g. ``nin.default.1a2b3c4d``."""
    return f"n{kind}.{_clean(network, 32)}.{short_hash(network)}"


# dispatch maps
L2_OUT_MAP = "l2out"  # ifname : verdict
L2_IN_MAP = "l2in"  # ifname : verdict
PORT_MARK_MAP = "portmark"  # ifname : mark
L3_OUT_MAP = "l3out"  # mark : verdict
L3_IN_MAP = "l3in"  # mark : verdict

# A port's mark is TAG | port id: the tag keeps our marks apart from other users of the mark.
MARK_TAG = 0x47570000
MARK_TAG_MASK = 0xFFFF0000
MAX_PORT_ID = 0xFFFF


def port_mark(port_id: int) -> int:
    if not 0 < port_id <= MAX_PORT_ID:
        raise ValueError(f"port id {port_id} out of range 1..{MAX_PORT_ID}")
    return MARK_TAG | port_id


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def _clean(text: str, limit: int = 48) -> str:
    return _UNSAFE.sub("_", text)[:limit]


def short_hash(*parts: object, length: int = 8) -> str:
    h = hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()
    return h[:length]


STAGE_ABBREV = {"l2-out": "l2o", "l2-in": "l2i", "l3-out": "l3o", "l3-in": "l3i"}


def shared_chain(group: str, stage: str, chain: str, variant: str = "") -> str:
    """A chain shared by every port of a group, e.g. ``l2o.clean-traffic.root.1a2b3c4d``."""
    suffix = f".{variant}" if variant else ""
    return (
        f"{STAGE_ABBREV[stage]}.{_clean(group)}.{_clean(chain, 16)}.{short_hash(group, stage, chain)}{suffix}"
    )


def private_chain(group: str, stage: str, chain: str, portdev: str) -> str:
    """A port's own copy of a chain, used only where sharing would change the meaning (a fallback)."""
    base = shared_chain(group, stage, chain)
    return f"{base}/{_clean(portdev, 15)}.{short_hash(portdev, length=4)}"


def value_set(kind: str, identity: str) -> str:
    """A set of per-port values, named by what its values are (so edits reuse it)."""
    return f"v.{_clean(kind, 24)}.{short_hash(identity, length=12)}"


def connlimit_set(identity: str) -> str:
    return f"cl.{short_hash(identity, length=12)}"


LOG_PREFIX = "gw:"  # log prefix of our rules: "gw:<rule id>"


def log_rule_id(chain: str, position: int) -> str:
    """The id of a logged rule (its position in one of our chains): in the log prefix and in records."""
    return short_hash(chain, position, length=10)


def log_chain(rule_id: str) -> str:
    """The chain a logged rule jumps to: rate limit, log, then the rule's own verdict."""
    return f"log.{rule_id}"


def ipset_set(name: str, kind: str) -> str:
    return f"ipset.{_clean(name, 31)}.{_clean(kind, 12)}"
