"""Coexistence: "every packet must be accepted by every table". Find the other tables whose hooks would
drop our guests' traffic (Docker's FORWARD policy drop, a host firewall that drops input and so DHCP and
DNS, firewalld), say exactly how to fix each, and apply the fix on request. Also the kernel settings
virtual networks need (forwarding, br_netfilter).

A fix inserts accept rules at the top of the foreign chain, tagged ``guestwall-coexist``: through
``iptables`` for iptables-nft's tables (DOCKER-USER when Docker has one), through nft otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from guestwall.compile import names
from guestwall.dataplane.backend import Backend
from guestwall.dataplane.netns import call_in_netns
from guestwall.errors import RenderError
from guestwall.networks.model import ForwardMode, Network
from guestwall.nft import ir, render
from guestwall.nft.commands import Chain, ChainRule, Command, Table, Verb, transaction

TAG = "guestwall-coexist"
_XTABLES = ("filter", "nat", "mangle", "raw", "security")  # iptables-nft's table names


@dataclass(frozen=True)
class Finding:
    problem: str
    shell: tuple[str, ...] = ()  # exact commands for other tools (iptables, sysctl, modprobe, firewall-cmd)
    nft: tuple[Command, ...] = ()  # rules to insert into another table's chain

    @property
    def ok(self) -> bool:
        return not self.problem

    @property
    def fixes(self) -> tuple[str, ...]:
        """Every fix as the user is shown it (``nft insert rule ...``, ``iptables -I ...``)."""
        return tuple(f"nft {render.command(c)}" for c in self.nft) + self.shell


@dataclass(frozen=True)
class _Chain:
    family: str
    table: str
    name: str
    hook: str
    policy: str
    drops: bool  # a rule that drops or rejects unconditionally, or the policy
    fixed: set[str]  # bridges with our coexist accepts already in place


def _chains(listing: dict[str, Any]) -> list[_Chain]:
    chains: dict[tuple[str, str, str], dict[str, Any]] = {}
    rules: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for obj in listing.get("nftables", []):
        if "chain" in obj:
            c = obj["chain"]
            chains[(c["family"], c["table"], c["name"])] = c
        elif "rule" in obj:
            r = obj["rule"]
            rules.setdefault((r["family"], r["table"], r["chain"]), []).append(r)
    out = []
    for key, c in chains.items():
        if "hook" not in c or c["table"] == names.TABLE or c["family"] not in ("ip", "inet", "ip6"):
            continue
        body = rules.get(key, [])
        unconditional = any(
            len(r.get("expr", [])) <= 2 and any(("drop" in e or "reject" in e) for e in r.get("expr", []))
            for r in body
        )
        fixed = {
            str(r.get("comment", "")).split(":", 1)[1]
            for r in body
            if str(r.get("comment", "")).startswith(TAG + ":")
        }
        out.append(
            _Chain(
                c["family"],
                c["table"],
                c["name"],
                c["hook"],
                c.get("policy", "accept"),
                c.get("policy") == "drop" or unconditional,
                fixed,
            )
        )
    return out


def _iptables(chain: _Chain, bridge: str, docker_user: bool) -> tuple[str, ...]:
    """The fix for iptables-nft's tables, through iptables (nft would leave rules iptables cannot show)."""
    target = "DOCKER-USER" if docker_user and chain.hook == "forward" else chain.name
    tag = f"-j ACCEPT -m comment --comment {TAG}:{bridge}"
    if chain.hook == "forward":
        return (
            f"iptables -I {target} -o {bridge} -m conntrack --ctstate RELATED,ESTABLISHED {tag}",
            f"iptables -I {target} -i {bridge} {tag}",
        )
    return (
        f"iptables -I {target} -i {bridge} -p udp -m multiport --dports 53,67 {tag}",
        f"iptables -I {target} -i {bridge} -p tcp --dport 53 {tag}",
    )


def _services(port: int) -> tuple[ir.Match, ...]:
    """DNS and DHCP (to ``port``) over TCP or UDP."""
    protos = ir.Match(ir.Meta("l4proto"), ir.AnonSet(("tcp", "udp")))
    return protos, ir.Match(ir.Payload("th", "dport"), ir.ConstSet((ir.Const(53), ir.Const(port))))


# what each hook's chain must accept for a network's bridge: (interface meta key, further matches) per rule
_ACCEPTS: dict[str, tuple[tuple[str, tuple[ir.Match, ...]], ...]] = {
    "forward": (
        ("oifname", (ir.Match(ir.Ct("state"), ir.Flags(("established", "related"))),)),
        ("iifname", ()),
    ),
    "input": (("iifname", _services(67)),),
    "output": (("oifname", _services(68)),),
}


def _nft(chain: _Chain, bridge: str) -> tuple[Command, ...]:
    """Accept rules inserted at the top of the foreign chain, tagged with the bridge."""
    where = Chain(Table(chain.family, chain.table), chain.name)
    accept = ir.Verdict(ir.VerdictKind.ACCEPT)
    return tuple(
        Command(
            Verb.INSERT,
            ChainRule(
                where,
                ir.Rule(
                    (ir.Match(ir.Meta(ifmeta), ir.Const(bridge, ir.Style.IFNAME)), *matches, accept),
                    f"{TAG}:{bridge}",
                ),
            ),
        )
        for ifmeta, matches in _ACCEPTS[chain.hook]
    )


def _finding(problem: str, chain: _Chain, bridge: str, docker_user: bool) -> Finding:
    if chain.family == "ip" and chain.table in _XTABLES:
        return Finding(problem, shell=_iptables(chain, bridge, docker_user))
    fix = _nft(chain, bridge)
    try:
        for command in fix:
            render.command(command)
    except RenderError as e:  # a foreign table or chain name our renderer refuses: say so, insert nothing
        return Finding(f"{problem}; no fix offered: {e}")
    return Finding(problem, nft=fix)


def _needs(net: Network, hook: str) -> bool:
    if hook == "forward":
        return net.forward.mode in (ForwardMode.NAT, ForwardMode.ROUTE, ForwardMode.OPEN)
    return hook in ("input", "output")


def coexistence(listing: dict[str, Any], networks: Sequence[Network]) -> list[Finding]:
    """Each foreign base chain that would drop a running network's traffic, with its exact fix."""
    chains = _chains(listing)
    docker_user = any(c.name == "DOCKER-USER" for c in chains) or "DOCKER-USER" in str(listing)
    found = []
    for chain in chains:
        if not chain.drops or chain.hook not in ("forward", "input", "output"):
            continue
        for net in networks:
            bridge = net.bridge_name
            if not _needs(net, chain.hook) or bridge in chain.fixed:
                continue
            what = {
                "forward": "forwarded traffic",
                "input": "DHCP and DNS to the host",
                "output": "DHCP and DNS replies",
            }[chain.hook]
            problem = (
                f"table {chain.family} {chain.table} chain {chain.name} (hook {chain.hook}, "
                f"policy {chain.policy}) drops {what} of network {net.name} ({bridge})"
            )
            found.append(_finding(problem, chain, bridge, docker_user))
    if any(c.table == "firewalld" for c in chains):
        for net in networks:
            found.append(
                Finding(
                    f"firewalld is active: network {net.name} ({net.bridge_name}) needs zone 'libvirt'",
                    (f"firewall-cmd --permanent --zone=libvirt --add-interface={net.bridge_name}",),
                )
            )
    return found


def _sysctl(netns: str | None, key: str) -> str | None:
    path = "/proc/sys/" + key.replace(".", "/")

    def read() -> str | None:
        try:
            with open(path) as f:
                return f.read().strip()
        except OSError:
            return None

    return call_in_netns(netns, read)


def kernel_settings(netns: str | None, networks: Sequence[Network]) -> list[Finding]:
    out = []
    routed = [n.name for n in networks if n.forward.mode in (ForwardMode.NAT, ForwardMode.ROUTE)]
    if routed and _sysctl(netns, "net.ipv4.ip_forward") != "1":
        out.append(
            Finding(
                f"IPv4 forwarding is off: networks {', '.join(routed)} cannot forward",
                ("sysctl -w net.ipv4.ip_forward=1",),
            )
        )
    nf = _sysctl(netns, "net.bridge.bridge-nf-call-iptables")
    if nf is None:
        out.append(
            Finding(
                "br_netfilter is not loaded: guest-to-guest traffic on a bridge bypasses the ip "
                "forward hook (stateful filters of bridged traffic do not apply)",
                ("modprobe br_netfilter",),
            )
        )
    return out


def apply_fixes(backend: Backend, findings: Sequence[Finding]) -> list[str]:
    """Run the nft fixes (one transaction); the others are returned for the caller to run or print."""
    nft = [command for finding in findings for command in finding.nft]
    if nft:
        backend.run(transaction(nft))
    return [command for finding in findings for command in finding.shell]
