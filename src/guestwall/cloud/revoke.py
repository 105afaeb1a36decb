"""Which tracked connections a change revoked, decided by the compiled rule programs (the simulator).

After a rule, a member or a group is removed, or a block added, the kernel keeps accepting the packets of
established connections (the stateful rules accept them before any group rule is consulted). Each tracked
flow of the affected ports is evaluated as a new connection on the programs the kernel now enforces (the
same IR the compiler turns into rules, guestwall.simulate): egress on the port that opened it, ingress on the
port it goes to. A flow that either drops is killed; flows another rule still allows stay. There is no
second copy of the group semantics: what the kernel would decide for a new packet is what counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from ipaddress import ip_network

from guestwall.cloud.conntrack import Conntrack, Flow
from guestwall.engine.desired import enforced_program, load_address_sets
from guestwall.errors import InstantiationError
from guestwall.instantiate.fields import Field
from guestwall.instantiate.learning import drop_all_program
from guestwall.instantiate.program import PortProgram
from guestwall.model import AddressSet
from guestwall.model.cloud import Address, Network, Port
from guestwall.model.mac import MacAddress
from guestwall.simulate import Packet, simulate
from guestwall.store.cloudrepo import cloud_reader
from guestwall.store.records import Reader, Store

# The MAC of a peer that is no port of ours (a router): locally administered, never a guest's.
_FOREIGN_MAC = MacAddress(0x020000000000)
_ADDRESS_FIELDS = {
    4: (Field.IP4_SRC, Field.IP4_DST, 0x0800),
    6: (Field.IP6_SRC, Field.IP6_DST, 0x86DD),
}


@dataclass(frozen=True)
class Revoked:
    """Where a change may have taken access away: the flows with an end in ``networks`` (the addresses of
    the ports it changed, before and after), or at a port of ``groups`` (any port, with ``everyone``);
    with ``peers``, only those with an end in it. Nothing is read (not even the table) when it is empty."""

    networks: tuple[Network, ...] = ()
    groups: frozenset[str] = frozenset()
    everyone: bool = False
    peers: Network | None = None

    @classmethod
    def of_ports(cls, ports: Iterable[Port], groups: Iterable[str] = ()) -> Revoked:
        nets = tuple(dict.fromkeys(net for port in ports for net in port.networks()))
        return cls(nets, frozenset(groups))

    def __bool__(self) -> bool:
        return bool(self.networks or self.groups or self.everyone)

    def may_touch(self, flow: Flow) -> bool:
        """Whether ``flow`` is worth a look without the store (false: the change did not revoke it)."""
        peers = [self.peers] if self.peers is not None else []
        if peers and not (_within(flow.src, peers) or _within(flow.dst, peers)):
            return False
        return bool(self.everyone or self.groups) or self.names(flow)

    def names(self, flow: Flow) -> bool:
        return _within(flow.src, self.networks) or _within(flow.dst, self.networks)


def kill_revoked(conntrack: Conntrack, store: Store, revoked: Revoked) -> list[Flow]:
    """Delete the tracked flows ``revoked`` covers that the enforced programs no longer allow as new
    connections; returns them. The table is listed first; the store is read only for flows found, and
    only the ports at those flows' addresses are loaded and simulated."""
    if not revoked:
        return []
    candidates = [flow for flow in conntrack.flows() if revoked.may_touch(flow)]
    if not candidates:
        return []
    with store.read() as reader:
        judge = Judge(reader)
        dead = [
            flow
            for flow in candidates
            if (revoked.everyone or revoked.names(flow) or judge.in_groups(flow, revoked.groups))
            and not judge.allows(flow)
        ]
    for flow in dead:
        conntrack.delete(flow)
    return dead


def _within(addr: Address, nets: Sequence[Network]) -> bool:
    return any(addr.version == net.version and addr in net for net in nets)


class Judge:
    """The verdict of the enforced programs on flows, in one read transaction: the ports at a flow's
    addresses are looked up in the store (each address once), their programs built once each."""

    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self._repo = cloud_reader(reader)
        self._at: dict[Address, list[Port]] = {}
        self._programs: dict[str, PortProgram | None] = {}
        self._sets: dict[str, AddressSet] | None = None

    def ports_at(self, addr: Address) -> list[Port]:
        """Every port holding ``addr`` (a fixed address or inside an allowed address pair), by device."""
        if addr not in self._at:
            self._at[addr] = self._repo.ports_at(addr)
        return self._at[addr]

    def port_for(self, addr: Address) -> Port | None:
        """The port that owns an address (a fixed address, else an allowed address pair containing it)."""
        found = self.ports_at(addr)
        host = next((port for port in found if _as_host(addr) in port.networks()), None)
        return host if host is not None else next(iter(found), None)

    def in_groups(self, flow: Flow, groups: frozenset[str]) -> bool:
        """Whether a port at either end of ``flow`` is in one of ``groups``."""
        return bool(groups) and any(
            groups.intersection(port.security_groups)
            for addr in (flow.src, flow.dst)
            for port in self.ports_at(addr)
        )

    def allows(self, flow: Flow) -> bool:
        """Whether a new connection like ``flow`` passes the sender's egress and the receiver's ingress."""
        src, dst = self.port_for(flow.src), self.port_for(flow.dst)
        packet = flow_packet(flow, src, dst)
        return all(
            self._verdict(port, direction, packet)
            for port, direction in ((src, "out"), (dst, "in"))
            if port is not None
        )

    def _verdict(self, port: Port, direction: str, packet: Packet) -> bool:
        if port.device not in self._programs:
            self._programs[port.device] = self._program(port)
        program = self._programs[port.device]
        if program is None:
            return True  # no binding: the port is not filtered (port security off, another host's port)
        if self._sets is None:
            self._sets = load_address_sets(self.reader)
        return simulate(program, direction, packet, self._sets).verdict == "accept"

    def _program(self, port: Port) -> PortProgram | None:
        from guestwall.services.filters import load_filter_tree

        record = self.reader.binding(port.device)
        if record is None:
            return None
        try:
            return enforced_program(self.reader, record, load_filter_tree(self.reader, record.filter))
        except InstantiationError:
            # the kernel drops all of the port's traffic (fail closed): nothing of it is allowed
            return drop_all_program(port.device, port.mac, record.filter)


def _as_host(addr: Address) -> Network:
    return ip_network(addr)


def flow_packet(flow: Flow, src: Port | None, dst: Port | None) -> Packet:
    """The first packet of ``flow`` as a new connection, with the MACs of the ports at its ends."""
    src_field, dst_field, ether_type = _ADDRESS_FIELDS[flow.family]
    fields: dict[Field, object] = {
        Field.ETHER_SRC: src.mac if src is not None else _FOREIGN_MAC,
        Field.ETHER_DST: dst.mac if dst is not None else _FOREIGN_MAC,
        Field.ETHER_TYPE: ether_type,
        Field.NFPROTO: flow.family,
        src_field: flow.src,
        dst_field: flow.dst,
        Field.IP_PROTO: flow.protocol,
        Field.CT_STATE: "new",
        Field.CT_DIRECTION: "original",
    }
    optional = {
        Field.L4_SPORT: flow.sport,
        Field.L4_DPORT: flow.dport,
        Field.ICMP_TYPE: flow.icmp_type,
        Field.ICMP_CODE: flow.icmp_code,
    }
    fields.update({key: value for key, value in optional.items() if value is not None})
    return Packet(fields)
