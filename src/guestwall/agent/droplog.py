"""The drop log: packets our logged rules pass to nfnetlink_log become JSON lines in a rotated file.

The agent owns one ``DropLog`` per namespace. Each record names the port, the direction, the verdict and
the filter rule that decided (from the rule id in the log prefix, through the compiled state's
``log_rules``), with addresses, protocol and ports. Packets beyond a rule's rate limit are not logged by
the kernel but counted (compile.droplog); every second the agent reads those counters and writes one
"skipped" record per rule that lost some. ``guestwall log`` reads the files (cli/log.py).
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from guestwall.agent.nflog import NflogSocket, Packet
from guestwall.compile import names
from guestwall.compile.droplog import LogRule
from guestwall.config import HostConfig
from guestwall.dataplane.backend import Backend
from guestwall.nft.commands import ListTable, Table

COUNT_INTERVAL = 1.0


def timestamp(when: float) -> str:
    return datetime.fromtimestamp(when, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class LogWriter:
    """Appends JSON lines to ``path``; beyond ``max_bytes`` it becomes path.1 (path.1 becomes path.2 ...)."""

    def __init__(self, path: str, max_bytes: int, keep: int) -> None:
        self.path, self.max_bytes, self.keep = path, max_bytes, keep
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        self.file = open(path, "a", encoding="utf-8")  # noqa: SIM115 (kept open, closed in close)

    def write(self, records: list[dict[str, Any]]) -> None:
        if not records:
            return
        self.file.write("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records))
        self.file.flush()
        if self.file.tell() >= self.max_bytes:
            self.rotate()

    def rotate(self) -> None:
        self.file.close()
        for n in range(self.keep - 1, 0, -1):
            if os.path.exists(f"{self.path}.{n}"):
                os.replace(f"{self.path}.{n}", f"{self.path}.{n + 1}")
        os.replace(self.path, f"{self.path}.1")
        self.file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115

    def close(self) -> None:
        self.file.close()


def log_files(path: str) -> list[str]:
    """The log and its rotated copies (path.1 is the newest of those), oldest first."""
    rotated = []
    n = 1
    while os.path.exists(f"{path}.{n}"):
        rotated.append(f"{path}.{n}")
        n += 1
    return [*reversed(rotated), *([path] if os.path.exists(path) else [])]


def rule_fields(rule: LogRule | None, rule_id: str) -> dict[str, Any]:
    if rule is None:  # logged just before a change took the rule away
        return {"rule_id": rule_id}
    return {
        "rule_id": rule.id,
        "filter": rule.filter,
        "rule": rule.rule,
        "priority": rule.priority,
        "chain": rule.chain,
        "stage": rule.stage,
        **({"comment": rule.comment} if rule.comment else {}),
    }


def record(
    packet: Packet, rules: Mapping[str, LogRule], ports: Mapping[int, str], host: str
) -> dict[str, Any]:
    rule_id = packet.prefix.removeprefix(names.LOG_PREFIX)
    rule = rules.get(rule_id)
    direction = rule.direction if rule is not None else ""
    # behind a bridge (layer 3 stages) the port is the physical device; at layer 2 it is the device itself
    index = packet.physout or packet.outdev if direction == "in" else packet.physin or packet.indev
    out: dict[str, Any] = {
        "time": timestamp(packet.time or time.time()),
        "host": host,
        "port": ports.get(index, f"ifindex {index}"),
        "direction": direction,
        "verdict": rule.verdict if rule is not None else "",
        **rule_fields(rule, rule_id),
        "ethertype": f"0x{packet.ethertype:04x}",
    }
    for key in ("src_mac", "dst_mac", "protocol", "src", "dst", "sport", "dport"):
        value = getattr(packet, key)
        if value is not None:
            out[key] = value
    return out


def skipped_counts(backend: Backend) -> dict[str, int]:
    """Packets beyond the limit so far, per logged rule id (the counter in each log chain's first rule)."""
    counts: dict[str, int] = {}
    for family in names.FAMILIES:
        listing = backend.list_json(ListTable(Table(family, names.TABLE))) or {}
        for obj in listing.get("nftables", []):
            rule = obj.get("rule")
            if rule is None or not str(rule.get("chain", "")).startswith("log."):
                continue
            exprs = rule.get("expr", [])
            if any("limit" in e for e in exprs):
                for e in exprs:
                    if "counter" in e and isinstance(e["counter"], dict):
                        counts[rule["chain"][4:]] = int(e["counter"].get("packets", 0))
    return counts


class DropLog:
    """The agent's reader of one namespace's log group and writer of the log file."""

    def __init__(self, config: HostConfig, netns: str | None, backend: Backend) -> None:
        self.backend = backend
        self.host = socket.gethostname()
        self.socket = NflogSocket(netns, config.log_group)
        self.writer = LogWriter(config.log_path, config.log_max_bytes, config.log_keep)
        self.counts: dict[str, int] | None = None
        self.next_count = time.monotonic() + COUNT_INTERVAL
        self.lost = 0
        self.skipped = 0  # packets the limits left out since the agent started

    def fileno(self) -> int:
        return self.socket.fileno()

    def close(self) -> None:
        self.socket.close()
        self.writer.close()

    def read(self, rules: Mapping[str, LogRule], ports: Mapping[int, str]) -> int:
        packets = self.socket.read()
        records = [record(p, rules, ports, self.host) for p in packets]
        if self.socket.lost != self.lost:
            records.append(
                {"time": timestamp(time.time()), "host": self.host, "lost": "the kernel's queue overflowed"}
            )
            self.lost = self.socket.lost
        self.writer.write(records)
        return len(packets)

    def count(self, rules: Mapping[str, LogRule]) -> None:
        """Write one "skipped" record per rule whose limit cut packets since the last look."""
        self.next_count = time.monotonic() + COUNT_INTERVAL
        if not rules:
            self.counts = None
            return
        counts = skipped_counts(self.backend)
        previous, self.counts = self.counts, counts
        if previous is None:
            return  # the first look is the reference
        now = timestamp(time.time())
        records = []
        for rule_id, value in sorted(counts.items()):
            delta = value - previous.get(rule_id, 0)
            if delta < 0:  # the chain was replaced: its counter started again
                delta = value
            if delta > 0:
                self.skipped += delta
                rule = rules.get(rule_id)
                records.append(
                    {
                        "time": now,
                        "host": self.host,
                        "skipped": delta,
                        "direction": rule.direction if rule else "",
                        "verdict": rule.verdict if rule else "",
                        **rule_fields(rule, rule_id),
                    }
                )
        self.writer.write(records)
