"""The network layer's compiled rules (pure): libvirt's rules per mode, in its order (compare with what
libvirt 9.0 wrote for the same network: tests/golden/libvirt/networks/commands/neta-iptables.txt), and the
size of starting one network, which does not grow with the number of networks."""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path

from guestwall.compile import names
from guestwall.dataplane.diff import diff
from guestwall.dataplane.state import ActualTable, actual_of
from guestwall.networks.dnsmasq import Paths, conf_text, host_files
from guestwall.networks.model import FloatingIP
from guestwall.networks.rules import compile_networks
from guestwall.networks.xml import parse_network
from guestwall.nft import render

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "libvirt" / "networks" / "commands"


def _bodies(net_xml: str) -> dict[str, list[str]]:
    net = parse_network(net_xml)
    table = compile_networks([net]).tables[names.IP]
    return {
        kind: [
            render.rule(r).rsplit(" comment ", 1)[0] for r in table.chains[names.net_chain(kind, net.name)].rules
        ]
        for kind in ("in", "out", "nat")
        if names.net_chain(kind, net.name) in table.chains
    }


def test_nat_rules_are_libvirts() -> None:
    rules = _bodies((GOLDEN / "a.xml").read_text())
    # LIBVIRT_FWI: -d NET -o BR ctstate RELATED,ESTABLISHED ACCEPT; -o BR REJECT
    assert rules["in"] == ["ip daddr 192.168.100.0/24 ct state established,related accept", "reject"]
    # LIBVIRT_FWO: -s NET -i BR ACCEPT; -i BR REJECT
    assert rules["out"] == ["ip saddr 192.168.100.0/24 accept", "reject"]
    # LIBVIRT_PRT, in order
    assert rules["nat"] == [
        "ip saddr 192.168.100.0/24 ip daddr 224.0.0.0/24 return",
        "ip saddr 192.168.100.0/24 ip daddr 255.255.255.255/32 return",
        "ip saddr 192.168.100.0/24 ip daddr != 192.168.100.0/24 meta l4proto tcp masquerade to :1024-65535",
        "ip saddr 192.168.100.0/24 ip daddr != 192.168.100.0/24 meta l4proto udp masquerade to :1024-65535",
        "ip saddr 192.168.100.0/24 ip daddr != 192.168.100.0/24 masquerade",
    ]
    recorded = (GOLDEN / "neta-iptables.txt").read_text()
    for line in ("-A LIBVIRT_FWX -i gwba -o gwba -j ACCEPT", "--checksum-fill", "--dport 67 -j ACCEPT"):
        assert line in recorded  # guest to guest, the checksum fix, DHCP accepted: all three compiled too


def test_modes() -> None:
    base = "<network><name>m</name>{}<bridge name='b'/><ip address='10.0.0.1' prefix='24'/></network>"
    assert _bodies(base.format("")) == {"in": ["reject"], "out": ["reject"]}
    routed = _bodies(base.format("<forward mode='route' dev='up'/>"))
    assert routed == {
        "in": ['ip daddr 10.0.0.0/24 iifname "up" accept', "reject"],
        "out": ['ip saddr 10.0.0.0/24 oifname "up" accept', "reject"],
    }
    assert _bodies(base.format("<forward mode='open'/>")) == {}
    snat = _bodies(
        base.format("<forward mode='nat'><nat><address start='1.2.3.4' end='1.2.3.9'/>"
                    "<port start='2000' end='3000'/></nat></forward>")
    )  # fmt: skip
    assert snat["nat"][2].endswith("meta l4proto tcp snat to 1.2.3.4-1.2.3.9:2000-3000")
    assert snat["nat"][4].endswith("!= 10.0.0.0/24 snat to 1.2.3.4-1.2.3.9")


def _as_kernel(ruleset: object) -> dict[str, ActualTable]:
    """What the kernel would list after applying ``ruleset`` (digests and elements)."""
    from guestwall.compile.ruleset import Ruleset

    assert isinstance(ruleset, Ruleset)
    return actual_of(ruleset)


def test_starting_one_network_costs_the_same_with_100_running() -> None:
    def net(i: int) -> str:
        return (f"<network><name>n{i}</name><forward mode='nat'/><bridge name='br{i}'/>"
                f"<ip address='10.{i // 250}.{i % 250}.1' prefix='24'/></network>")  # fmt: skip

    sizes = []
    for running in (1, 100):
        nets = [parse_network(net(i)) for i in range(running)]
        before = _as_kernel(compile_networks(nets))
        after = compile_networks([*nets, parse_network(net(running))])
        sizes.append(len(diff(after, before).commands))
    assert sizes[0] == sizes[1] and sizes[0] < 20
    assert not diff(compile_networks(nets), _as_kernel(compile_networks(nets)))  # unchanged: empty


def test_floating_ips_are_map_elements() -> None:
    fip = FloatingIP(IPv4Address("203.0.113.7"), IPv4Address("10.0.0.5"), "eth0")
    table = compile_networks([], [fip]).tables[names.IP]
    assert table.sets[names.FIP_DNAT].elements == {(fip.address,): fip.fixed}
    assert table.sets[names.FIP_SNAT_DEV].elements == {(fip.fixed, "eth0"): fip.address}


def test_dnsmasq_configuration() -> None:
    net = parse_network(
        "<network><name>d</name><bridge name='b0'/><domain name='lab.test' localOnly='yes'/>"
        "<dns><forwarder addr='192.0.2.53'/></dns><ip address='10.0.0.1' prefix='24'><dhcp>"
        "<range start='10.0.0.10' end='10.0.0.20'/><host mac='52:54:00:00:00:01' name='a' ip='10.0.0.5'/>"
        "</dhcp></ip></network>"
    )
    text = conf_text(net, Paths(Path("/x")))
    for line in ("bind-dynamic", "interface=b0", "except-interface=lo", "local=/lab.test/", "server=192.0.2.53",
                 "dhcp-range=10.0.0.10,10.0.0.20,255.255.255.0", "dhcp-lease-max=11", "dhcp-hostsdir=/x/hosts",
                 "dhcp-leasefile=/x/dnsmasq.leases", "dhcp-option=3"):  # fmt: skip
        assert line in text.splitlines()
    assert "leasefile-ro" not in text
    assert host_files(net) == {"525400000001": "52:54:00:00:00:01,10.0.0.5,a\n"}
