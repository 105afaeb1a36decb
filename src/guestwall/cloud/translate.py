"""Compile cloud objects into the engine's own inputs: filters, address sets and bindings, as model objects
(``guestwall.model``; the store formats them). Pure.

- a security group -> filter ``gw-sg-<key>`` of layer-3 accept rules (ingress = direction in, egress = out;
  libvirt's default connection tracking lets the replies through), and address set ``gw-sg-<key>`` holding
  its members' addresses, which rules naming the group as remote look up (``ipset=... ipsetflags=src|dst``);
- the ports with the same groups and variant share one top filter ``gw-port-<hash>``: anti-spoofing, DHCP
  client, stateful defaults, provider blocks, the groups, default drop (see basefilters); every per-port
  value is a binding parameter, so such ports share all kernel chains and each only adds set elements;
- provider blocks -> filter ``gw-provider`` and one address set per distinct protocol/port range
  (``gw-provider-any`` for whole-CIDR blocks): thousands of blocks stay one interval lookup per packet.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv6Network
from uuid import UUID

from guestwall.cloud import basefilters as base
from guestwall.compile.droplog import LOG_COMMENT
from guestwall.model import Action, Binding, Direction, Filter, FilterRef, Match, Rule, make_params
from guestwall.model.addressset import AddressSet
from guestwall.model.binding import Owner
from guestwall.model.cloud import (
    AddressGroup,
    BlockKind,
    Network,
    Port,
    ProviderBlock,
    RuleDirection,
    SecurityGroup,
    SecurityGroupRule,
)
from guestwall.nwfilter.rules import apply_fixups
from guestwall.nwfilter.schema import PROTOCOLS
from guestwall.nwfilter.values import typed_value

GROUP_PREFIX = "gw-sg-"
ADDRESS_GROUP_PREFIX = "gw-ag-"
PORT_PREFIX = "gw-port-"
PROVIDER = "gw-provider"
PROVIDER_SET_PREFIX = "gw-provider-"
PROVIDER_ANY = "gw-provider-any"
PROVIDER_LOG_SUFFIX = "-log"
# every filter and address set the cloud layer derives has one of these names (user filters must not)
DERIVED_PREFIX = "gw-"

_V4_ELEMENT = {
    None: "all",
    "tcp": "tcp",
    "udp": "udp",
    "icmp": "icmp",
    "sctp": "sctp",
    "udplite": "udplite",
    "esp": "esp",
    "ah": "ah",
    "igmp": "igmp",
}
_V6_ELEMENT = {
    None: "all-ipv6",
    "tcp": "tcp-ipv6",
    "udp": "udp-ipv6",
    "icmp": "icmpv6",
    "icmpv6": "icmpv6",
    "sctp": "sctp-ipv6",
    "udplite": "udplite-ipv6",
    "esp": "esp-ipv6",
    "ah": "ah-ipv6",
}


def group_key(group_id: str) -> str:
    """16 hex digits naming a group in the kernel: its UUID's first half (kernel set names are short)."""
    try:
        return UUID(group_id).hex[:16]
    except ValueError:
        return hashlib.sha256(group_id.encode()).hexdigest()[:16]


def group_filter_name(group_id: str) -> str:
    return GROUP_PREFIX + group_key(group_id)


def group_set_name(group_id: str) -> str:
    return GROUP_PREFIX + group_key(group_id)


def address_group_set_name(address_group_id: str) -> str:
    """The kernel set of an address group's CIDRs (rules naming it look it up, as a remote group's)."""
    return ADDRESS_GROUP_PREFIX + group_key(address_group_id)


def address_group_set(group: AddressGroup) -> AddressSet:
    return AddressSet(address_group_set_name(group.id), group.addresses)


# ---- security groups ----------------------------------------------------------------------------------


def match(element: str, pairs: Sequence[tuple[str, str]] = ()) -> Match:
    """A protocol match from attribute values as nwfilter XML writes them, typed and ordered as the parser
    makes them (so that a definition built here equals the one read back from the store)."""
    spec = PROTOCOLS[element]
    attrs = {name: typed_value(element, name, text) for name, text in pairs}
    fixed = apply_fixups(spec, attrs)
    return Match(element, tuple((a.name, fixed[a.name]) for a in spec.attrs if a.name in fixed))


def rule_match(rule: SecurityGroupRule) -> Match:
    """The protocol match of one rule, e.g. ``tcp`` with srcipaddr 10.0.0.0, srcipmask 8, dstportstart and
    dstportend 22."""
    v6 = rule.ethertype.version == 6
    element = (_V6_ELEMENT if v6 else _V4_ELEMENT)[rule.protocol]
    ingress = rule.direction is RuleDirection.INGRESS
    side = "src" if ingress else "dst"
    attrs: list[tuple[str, str]] = []
    if rule.remote_cidr is not None and rule.remote_cidr.prefixlen > 0:
        attrs += [
            (f"{side}ipaddr", str(rule.remote_cidr.network_address)),
            (f"{side}ipmask", str(rule.remote_cidr.prefixlen)),
        ]
    if rule.remote_group_id is not None:
        attrs += [("ipset", group_set_name(rule.remote_group_id)), ("ipsetflags", side)]
    if rule.remote_address_group_id is not None:
        attrs += [("ipset", address_group_set_name(rule.remote_address_group_id)), ("ipsetflags", side)]
    if rule.port_min is not None:
        attrs += [("dstportstart", str(rule.port_min)), ("dstportend", str(rule.port_max or rule.port_min))]
    if rule.icmp_type is not None:
        attrs.append(("type", str(rule.icmp_type)))
        if rule.icmp_code is not None:
            attrs.append(("code", str(rule.icmp_code)))
    if rule.log:  # the compiler logs rules with this comment (compile.droplog.LOG_COMMENT)
        attrs.append(("comment", f"{LOG_COMMENT} security group rule {rule.id}"))
    return match(element, attrs)


def group_filter(group: SecurityGroup) -> Filter:
    rules = tuple(
        Rule(
            Action.ACCEPT,
            Direction.IN if rule.direction is RuleDirection.INGRESS else Direction.OUT,
            base.GROUP_RULE_PRIORITY,
            match=rule_match(rule),
        )
        for rule in group.rules
    )
    return Filter(group_filter_name(group.id), entries=rules)


def group_members(group_id: str, ports: Iterable[Port]) -> tuple[Network, ...]:
    """The addresses of a group's members: fixed addresses and allowed address pairs of its ports."""
    out: dict[Network, None] = {}
    for port in ports:
        if group_id in port.security_groups:
            out.update(dict.fromkeys(port.networks()))
    return tuple(out)


def group_set(group_id: str, ports: Iterable[Port]) -> AddressSet:
    return AddressSet(group_set_name(group_id), group_members(group_id, ports))


@dataclass(frozen=True)
class MemberEdit:
    """How some ports changing change a group's member set: the networks they bring (``come``), and those
    they held before and no longer bring (``leaving``: gone unless another member holds them too)."""

    come: tuple[Network, ...]
    leaving: tuple[Network, ...]


def member_edit(group_id: str, moved: Iterable[tuple[Port | None, Port | None]]) -> MemberEdit:
    """The edit of a group's member set by ports changing as (before, after), None where there is none."""
    pairs = list(moved)
    come = group_members(group_id, (after for _, after in pairs if after is not None))
    before = group_members(group_id, (old for old, _ in pairs if old is not None))
    kept = set(come)
    return MemberEdit(come, tuple(n for n in before if n not in kept))


# ---- ports ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """What decides a port's top filter: its groups (sorted keys) and variant. Ports with equal profiles
    share the filter, and with it every kernel chain."""

    groups: tuple[str, ...]
    ipv4: bool  # has IPv4 addresses (otherwise IPv4 is dropped except DHCP requests)
    dhcp_server: bool
    hosts: bool = False  # every address is one host: the base filters' host variants (basefilters.HOST)

    @property
    def filter_name(self) -> str:
        text = f"groups={','.join(self.groups)};ipv4={int(self.ipv4)};dhcp-server={int(self.dhcp_server)}"
        if self.hosts:
            text += ";hosts=1"
        return PORT_PREFIX + hashlib.sha256(text.encode()).hexdigest()[:12]


def profile(port: Port) -> Profile:
    keys = tuple(sorted({group_key(g) for g in port.security_groups}))
    hosts = all(n.prefixlen == n.max_prefixlen for n in port.networks())
    return Profile(keys, bool(port.networks(4)), port.dhcp_server, hosts)


def port_filter_name(port: Port) -> str:
    """The binding's top filter: ``gw-open`` without port security, else the profile's shared filter."""
    return base.OPEN if not port.port_security else profile(port).filter_name


def port_filter(prof: Profile) -> Filter:
    refs = [base.L2]
    refs += [base.IPV4, base.ARP] if prof.ipv4 else [base.IPV4_UNADDRESSED, base.ARP_UNADDRESSED]
    refs += [base.IPV6_NA, base.IPV6]
    if prof.hosts:
        refs = [base.HOST.get(name, name) for name in refs]
    if not prof.dhcp_server:
        refs += [base.NO_DHCP_SERVER, base.NO_DHCPV6_SERVER]
    refs += [base.STATEFUL, base.CLIENT]
    if prof.dhcp_server:
        refs.append(base.DHCP_SERVER)
    refs.append(PROVIDER)
    refs += [GROUP_PREFIX + key for key in prof.groups]
    refs.append(base.DEFAULT_DROP)
    return Filter(prof.filter_name, entries=tuple(FilterRef(r) for r in refs))


def port_parameters(port: Port) -> dict[str, tuple[str, ...]]:
    """The binding parameters: MAC; IP/IPMASK (IPv4 networks, if any); IPV6/IPV6MASK (the link-local
    address first, then the port's IPv6 networks). Lists walk in parallel (address i with mask i)."""
    params: dict[str, tuple[str, ...]] = {"MAC": (str(port.mac),)}
    if not port.port_security:
        return params
    v4 = port.networks(4)
    if v4:
        params["IP"] = tuple(str(n.network_address) for n in v4)
        params["IPMASK"] = tuple(str(n.prefixlen) for n in v4)
    v6 = [
        IPv6Network(f"{port.mac.link_local()}/128"),
        *(n for n in port.networks(6) if isinstance(n, IPv6Network)),
    ]
    v6 = list(dict.fromkeys(v6))
    params["IPV6"] = tuple(str(n.network_address) for n in v6)
    params["IPV6MASK"] = tuple(str(n.prefixlen) for n in v6)
    return params


def binding(port: Port) -> Binding:
    """The port's filter binding. Its owner is what the port belongs to (the instance: ``name`` and
    ``device_id``), else the port itself. MAC is among its parameters, as libvirt adds it."""
    owner = port.device_id if _is_uuid(port.device_id) else port.id
    owner_uuid = UUID(owner) if _is_uuid(owner) else UUID(hashlib.sha256(owner.encode()).hexdigest()[:32])
    params = [(name, value) for name, values in port_parameters(port).items() for value in values]
    return Binding(
        Owner(port.name or port.device, owner_uuid),
        port.device,
        port.mac,
        FilterRef(port_filter_name(port), make_params(params)),
    )


def _is_uuid(text: str) -> bool:
    try:
        UUID(text)
    except ValueError:
        return False
    return True


# ---- provider blocks ------------------------------------------------------------------------------------


def provider_set_name(kind: BlockKind, log: bool = False) -> str:
    """The address set of one kind of block; logged blocks have sets (and rules) of their own."""
    protocol, lo, hi = kind.protocol, kind.port_min, kind.port_max
    suffix = PROVIDER_LOG_SUFFIX if log else ""
    if protocol is None:
        return PROVIDER_ANY + suffix
    if lo is None:
        return f"{PROVIDER_SET_PREFIX}{protocol}{suffix}"
    return f"{PROVIDER_SET_PREFIX}{protocol}-{lo}-{hi if hi is not None else lo}{suffix}"


def provider_sets(blocks: Sequence[ProviderBlock]) -> dict[str, AddressSet]:
    """One set per distinct protocol/port range; the whole-CIDR set always exists (the rule that looks it
    up stays, so the first block and the last unblock are element updates only)."""
    nets: dict[str, dict[Network, None]] = {PROVIDER_ANY: {}}
    for block in blocks:
        nets.setdefault(provider_set_name(block.kind, block.log), {})[block.cidr] = None
    return {name: AddressSet(name, tuple(members)) for name, members in sorted(nets.items())}


def provider_filter(blocks: Sequence[ProviderBlock]) -> Filter:
    kinds = {provider_set_name(b.kind, b.log): b.kind for b in blocks}
    kinds.setdefault(PROVIDER_ANY, BlockKind())
    rules: list[Rule] = []
    for name in sorted(kinds, key=lambda n: (n != PROVIDER_ANY, n)):
        protocol, lo, hi = kinds[name].protocol, kinds[name].port_min, kinds[name].port_max
        attrs = [("ipset", name), ("ipsetflags", "src")]
        if lo is not None:
            attrs += [("dstportstart", str(lo)), ("dstportend", str(hi if hi is not None else lo))]
        if name.endswith(PROVIDER_LOG_SUFFIX):
            attrs.append(("comment", f"{LOG_COMMENT} provider blocks {name}"))
        for table in (_V4_ELEMENT, _V6_ELEMENT):
            rules.append(
                Rule(Action.DROP, Direction.IN, base.PROVIDER_PRIORITY, match=match(table[protocol], attrs))
            )
    return Filter(PROVIDER, entries=tuple(rules))


# ---- everything ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Derived:
    """What the engine needs for a set of cloud objects: filters and address sets by name, bindings by port
    device."""

    filters: dict[str, Filter]
    address_sets: dict[str, AddressSet]
    bindings: dict[str, Binding]


def derive(
    groups: Sequence[SecurityGroup], ports: Sequence[Port], blocks: Sequence[ProviderBlock]
) -> Derived:
    """Everything at once (tests, and a full resynchronisation); services derive only what changed."""
    filters = dict(base.filters())
    sets: dict[str, AddressSet] = dict(provider_sets(blocks))
    filters[PROVIDER] = provider_filter(blocks)
    for group in groups:
        filters[group_filter_name(group.id)] = group_filter(group)
        sets[group_set_name(group.id)] = group_set(group.id, ports)
    bindings: dict[str, Binding] = {}
    for port in ports:
        if port.port_security:
            prof = profile(port)
            filters.setdefault(prof.filter_name, port_filter(prof))
        bindings[port.device] = binding(port)
    return Derived(filters, sets, bindings)
