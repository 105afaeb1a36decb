"""Whether the cloud objects allow a connection: the security-group semantics, evaluated in Python.

Used after a rule or a member is removed, to find the tracked connections the new rules no longer allow
(see conntrack.py); the kernel rules themselves come from translate.py. A connection is allowed when every
filtered port it involves allows it: egress for the port that opened it, ingress for the port it goes to.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from guestwall.model.cloud import (
    PORT_PROTOCOLS,
    PROTOCOL_NUMBERS,
    Address,
    Network,
    Port,
    ProviderBlock,
    RuleDirection,
    SecurityGroup,
    SecurityGroupRule,
)

# Never revoked: what every port's base filter allows (DHCP, DHCPv6, neighbour discovery).
_BASE_UDP_PORTS = frozenset({67, 68, 546, 547})
_ICMPV6_NDP = frozenset(range(130, 138)) | {143}


@dataclass(frozen=True)
class Flow:
    """A tracked connection in its original direction (as conntrack lists it)."""

    family: int
    protocol: int  # IP protocol number
    src: Address
    dst: Address
    sport: int | None = None
    dport: int | None = None
    icmp_type: int | None = None
    icmp_code: int | None = None
    icmp_id: int | None = None


class Policy:
    """The cloud objects after a change, indexed for evaluating flows."""

    def __init__(
        self, ports: Sequence[Port], groups: Iterable[SecurityGroup], blocks: Sequence[ProviderBlock]
    ) -> None:
        self.ports = list(ports)
        self.groups = {g.id: g for g in groups}
        self.blocks = list(blocks)
        self._hosts: dict[Address, Port] = {}
        self._nets: list[tuple[Network, Port]] = []
        self._members: dict[str, list[Network]] = {}
        for port in self.ports:
            for net in port.networks():
                if net.prefixlen == net.max_prefixlen:
                    self._hosts.setdefault(net.network_address, port)
                else:
                    self._nets.append((net, port))
                for group_id in port.security_groups:
                    self._members.setdefault(group_id, []).append(net)

    def port_for(self, addr: Address) -> Port | None:
        """The port that owns an address (fixed address, else an allowed address pair containing it)."""
        found = self._hosts.get(addr)
        if found is not None:
            return found
        for net, port in self._nets:
            if addr.version == net.version and addr in net:
                return port
        return None

    def allows(self, flow: Flow) -> bool:
        """Whether the flow is allowed by every port on it (ports without port security allow all)."""
        src, dst = self.port_for(flow.src), self.port_for(flow.dst)
        if src is not None and not self.port_allows(src, flow, RuleDirection.EGRESS):
            return False
        return dst is None or self.port_allows(dst, flow, RuleDirection.INGRESS)

    def port_allows(self, port: Port, flow: Flow, direction: RuleDirection) -> bool:
        if not port.port_security or _base_allowed(flow):
            return True
        ingress = direction is RuleDirection.INGRESS
        remote = flow.src if ingress else flow.dst
        if self._blocked(flow, remote, ingress):
            return False
        for group_id in port.security_groups:
            group = self.groups.get(group_id)
            if group is None:
                continue
            for rule in group.rules:
                if rule.direction is direction and self._rule_matches(rule, flow, remote):
                    return True
        return False

    def _blocked(self, flow: Flow, remote: Address, ingress: bool) -> bool:
        for block in self.blocks:
            if remote.version != block.cidr.version or remote not in block.cidr:
                continue
            if block.protocol is None:
                return True
            # a port-specific block drops connections to that port of guests (not guests' own connections)
            if (
                ingress
                and _protocol_matches(block.protocol, flow)
                and _port_in(flow.dport, block.port_min, block.port_max)
            ):
                return True
        return False

    def _rule_matches(self, rule: SecurityGroupRule, flow: Flow, remote: Address) -> bool:
        if rule.ethertype.version != flow.family:
            return False
        if rule.protocol is not None and not _protocol_matches(rule.protocol, flow):
            return False
        if rule.protocol in PORT_PROTOCOLS and not _port_in(flow.dport, rule.port_min, rule.port_max):
            return False
        if rule.icmp_type is not None and flow.icmp_type != rule.icmp_type:
            return False
        if rule.icmp_code is not None and flow.icmp_code != rule.icmp_code:
            return False
        if rule.remote_cidr is not None and (
            remote.version != rule.remote_cidr.version or remote not in rule.remote_cidr
        ):
            return False
        if rule.remote_group_id is not None:
            members = self._members.get(rule.remote_group_id, [])
            return any(remote.version == net.version and remote in net for net in members)
        return True


def _protocol_matches(protocol: str, flow: Flow) -> bool:
    number = PROTOCOL_NUMBERS[protocol]
    if protocol == "icmp":  # provider blocks name icmp for both versions
        return flow.protocol in (1, 58) and (flow.protocol == 1) == (flow.family == 4)
    return flow.protocol == number


def _port_in(port: int | None, lo: int | None, hi: int | None) -> bool:
    if lo is None:
        return True
    return port is not None and lo <= port <= (hi if hi is not None else lo)


def _base_allowed(flow: Flow) -> bool:
    if flow.protocol == 17 and (flow.sport in _BASE_UDP_PORTS and flow.dport in _BASE_UDP_PORTS):
        return True
    return flow.protocol == 58 and flow.icmp_type in _ICMPV6_NDP
