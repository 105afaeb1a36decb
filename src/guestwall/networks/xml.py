"""libvirt's network XML: parse into ``model.Network`` and format back byte-identical to ``virsh
net-dumpxml`` (libvirt 9.0, recorded in tests/golden/libvirt/networks).

Formatting is one table: top-level elements in libvirt's output order (virNetworkDefFormatBuf), each with
its writer. Error messages are libvirt's own wording, with its error-code phrase in ``NetworkError.code``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from ipaddress import (
    AddressValueError,
    IPv4Address,
    IPv4Interface,
    IPv6Interface,
    NetmaskValueError,
    ip_address,
)

from lxml import etree

from guestwall.errors import NetworkError
from guestwall.model.mac import MacAddress
from guestwall.networks.model import (
    Bridge,
    Dhcp,
    DhcpHost,
    DhcpRange,
    Dns,
    DnsHost,
    Domain,
    Forward,
    Forwarder,
    ForwardMode,
    IPAddress,
    IPConfig,
    NatSpec,
    Network,
    PortGroup,
)
from guestwall.nwfilter.safexml import parse_xml

Element = etree._Element
# forward modes libvirt knows but guestwall does not build (a bridge of the host, SR-IOV, macvtap)
_FOREIGN_MODES = ("bridge", "private", "vepa", "passthrough", "hostdev")


# ---- parsing -------------------------------------------------------------------------------------------


def parse_network(xml: str | bytes) -> Network:
    """A <network> document -> Network, or NetworkError/XMLError with libvirt's message."""
    root = parse_xml(xml, "network XML")
    if root.tag != "network":
        raise NetworkError(f"unexpected root element <{root.tag}>, expecting <network>", "XML error")
    name = (root.findtext("name") or "").strip()
    if not name:
        raise NetworkError("missing name information", "")
    if "/" in name:
        raise NetworkError(f"name {name} cannot contain '/'", "XML error")
    net = Network(
        name=name,
        uuid=_uuid(root.findtext("uuid")),
        forward=_forward(root.find("forward"), name),
        bridge=_bridge(root.find("bridge")),
        mtu=_mtu(root.find("mtu"), name),
        mac=_bridge_mac(root.find("mac"), name),
        domain=_domain(root.find("domain")),
        dns=_dns(root.find("dns"), name),
        port_isolated=_yes_no(root.find("port"), "isolated"),
        ips=tuple(_ip(e, name) for e in root.findall("ip")),
        portgroups=tuple(_portgroup(e) for e in root.findall("portgroup")),
    )
    _check(net)
    return net


def _uuid(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    try:
        return str(uuid.UUID(text.strip()))
    except ValueError:
        raise NetworkError("malformed uuid element", "XML error") from None


def _yes_no(e: Element | None, attr: str) -> bool | None:
    if e is None or e.get(attr) is None:
        return None
    return e.get(attr) == "yes"


def _forward(e: Element | None, net: str) -> Forward:
    if e is None:
        return Forward()
    mode_text = e.get("mode", "nat")
    if mode_text in _FOREIGN_MODES:
        raise NetworkError(
            f"forward mode '{mode_text}' is not supported by guestwall", "unsupported configuration"
        )
    try:
        mode = ForwardMode(mode_text)
    except ValueError:
        raise NetworkError(f"unknown forwarding type '{mode_text}'", "unsupported configuration") from None
    dev = e.get("dev")
    if dev is None:
        iface = e.find("interface")
        dev = iface.get("dev") if iface is not None else None
    return Forward(mode, dev, _nat(e.find("nat"), net))


def _nat(e: Element | None, net: str) -> NatSpec:
    if e is None:
        return NatSpec()
    where = f"in <nat> in <forward> in network {net}"
    start = end = None
    addr = e.find("address")
    if addr is not None:
        try:
            start = IPv4Address(addr.get("start") or "")
            end = IPv4Address(addr.get("end") or "")
        except AddressValueError:
            raise NetworkError(f"Bad ipv4 start or end address {where}", "XML error") from None
        if start > end:
            raise NetworkError(f"Inverted range of addresses {where}", "XML error")
    pstart = pend = None
    port = e.find("port")
    if port is not None:
        pstart = _port(port.get("start"), "start", where)
        pend = _port(port.get("end"), "end", where)
        if pstart > pend:
            raise NetworkError(f"Inverted range of ports {where}", "XML error")
    ipv6 = e.get("ipv6")
    return NatSpec(None if ipv6 is None else ipv6 == "yes", start, end, pstart, pend)


def _port(text: str | None, which: str, where: str) -> int:
    if text is None or not text.isdigit() or int(text) > 65535:
        raise NetworkError(f"Missing or invalid '{which}' attribute in <port> {where}", "")
    return int(text)


def _bridge(e: Element | None) -> Bridge:
    if e is None:
        return Bridge()
    delay = e.get("delay", "0")
    return Bridge(e.get("name"), e.get("stp") != "off", int(delay) if delay.isdigit() else 0)


def _mtu(e: Element | None, net: str) -> int | None:
    if e is None:
        return None
    size = e.get("size", "")
    if not size.isdigit():
        raise NetworkError(f"Invalid mtu size '{size}' in network '{net}'", "XML error")
    return int(size)


def normalize_mac(text: str) -> str | None:
    mac = MacAddress.parse(text)
    return None if mac is None else str(mac)


def _bridge_mac(e: Element | None, net: str) -> str | None:
    if e is None:
        return None
    text = e.get("address", "")
    mac = MacAddress.parse(text)
    if mac is None:
        raise NetworkError(f"Invalid bridge mac address '{text}' in network '{net}'", "XML error")
    if mac.is_multicast:
        raise NetworkError(f"Invalid multicast bridge mac address '{text}' in network '{net}'", "XML error")
    return str(mac)


def _domain(e: Element | None) -> Domain | None:
    if e is None or not e.get("name"):
        return None
    return Domain(e.get("name", ""), _yes_no(e, "localOnly"))


def _addr(text: str | None, net: str) -> IPAddress:
    try:
        return ip_address(text or "")
    except ValueError:
        raise NetworkError(f"Invalid address '{text}' in network '{net}'", "XML error") from None


def _dns(e: Element | None, net: str) -> Dns:
    if e is None:
        return Dns()
    forwarders = tuple(
        Forwarder(_addr(f.get("addr"), net) if f.get("addr") else None, f.get("domain"))
        for f in e.findall("forwarder")
    )
    hosts = tuple(
        DnsHost(_addr(h.get("ip"), net), tuple((n.text or "").strip() for n in h.findall("hostname")))
        for h in e.findall("host")
    )
    return Dns(_yes_no(e, "enable"), forwarders, hosts)


def _ip(e: Element, net: str) -> IPConfig:
    text = e.get("address")
    if text is None:
        raise NetworkError(f"Missing required address attribute in network '{net}'", "XML error")
    addr = _addr(text, net)
    family = e.get("family")
    if family not in (None, "ipv4", "ipv6") or (family == "ipv6") != (addr.version == 6):
        raise NetworkError(f"Family '{family}' specified for an address of another family in network '{net}'")
    netmask, prefix = e.get("netmask"), e.get("prefix")
    if netmask is not None:
        try:
            iface: IPv4Interface | IPv6Interface = IPv4Interface(f"{addr}/{netmask}")
        except (AddressValueError, NetmaskValueError):
            raise NetworkError(f"Invalid netmask '{netmask}' in network '{net}'", "XML error") from None
    else:
        bits = 32 if addr.version == 4 else 128
        default = {4: 24, 6: 64}[addr.version]
        if prefix is not None and (not prefix.isdigit() or int(prefix) > bits):
            label = "IPv4" if addr.version == 4 else "IPv6"
            raise NetworkError(
                f"Invalid {label} prefix '{prefix}' in network '{net}'", "unsupported configuration"
            )
        length = int(prefix) if prefix is not None else default
        iface = IPv4Interface(f"{addr}/{length}") if addr.version == 4 else IPv6Interface(f"{addr}/{length}")
    dhcp_e = e.find("dhcp")
    dhcp = _dhcp(dhcp_e, iface, net) if dhcp_e is not None else None
    return IPConfig(iface, netmask is not None, family is not None, dhcp)


def _dhcp(e: Element, iface: IPv4Interface | IPv6Interface, net: str) -> Dhcp:
    ranges = []
    for r in e.findall("range"):
        start, end = _addr(r.get("start"), net), _addr(r.get("end"), net)
        network = iface.network
        if start not in network or end not in network:
            raise NetworkError(
                f"range {start} - {end} is not entirely within network {iface.ip}/{iface.network.prefixlen}",
                "internal error",
            )
        if start > end:  # type: ignore[operator]
            raise NetworkError(f"range {start} - {end} is reversed ", "internal error")
        ranges.append(DhcpRange(start, end))
    hosts = tuple(parse_host(h, net) for h in e.findall("host"))
    return Dhcp(tuple(ranges), hosts)


def parse_host(e: Element, net: str) -> DhcpHost:
    mac = None
    if e.get("mac") is not None:
        mac = normalize_mac(e.get("mac", ""))
        if mac is None:
            raise NetworkError(f"Cannot parse MAC address '{e.get('mac')}' in network '{net}'", "XML error")
    ip = _addr(e.get("ip"), net) if e.get("ip") is not None else None
    return DhcpHost(mac, e.get("name"), ip)


def _portgroup(e: Element) -> PortGroup:
    tags = []
    for t in e.findall("vlan/tag"):
        text = t.get("id", "")
        if not text.isdigit():
            raise NetworkError(f"Invalid vlan tag id '{text}'", "XML error")
        if int(text) > 4095:
            raise NetworkError(f"vlan tag id {text} too large (maximum 4095)", "XML error")
        tags.append(int(text))
    return PortGroup(e.get("name", ""), e.get("default") == "yes", tuple(tags))


def _check(net: Network) -> None:
    mode = net.forward.mode
    if mode in (ForwardMode.NAT, ForwardMode.ROUTE) and not net.ips:
        raise NetworkError(
            f"{mode.value} forwarding requested, but no IP address provided for network '{net.name}'",
            "XML error",
        )


# ---- formatting ----------------------------------------------------------------------------------------


def _q(value: object) -> str:
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace("'", "&apos;")


def _attrs(*pairs: tuple[str, object]) -> str:
    return "".join(f" {k}='{_q(v)}'" for k, v in pairs if v is not None)


def _f_forward(n: Network) -> list[str]:
    f = n.forward
    if f.mode is ForwardMode.NONE:
        return []
    head = f"<forward{_attrs(('dev', f.dev), ('mode', f.mode.value))}"
    body = [f"  <interface dev='{_q(f.dev)}'/>"] if f.dev else []
    nat = f.nat
    if not nat.empty:
        inner = []
        if nat.address_start is not None:
            inner.append(f"    <address start='{nat.address_start}' end='{nat.address_end}'/>")
        if nat.port_start is not None:
            inner.append(f"    <port start='{nat.port_start}' end='{nat.port_end}'/>")
        ipv6 = _attrs(("ipv6", None if nat.ipv6 is None else ("yes" if nat.ipv6 else "no")))
        body += [f"  <nat{ipv6}>", *inner, "  </nat>"] if inner else [f"  <nat{ipv6}/>"]
    return [head + ">", *body, "</forward>"] if body else [head + "/>"]


def _f_bridge(n: Network) -> list[str]:
    b = n.bridge
    stp = "on" if b.stp else "off"
    return [f"<bridge{_attrs(('name', b.name))} stp='{stp}' delay='{b.delay}'/>"]


def _f_dns(n: Network) -> list[str]:
    d = n.dns
    if d.empty:
        return []
    head = f"<dns{_attrs(('enable', None if d.enable is None else ('yes' if d.enable else 'no')))}"
    body = [f"  <forwarder{_attrs(('domain', f.domain), ('addr', f.addr))}/>" for f in d.forwarders]
    for h in d.hosts:
        body += [
            f"  <host ip='{h.ip}'>",
            *(f"    <hostname>{_q(x)}</hostname>" for x in h.hostnames),
            "  </host>",
        ]
    return [head + ">", *body, "</dns>"] if body else [head + "/>"]


def format_host(h: DhcpHost) -> str:
    return f"<host{_attrs(('mac', h.mac), ('name', h.name), ('ip', h.ip))}/>"


def _f_ip(n: Network) -> list[str]:
    out = []
    for ip in n.ips:
        family = "ipv6" if ip.version == 6 else ("ipv4" if ip.family_given else None)
        size = (
            ("netmask", ip.address.netmask) if ip.netmask_form else ("prefix", ip.address.network.prefixlen)
        )
        out.append(f"<ip{_attrs(('family', family), ('address', ip.address.ip), size)}>")
        if ip.dhcp is not None and (ip.dhcp.ranges or ip.dhcp.hosts):
            out.append("  <dhcp>")
            out += [f"    <range start='{r.start}' end='{r.end}'/>" for r in ip.dhcp.ranges]
            out += [f"    {format_host(h)}" for h in ip.dhcp.hosts]
            out.append("  </dhcp>")
        out.append("</ip>")
    return out


def _f_portgroups(n: Network) -> list[str]:
    out = []
    for pg in n.portgroups:
        head = f"<portgroup name='{_q(pg.name)}'{' default=' + repr('yes') if pg.default else ''}"
        if not pg.vlan_tags:
            out += [head + ">", "</portgroup>"]  # libvirt writes an empty portgroup open and closed
            continue
        out += [
            head + ">",
            "  <vlan>",
            *(f"    <tag id='{t}'/>" for t in pg.vlan_tags),
            "  </vlan>",
            "</portgroup>",
        ]
    return out


def _one(render: Callable[[Network], str | None]) -> Callable[[Network], list[str]]:
    return lambda n: [line] if (line := render(n)) is not None else []


# libvirt's output order (virNetworkDefFormatBuf): one row per top-level element
FORMAT: tuple[tuple[str, Callable[[Network], list[str]]], ...] = (
    ("name", _one(lambda n: f"<name>{_q(n.name)}</name>")),
    ("uuid", _one(lambda n: f"<uuid>{n.uuid}</uuid>" if n.uuid else None)),
    ("forward", _f_forward),
    ("bridge", _f_bridge),
    ("mtu", _one(lambda n: f"<mtu size='{n.mtu}'/>" if n.mtu is not None else None)),
    ("mac", _one(lambda n: f"<mac address='{n.mac}'/>" if n.mac else None)),
    (
        "domain",
        _one(
            lambda n: (
                None
                if n.domain is None
                else f"<domain{_attrs(('name', n.domain.name), ('localOnly', _yn(n.domain.local_only)))}/>"
            )
        ),
    ),
    ("dns", _f_dns),
    (
        "port",
        _one(lambda n: None if n.port_isolated is None else f"<port isolated='{_yn(n.port_isolated)}'/>"),
    ),
    ("ip", _f_ip),
    ("portgroup", _f_portgroups),
)


def _yn(value: bool | None) -> str | None:
    return None if value is None else ("yes" if value else "no")


def format_network(n: Network) -> str:
    """The network as ``virsh net-dumpxml`` prints it (without virsh's trailing empty line)."""
    lines = ["<network>"]
    for _name, render in FORMAT:
        lines += ["  " + line for line in render(n)]
    lines.append("</network>")
    return "\n".join(lines) + "\n"
