"""Active networks and floating IPs -> the network layer's desired nftables state (pure: no I/O).

libvirt's rules per forward mode (network_nftables.c / the iptables rules libvirt 9.0 writes, recorded in
tests/golden/libvirt/networks/commands/neta-iptables.txt), in our own ``ip guestwall`` and ``ip6
guestwall`` tables. Each network has its own small chains reached through verdict maps keyed by bridge
(or source subnet), so starting one network adds one network's chains and map elements, whatever the
number of networks, and a packet's cost does not grow with them. libvirt's order is kept: guest to guest
on one bridge (its FWX), then what enters a bridge (FWI), then what leaves it (FWO).
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Network, ip_network

from guestwall.compile import canon, names
from guestwall.compile.ruleset import BaseHook, ChainSpec, Ruleset, SetSpec, TableSpec, rule_digest
from guestwall.networks.model import FloatingIP, ForwardMode, HostOptions, IPConfig, Network
from guestwall.nft import ir
from guestwall.nft.datatypes import DataType

_ADDR = {names.IP: DataType.IPV4_ADDR, names.IP6: DataType.IPV6_ADDR}
_IFNAME = DataType.IFNAME
_PROTO = {names.IP: "ip", names.IP6: "ip6"}
# libvirt: not masqueraded, multicast (strict DHCP clients refuse replies with changed source ports)
_NO_MASQ: dict[str, tuple[IPv4Network | IPv6Network, ...]] = {
    names.IP: (IPv4Network("224.0.0.0/24"), IPv4Network("255.255.255.255/32")),
    names.IP6: (IPv6Network("ff02::/16"),),
}
NAT_PORTS = (1024, 65535)  # libvirt: NFS trusts ports below 1024
METADATA = IPv4Address("169.254.169.254")
_ESTABLISHED = ir.Flags(("established", "related"))
_DNAT_DONE = ir.Const("dnat", ir.Style.SYMBOL)  # ct status: the connection's destination was translated


def _rule(*statements: ir.Statement, note: str = "") -> ir.Rule:
    body = ir.Rule(tuple(statements))
    return ir.Rule(body.statements, ir.safe_comment(f"{rule_digest(body)} {note}".strip()))


def _m(left: ir.Expr, right: ir.Expr | ir.Scalar, negated: bool = False) -> ir.Match:
    """``left right``: a constant right-hand side (an address, network or number) may be given bare."""
    return ir.Match(left, ir.Const(right) if isinstance(right, ir.Scalar) else right, negated)


def _l4(proto: str) -> ir.Match:
    return ir.Match(_meta("l4proto"), ir.Const(proto, ir.Style.SYMBOL))


def _meta(key: str) -> ir.Meta:
    return ir.Meta(key)


def _ifname(name: str) -> ir.Const:
    return ir.Const(name, ir.Style.IFNAME)


def _subnets(net: Network, family: str) -> list[IPConfig]:
    version = 4 if family == names.IP else 6
    return [ip for ip in net.ips if ip.version == version]


def _routes(net: Network, family: str) -> ForwardMode:
    """The mode this family is handled in: libvirt routes IPv6 of a nat network unless <nat ipv6='yes'>."""
    mode = net.forward.mode
    if family == names.IP6 and mode is ForwardMode.NAT and not net.forward.nat.ipv6:
        return ForwardMode.ROUTE
    return mode


def _net_in(net: Network, family: str) -> list[ir.Rule]:
    """Packets delivered to the network's bridge (libvirt's guest_input / LIBVIRT_FWI)."""
    return _net_side(net, family, "daddr", "iifname", established_only=True)


def _net_out(net: Network, family: str) -> list[ir.Rule]:
    """Packets sent from the network's bridge (libvirt's guest_output / LIBVIRT_FWO)."""
    return _net_side(net, family, "saddr", "oifname", established_only=False)


def _net_side(net: Network, family: str, addr: str, ifmeta: str, established_only: bool) -> list[ir.Rule]:
    """Accept the network's subnets by ``addr`` (on ``ifmeta`` = the forward dev, if any; for a NAT network
    only established/related ones when ``established_only``), reject the rest."""
    proto, dev = _PROTO[family], net.forward.dev
    mode = _routes(net, family)
    rules = []
    for ip in _subnets(net, family) if mode in (ForwardMode.NAT, ForwardMode.ROUTE) else []:
        stmts: list[ir.Statement] = [_m(ir.Payload(proto, addr), _net_of(ip))]
        if dev:
            stmts.append(ir.Match(_meta(ifmeta), _ifname(dev)))
        if established_only and mode is ForwardMode.NAT:
            stmts.append(_m(ir.Ct("state"), _ESTABLISHED))
        rules.append(_rule(*stmts, ir.Verdict(ir.VerdictKind.ACCEPT), note=net.name))
    rules.append(_rule(ir.Verdict(ir.VerdictKind.REJECT), note=net.name))
    return rules


def _nat_target(net: Network, ports: bool) -> ir.Nat:
    """libvirt's ``<nat>``: masquerade, or snat to its address range; with ``ports`` (TCP and UDP) also to
    its port range (by default 1024-65535)."""
    nat = net.forward.nat
    port_range = (
        NAT_PORTS if nat.port_start is None or nat.port_end is None else (nat.port_start, nat.port_end)
    )
    port = ir.Const(port_range) if ports else None
    if nat.address_start is None:
        return ir.Nat(ir.NatKind.MASQUERADE, port=port)
    start, end = nat.address_start, nat.address_end
    address = ir.Const(start if end is None or end == start else (start, end))
    return ir.Nat(ir.NatKind.SNAT, address, port)


def _net_nat(net: Network, family: str) -> list[ir.Rule]:
    """libvirt's masquerade rules for one subnet, in its order (guest_nat / LIBVIRT_PRT)."""
    proto, dev = _PROTO[family], net.forward.dev
    rules = []
    for ip in _subnets(net, family):
        sub = _net_of(ip)
        head: list[ir.Statement] = [_m(ir.Payload(proto, "saddr"), sub)]
        if dev:
            head.append(ir.Match(_meta("oifname"), _ifname(dev)))
        for exempt in _NO_MASQ[family]:
            rules.append(
                _rule(
                    *head,
                    _m(ir.Payload(proto, "daddr"), exempt),
                    ir.Verdict(ir.VerdictKind.RETURN),
                    note=net.name,
                )
            )
        away = _m(ir.Payload(proto, "daddr"), sub, negated=True)
        for l4 in ("tcp", "udp"):
            rules.append(_rule(*head, away, _l4(l4), _nat_target(net, True), note=net.name))
        rules.append(_rule(*head, away, _nat_target(net, False), note=net.name))
    return rules


def _sets(family: str) -> dict[str, SetSpec]:
    addr = _ADDR[family]
    specs = [
        SetSpec(names.NET_IN_MAP, (_IFNAME,), map_type=DataType.VERDICT),
        SetSpec(names.NET_OUT_MAP, (_IFNAME,), map_type=DataType.VERDICT),
        SetSpec(names.NET_NAT_MAP, (addr,), flags=("interval",), map_type=DataType.VERDICT),
        SetSpec(names.NET_CROSS, (_IFNAME, _IFNAME)),
        SetSpec(names.NET_BRIDGES, (_IFNAME,)),
        SetSpec(names.NET_LOCAL, (addr, addr), flags=("interval",)),
    ]
    if family == names.IP:
        specs += [
            SetSpec(names.FIP_DNAT, (addr,), map_type=addr),
            SetSpec(names.FIP_SNAT, (addr,), map_type=addr),
            SetSpec(names.FIP_SNAT_DEV, (addr, _IFNAME), map_type=addr),
            SetSpec(names.FIP_FIXED, (addr,)),
        ]
    return {s.name: s for s in specs}


def _dhcp_dns(ifmeta: str, dhcp_port: int) -> list[ir.Rule]:
    """Accept DNS and DHCP (to ``dhcp_port``) over UDP and TCP on our bridges (by ``ifmeta``)."""
    return [
        _rule(
            ir.Match(_meta(ifmeta), ir.SetRef(names.NET_BRIDGES)),
            _l4(l4),
            _m(ir.Payload("th", "dport"), ir.ConstSet((ir.Const(53), ir.Const(dhcp_port)))),
            ir.Verdict(ir.VerdictKind.ACCEPT),
            note="dhcp dns",
        )
        for l4 in ("udp", "tcp")
    ]


def _base_rules(family: str, options: HostOptions) -> dict[str, list[ir.Rule]]:
    proto = _PROTO[family]
    bridges = ir.SetRef(names.NET_BRIDGES)
    dhcp_server, dhcp_client = (67, 68) if family == names.IP else (547, 546)
    forward = []
    if family == names.IP:  # new connections to a floating IP's guest (DNAT'ed in nat_pre)
        forward.append(
            _rule(
                _m(ir.Ct("status"), _DNAT_DONE),
                ir.Match(ir.Payload(proto, "daddr"), ir.SetRef(names.FIP_FIXED)),
                ir.Verdict(ir.VerdictKind.ACCEPT),
                note="floating ip in",
            )
        )
    forward += [
        _rule(
            ir.Match(ir.Concat((_meta("iifname"), _meta("oifname"))), ir.SetRef(names.NET_CROSS)),
            ir.Verdict(ir.VerdictKind.ACCEPT),
            note="guest to guest",
        ),
        _rule(ir.VMap(_meta("oifname"), names.NET_IN_MAP)),
        _rule(ir.VMap(_meta("iifname"), names.NET_OUT_MAP)),
    ]
    # explicit accepts for DHCP and DNS from guests to the host (and back): our table's policy is accept,
    # but another table's drop is reported by ``guestwall doctor``
    host_in = _dhcp_dns("iifname", dhcp_server)
    host_out = _dhcp_dns("oifname", dhcp_client)
    mangle = []
    if family == names.IP:  # virtio guests drop DHCP replies whose checksum the host left unfilled
        mangle.append(
            _rule(
                ir.Match(_meta("oifname"), bridges),
                _m(ir.Payload("udp", "dport"), dhcp_client),
                ir.PayloadSet(ir.Payload("udp", "checksum"), ir.Const(0)),
                note="dhcp checksum",
            )
        )
    nat_pre, nat_out, nat_post = [], [], []
    if family == names.IP:
        dnat = ir.Nat(ir.NatKind.DNAT, ir.MapLookup(ir.Payload(proto, "daddr"), names.FIP_DNAT))
        nat_pre.append(_rule(dnat, note="floating ip"))
        nat_out.append(_rule(dnat, note="floating ip"))
        if options.metadata is not None:
            host, port = options.metadata
            nat_pre.insert(
                0,
                _rule(
                    ir.Match(_meta("iifname"), bridges),
                    _m(ir.Payload(proto, "daddr"), METADATA),
                    _m(ir.Payload("tcp", "dport"), 80),
                    ir.Nat(ir.NatKind.DNAT, ir.Const(host), ir.Const(port)),
                    note="metadata",
                ),
            )
        saddr = ir.Payload(proto, "saddr")
        by_dev = ir.Concat((saddr, _meta("oifname")))
        local = ir.Match(ir.Concat((saddr, ir.Payload(proto, "daddr"))), ir.SetRef(names.NET_LOCAL))
        nat_post += [
            # hairpin: a guest reaching another guest of its network through a floating IP
            _rule(_m(ir.Ct("status"), _DNAT_DONE), local, ir.Nat(ir.NatKind.MASQUERADE), note="hairpin"),
            _rule(local, ir.Verdict(ir.VerdictKind.RETURN), note="inside a network"),
            _rule(ir.Nat(ir.NatKind.SNAT, ir.MapLookup(by_dev, names.FIP_SNAT_DEV)), note="floating ip out"),
            _rule(ir.Nat(ir.NatKind.SNAT, ir.MapLookup(saddr, names.FIP_SNAT)), note="floating ip out"),
        ]
    nat_post.append(_rule(ir.VMap(ir.Payload(proto, "saddr"), names.NET_NAT_MAP)))
    return {
        "forward": forward,
        "input": host_in,
        "output": host_out,
        "mangle_post": mangle,
        "nat_pre": nat_pre,
        "nat_out": nat_out,
        "nat_post": nat_post,
    }


def skeleton(family: str, options: HostOptions) -> TableSpec:
    table = TableSpec(family, names.TABLE)
    rules = _base_rules(family, options)
    for name, kind, hook, prio in names.NET_BASE_CHAINS:
        table.chains[name] = ChainSpec(name, rules[name], BaseHook(hook, prio, "accept", kind))
    table.sets = _sets(family)
    return table


def _network(table: TableSpec, family: str, net: Network) -> None:
    mode = net.forward.mode
    if mode is ForwardMode.OPEN:
        bridge = net.bridge_name
        table.sets[names.NET_BRIDGES].elements[(bridge,)] = None
        return  # libvirt: no rules at all
    bridge = net.bridge_name
    sets = table.sets
    sets[names.NET_BRIDGES].elements[(bridge,)] = None
    sets[names.NET_CROSS].elements[(bridge, bridge)] = None
    for kind, build, key in (("in", _net_in, names.NET_IN_MAP), ("out", _net_out, names.NET_OUT_MAP)):
        chain = names.net_chain(kind, net.name)
        table.chains[chain] = ChainSpec(chain, build(net, family))
        sets[key].elements[(bridge,)] = ("jump", chain)
    for ip in _subnets(net, family):
        block = canon.network(_net_of(ip))
        sets[names.NET_LOCAL].elements[(block, block)] = None
    if _routes(net, family) is ForwardMode.NAT and _subnets(net, family):
        chain = names.net_chain("nat", net.name)
        table.chains[chain] = ChainSpec(chain, _net_nat(net, family))
        for ip in _subnets(net, family):
            sets[names.NET_NAT_MAP].elements[(canon.network(_net_of(ip)),)] = ("jump", chain)


def _net_of(ip: IPConfig) -> IPv4Network | IPv6Network:
    return ip_network(ip.address, strict=False)


def _floating(table: TableSpec, fip: FloatingIP) -> None:
    sets = table.sets
    sets[names.FIP_DNAT].elements[(fip.address,)] = fip.fixed
    sets[names.FIP_FIXED].elements[(fip.fixed,)] = None
    if fip.interface:
        sets[names.FIP_SNAT_DEV].elements[(fip.fixed, fip.interface)] = fip.address
    else:
        sets[names.FIP_SNAT].elements[(fip.fixed,)] = fip.address


def compile_networks(
    networks: Sequence[Network], floating: Sequence[FloatingIP] = (), options: HostOptions = HostOptions()
) -> Ruleset:
    """The network layer's tables for these active networks and floating IPs."""
    ruleset = Ruleset()
    families = [names.IP] + ([names.IP6] if any(ip.version == 6 for n in networks for ip in n.ips) else [])
    for family in families:
        table = skeleton(family, options)
        for net in sorted(networks, key=lambda n: n.name):
            _network(table, family, net)
        if family == names.IP:
            for fip in sorted(floating, key=lambda f: f.address):
                _floating(table, fip)
        ruleset.tables[family] = table
    return ruleset
