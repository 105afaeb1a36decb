"""Tracked connections: listing and deleting them, the I/O seam of killing revoked connections.

The kernel keeps accepting packets of established connections, so revoking a rule or a member would
otherwise leave open connections open: Nova never cleaned them up, Neutron runs ``conntrack -D`` after its
rule updates. Which flows go is decided in revoke.py (by the enforced programs); this module only lists and
deletes: the table is read from /proc/net/nf_conntrack inside the namespace when the kernel provides it (no
process started), else with the ``conntrack`` tool (conntrack-tools), which also deletes. Tests can pass a
fake ``Conntrack``.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from ipaddress import ip_address
from typing import Protocol

from guestwall.dataplane.netns import call_in_netns
from guestwall.errors import DataplaneError
from guestwall.model.cloud import Address

# per thread: a thread that entered a namespace sees that namespace's table here
_PROC_TABLE = "/proc/thread-self/net/nf_conntrack"


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


class Conntrack(Protocol):
    def flows(self) -> list[Flow]:
        """Every tracked IPv4 and IPv6 connection of the namespace."""

    def delete(self, flow: Flow) -> None:
        """Forget one connection (its original tuple); nothing happens if it is already gone."""


class ConntrackTool:
    """``conntrack -L`` / ``conntrack -D`` in a named network namespace (or the current one)."""

    def __init__(self, netns: str | None = None) -> None:
        self.netns = netns

    def _run(self, args: list[str]) -> subprocess.CompletedProcess[str]:
        if shutil.which("conntrack") is None:
            raise DataplaneError("the conntrack tool is missing (Debian package conntrack)")
        argv = ["conntrack", *args]
        if self.netns is not None:
            argv = ["ip", "netns", "exec", self.netns, *argv]
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise DataplaneError(f"conntrack failed: {e}") from e

    def flows(self) -> list[Flow]:
        """From the namespace's /proc/net/nf_conntrack when the kernel has it (read in-process: no tool
        started for the common empty or small table), else from ``conntrack -L``."""
        found = proc_flows(self.netns)
        return found if found is not None else self.tool_flows()

    def tool_flows(self) -> list[Flow]:
        """``conntrack -L`` for IPv4 and IPv6."""
        out: list[Flow] = []
        for family in ("ipv4", "ipv6"):
            proc = self._run(["-L", "-f", family])
            if proc.returncode != 0:
                raise DataplaneError(f"conntrack -L failed: {proc.stderr.strip().splitlines()[-1:]}")
            out += [flow for line in proc.stdout.splitlines() if (flow := parse_flow(line)) is not None]
        return out

    def delete(self, flow: Flow) -> None:
        args = [
            "-D",
            "-f",
            f"ipv{flow.family}",
            "-p",
            str(flow.protocol),
            "-s",
            str(flow.src),
            "-d",
            str(flow.dst),
        ]
        if flow.sport is not None and flow.dport is not None:
            args += ["--sport", str(flow.sport), "--dport", str(flow.dport)]
        if flow.icmp_type is not None:
            args += ["--icmp-type", str(flow.icmp_type)]
            if flow.icmp_code is not None:
                args += ["--icmp-code", str(flow.icmp_code)]
            if flow.icmp_id is not None:
                args += ["--icmp-id", str(flow.icmp_id)]
        proc = self._run(args)
        if proc.returncode not in (0, 1):  # 1: nothing matched (already gone)
            raise DataplaneError(f"conntrack -D failed: {proc.stderr.strip()}")


def proc_flows(netns: str | None) -> list[Flow] | None:
    """The flows of ``netns`` (or this namespace) read from its /proc/net/nf_conntrack; None when the
    kernel does not provide that file."""
    try:
        text = call_in_netns(netns, _read_table)
    except OSError:
        return None
    if text is None:
        return None
    return [flow for line in text.splitlines() if (flow := parse_flow(line)) is not None]


def _read_table() -> str | None:
    """The calling thread's namespace's conntrack table as /proc shows it; None without that file."""
    try:
        with open(_PROC_TABLE, encoding="ascii") as table:
            return table.read()
    except (FileNotFoundError, PermissionError):
        return None


def parse_flow(line: str) -> Flow | None:
    """One line of ``conntrack -L`` (protocol name and number, then key=value pairs whose first
    occurrences are the original direction) or of /proc/net/nf_conntrack (the same after the address
    family's name and number)."""
    tokens = line.split()
    if tokens[:1] in (["ipv4"], ["ipv6"]):
        tokens = tokens[2:]
    if len(tokens) < 3 or not tokens[1].isdigit():
        return None
    fields: dict[str, str] = {}
    for token in tokens[2:]:
        key, sep, value = token.partition("=")
        if sep and key not in fields:
            fields[key] = value
    if "src" not in fields or "dst" not in fields:
        return None
    src, dst = ip_address(fields["src"]), ip_address(fields["dst"])

    def number(key: str) -> int | None:
        value = fields.get(key)
        return int(value) if value is not None and value.isdigit() else None

    return Flow(
        family=src.version,
        protocol=int(tokens[1]),
        src=src,
        dst=dst,
        sport=number("sport"),
        dport=number("dport"),
        icmp_type=number("type"),
        icmp_code=number("code"),
        icmp_id=number("id"),
    )
