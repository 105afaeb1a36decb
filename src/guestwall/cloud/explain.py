"""Which cloud object decided a simulated packet: the security group and rule (with its id) or the provider
block behind a rule of a generated filter. ``guestwall simulate`` adds this line to its explanation.

A group's filter ``gw-sg-<key>`` has one rule per group rule, in the group's order
(translate.group_filter); the provider filter drops by address sets, one per kind of block (protocol, port
range, logging), so the blocks behind a drop are those of the set elements the deciding rule matched in the
simulation (``simulate.evaluate.matched_elements``): nothing is evaluated a second time here.
"""

from __future__ import annotations

from collections.abc import Mapping

from guestwall.cloud import basefilters as base
from guestwall.cloud import translate as tr
from guestwall.model.cloud import Network, ProviderBlock, SecurityGroupRule
from guestwall.simulate.evaluate import SimulationResult, matched_elements
from guestwall.simulate.packet import Packet
from guestwall.store.cloudrepo import CloudReader

_PURPOSE = {
    base.DEFAULT_DROP: "no security group rule allows it (what no rule accepts is dropped)",
    base.MAC: "anti-spoofing: the source MAC is not the port's",
    base.IPV4: "anti-spoofing: the source IPv4 address is not one of the port's",
    base.IPV6: "anti-spoofing: the source IPv6 address is not one of the port's",
    base.ARP: "anti-spoofing: the ARP sender is not one of the port's addresses",
    base.NO_DHCP_SERVER: "the port may not answer DHCP (it is no DHCP server)",
    base.NO_DHCPV6_SERVER: "the port may not answer DHCPv6 (it is no DHCP server)",
    base.STATEFUL: "replies of tracked connections",
}


_MASKED = {host: masked for masked, host in base.HOST.items()}


def describe(repo: CloudReader, result: SimulationResult, packet: Packet) -> str | None:
    """One line naming the cloud object behind the rule that decided ``result``, or None for a filter of the
    user's (or when no rule decided)."""
    if result.decided_by is None:
        return None
    origin = result.decided_by.origin
    name = origin.filter
    if name.startswith(tr.GROUP_PREFIX):
        key = name[len(tr.GROUP_PREFIX) :]
        # ids only, then the one group: reading every group's rules costs ~0.6 s with 1000 groups
        group_id = next((i for i in repo.group_ids() if tr.group_key(i) == key), None)
        group = repo.group(group_id) if group_id is not None else None
        if group is None or not 1 <= origin.rule <= len(group.rules):
            return f"a rule of a security group that no longer exists ({name})"
        rule = group.rules[origin.rule - 1]
        remote = repo.group(rule.remote_group_id) if rule.remote_group_id is not None else None
        names = {remote.id: remote.name} if remote is not None else {}
        return f"security group '{group.name}' ({group.id}) rule {rule.id}: {_rule_text(rule, names)}"
    if name == tr.PROVIDER:
        blocks = _blocks_for(repo, matched_elements(result, packet))
        if not blocks:
            return "a provider block"
        return "provider block " + ", ".join(f"{b.cidr} ({b.id})" for b in blocks)
    return _PURPOSE.get(_MASKED.get(name, name))


def _rule_text(rule: SecurityGroupRule, names: dict[str, str]) -> str:
    parts = [rule.direction.value, rule.ethertype.value, rule.protocol or "any protocol"]
    if rule.port_min is not None:
        end = rule.port_max if rule.port_max not in (None, rule.port_min) else None
        parts.append(f"port {rule.port_min}" + (f":{end}" if end is not None else ""))
    side = "from" if rule.direction.value == "ingress" else "to"
    if rule.remote_group_id is not None:
        parts.append(f"{side} members of group {names.get(rule.remote_group_id, rule.remote_group_id)}")
    elif rule.remote_cidr is not None:
        parts.append(f"{side} {rule.remote_cidr}")
    return " ".join(parts)


def _blocks_for(repo: CloudReader, matched: Mapping[str, tuple[Network, ...]]) -> list[ProviderBlock]:
    """The blocks behind the set elements the deciding rule matched: a provider set holds one kind of
    block (protocol, ports, logging), an element is a block's CIDR. The simulator already matched protocol,
    ports and address; only the element's blocks are read (an indexed lookup per element)."""
    out: list[ProviderBlock] = []
    for set_name, networks in sorted(matched.items()):
        for net in networks:
            out += [b for b in repo.provider_blocks(net) if tr.provider_set_name(b.kind, b.log) == set_name]
    return out
