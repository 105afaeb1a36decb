"""Where the dashboard finds host status and the drop log on an installation that has them.

Hosts: the per-host status rows the agents write (``guestwall.store.hosts``, the multi-host feature). The drop
log: the JSON lines the agent writes (``guestwall.agent.droplog``, path from the host configuration's
``[log] path``). Each source is used only if its feature's module is installed; otherwise the pages say
"not available". An app may also plug its own sources into ``ApiState.extra`` (guestwall.api.ui.optional).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from guestwall.api.ui.optional import DropRecord, HostView, LogQuery
from guestwall.store.records import Store

TAIL_LINES = 5000  # the live view reads the newest records only


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def hosts_source(store: Store) -> Callable[[], Sequence[HostView]] | None:
    if not _installed("guestwall.store.hosts"):
        return None
    hosts = importlib.import_module("guestwall.store.hosts")

    def read() -> list[HostView]:
        revision, statuses = hosts.host_statuses(store)
        now = datetime.now(UTC)
        return [host_view(status, revision, now, hosts.DOWN_AFTER) for status in statuses]

    return read


def _age(when: datetime | None, now: datetime) -> str:
    if when is None:
        return ""
    seconds = max(0, int((now - when).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


def host_view(status: Any, revision: int, now: datetime, down_after: float) -> HostView:
    """One host's row: behind by how many revisions, down after ``down_after`` seconds without a report,
    failing while its last error stands."""
    down = (now - status.heartbeat_at).total_seconds() > down_after
    error = status.last_error or ""
    return HostView(
        name=status.name,
        applied=str(status.applied_revision),
        lag=f"{max(0, revision - status.applied_revision)} revision(s)",
        healthy=not down and not error,
        error=("no report for " + _age(status.heartbeat_at, now).removesuffix(" ago")) if down else error,
        last_repair=_age(status.last_repair_at, now),
        heartbeat=_age(status.heartbeat_at, now),
    )


def drop_log_source(store: Store) -> Callable[[LogQuery], Sequence[DropRecord]] | None:
    if not _installed("guestwall.agent.droplog"):
        return None
    from guestwall.config import load_config

    path = str(getattr(load_config(), "log_path", "/var/log/guestwall/packets.jsonl"))
    return lambda query: read_log(path, query, _projects(store))


def _projects(store: Store) -> Callable[[str], str]:
    """Port device -> its cloud port's project ('' for a binding without one: admins only)."""
    from sqlalchemy import select

    from guestwall.store.cloudtables import PortRow
    from guestwall.store.sqlstore import SqlReader

    with store.read() as reader:
        assert isinstance(reader, SqlReader)
        known = dict(reader.session.execute(select(PortRow.device, PortRow.project)).all())
    return lambda device: str(known.get(device, ""))


def read_log(path: str, query: LogQuery, project_of: Callable[[str], str]) -> list[DropRecord]:
    """The newest records matching ``query``, newest first. ``seq`` is a record's line number counted
    from the oldest file kept (a rotation renumbers them; the live view then shows a few twice at most)."""
    from guestwall.agent.droplog import log_files

    lines: deque[tuple[int, str]] = deque(maxlen=TAIL_LINES)
    number = 0
    for name in log_files(path):
        try:
            with open(name, encoding="utf-8", errors="replace") as f:
                for line in f:
                    number += 1
                    lines.append((number, line))
        except OSError:
            continue
    found: list[DropRecord] = []
    for seq, line in reversed(lines):
        if seq <= query.after or len(found) >= query.limit:
            break
        record = _record(seq, line, project_of)
        if record is None:
            continue
        if query.port and record.port != query.port:
            continue
        if query.rule and query.rule not in record.rule:
            continue
        found.append(record)
    return found


def _record(seq: int, line: str, project_of: Callable[[str], str]) -> DropRecord | None:
    try:
        row = json.loads(line)
    except ValueError:
        return None  # a line cut by a crash or a rotation
    if not isinstance(row, dict):
        return None
    where = f"{row.get('filter', '?')} rule {row.get('rule', '?')}" if "filter" in row else ""
    if "skipped" in row:
        rule = f"skipped {row.get('skipped')} beyond the limit: {where}"
    else:
        rule = where or str(row.get("rule_id", ""))
    port = str(row.get("port", ""))
    ports = f":{row['dport']}" if "dport" in row else ""
    return DropRecord(
        seq=seq,
        time=str(row.get("time", "")),
        host=str(row.get("host", "")),
        port=port,
        project=project_of(port),
        direction=str(row.get("direction", "")),
        verdict=str(row.get("verdict", "")),
        rule=rule,
        source=str(row.get("src", row.get("src_mac", ""))),
        destination=str(row.get("dst", row.get("dst_mac", ""))) + ports,
        protocol=str(row.get("protocol", row.get("ethertype", ""))),
    )


@dataclass(frozen=True)
class Traffic:
    """Packets and bytes: a port's (its link statistics) or a kernel rule's (its counter)."""

    packets: int
    bytes: int

    def __str__(self) -> str:
        size = float(self.bytes)
        for unit in ("B", "kB", "MB", "GB", "TB"):
            if size < 1000 or unit == "TB":
                break
            size /= 1000
        shown = f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        return f"{self.packets} pkts, {shown}"


@dataclass(frozen=True)
class PortTraffic:
    sent: Traffic  # by the guest
    received: Traffic  # delivered to it


def port_traffic(netns: str | None, devices: Sequence[str]) -> dict[str, PortTraffic] | None:
    """The ports' link statistics in the enforcing namespace, or None when they cannot be read."""
    from guestwall.agent.counters import read_ports
    from guestwall.errors import GuestwallError

    try:
        counters = read_ports(netns, devices)
    except (GuestwallError, OSError):
        return None
    return {
        c.port: PortTraffic(Traffic(c.out_packets, c.out_bytes), Traffic(c.in_packets, c.in_bytes))
        for c in counters
    }


def rule_traffic(backend: Any) -> dict[str, Traffic]:
    """Counters of the kernel's rules by origin ("filter#rule"), summed over the chains that share it;
    empty unless rules count (``[counters] rules = true``) or log."""
    from guestwall.agent.counters import read_rules
    from guestwall.errors import GuestwallError

    try:
        counters, _ = read_rules(backend)
    except (GuestwallError, OSError):
        return {}
    out: dict[str, Traffic] = {}
    for c in counters:
        seen = out.get(c.origin, Traffic(0, 0))
        out[c.origin] = Traffic(seen.packets + c.packets, seen.bytes + c.bytes)
    return out
