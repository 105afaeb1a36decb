"""Counters read from the kernel: packets and bytes per rule of our tables (rules carry a ``counter`` when
``[counters] rules = true``, logged rules' limits always do) and per guest port (the port's own link
statistics), plus the size of what we program. For ``guestwall status --counters`` and the agent's
Prometheus endpoint (agent/metrics.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from guestwall.compile import names
from guestwall.dataplane.backend import Backend
from guestwall.dataplane.links import dump_links
from guestwall.nft.commands import ListTable, Table


@dataclass(frozen=True)
class RuleCounter:
    family: str
    chain: str
    position: int  # 0-based in the chain
    origin: str  # "filter#rule" from the rule's comment, "guestwall" for our fixed rules
    packets: int
    bytes: int


@dataclass(frozen=True)
class PortCounter:
    """A guest port's traffic: "out" is what the guest sent (the port received), "in" what it was sent."""

    port: str
    out_packets: int
    out_bytes: int
    in_packets: int
    in_bytes: int


@dataclass(frozen=True)
class Sizes:
    chains: int
    rules: int
    sets: int
    elements: int


def _origin(comment: str) -> str:
    parts = comment.split(" ", 1)
    return parts[1] if len(parts) == 2 else comment


def read_rules(backend: Backend) -> tuple[list[RuleCounter], Sizes]:
    """Every rule of our tables that counts, in chain order, and how big the tables are."""
    counters: list[RuleCounter] = []
    chains = rules = sets = elements = 0
    for family in names.FAMILIES:
        listing = backend.list_json(ListTable(Table(family, names.TABLE))) or {}
        positions: dict[str, int] = {}
        for obj in listing.get("nftables", []):
            if "chain" in obj:
                chains += 1
            elif "set" in obj or "map" in obj:
                sets += 1
                elements += len((obj.get("set") or obj.get("map") or {}).get("elem", []))
            rule: dict[str, Any] | None = obj.get("rule")
            if rule is None:
                continue
            rules += 1
            chain = str(rule["chain"])
            position = positions[chain] = positions.get(chain, -1) + 1
            for expr in rule.get("expr", []):
                counter = expr.get("counter") if isinstance(expr, dict) else None
                if isinstance(counter, dict):
                    counters.append(
                        RuleCounter(
                            family,
                            chain,
                            position,
                            _origin(str(rule.get("comment", ""))),
                            int(counter.get("packets", 0)),
                            int(counter.get("bytes", 0)),
                        )
                    )
    return counters, Sizes(chains, rules, sets, elements)


def read_ports(netns: str | None, ports: Iterable[str]) -> list[PortCounter]:
    """Link statistics of the given ports that exist in the namespace."""
    wanted = set(ports)
    out: list[PortCounter] = []
    for msg in dump_links(netns):
        name = msg.get_attr("IFLA_IFNAME")
        stats = msg.get_attr("IFLA_STATS64")
        if name in wanted and stats is not None:
            out.append(
                PortCounter(
                    str(name),
                    int(stats["rx_packets"]),
                    int(stats["rx_bytes"]),
                    int(stats["tx_packets"]),
                    int(stats["tx_bytes"]),
                )
            )
    return sorted(out, key=lambda p: p.port)
