"""Kill the tracked connections that the rules no longer allow, after a rule or a member was removed.

The kernel keeps accepting packets of established connections (the stateful rules accept them before any
security-group rule is consulted), so revoking a rule or a member would otherwise leave open connections
open: Nova never cleaned them up, Neutron runs ``conntrack -D`` after its rule updates. We do it after the
kernel transaction (so a packet arriving meanwhile meets the new rules), and delete exactly the flows that
the cloud objects, as they are now, no longer allow (``Policy.allows``); flows another rule still allows
stay. The ``conntrack`` tool (conntrack-tools) is the I/O seam; tests can pass a fake.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable
from ipaddress import ip_address
from typing import Protocol

from guestwall.cloud.policy import Flow, Policy
from guestwall.errors import DataplaneError
from guestwall.model.cloud import Network, Port


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


def parse_flow(line: str) -> Flow | None:
    """One line of ``conntrack -L``: protocol name and number, then key=value pairs whose first
    occurrences are the original direction."""
    tokens = line.split()
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


def kill_disallowed(
    conntrack: Conntrack, policy: Policy, ports: Iterable[Port], peers: Network | None = None
) -> list[Flow]:
    """Delete the flows of ``ports`` (with a remote end in ``peers``, if given) that ``policy`` no longer
    allows; returns them."""
    addresses = {net for port in ports for net in port.networks()}
    if not addresses:
        return []

    def ours(addr: object) -> bool:
        return any(addr in net for net in addresses if net.version == getattr(addr, "version", 0))

    killed = []
    for flow in conntrack.flows():
        if not (ours(flow.src) or ours(flow.dst)):
            continue
        if peers is not None and not any(
            a.version == peers.version and a in peers for a in (flow.src, flow.dst)
        ):
            continue
        if not policy.allows(flow):
            conntrack.delete(flow)
            killed.append(flow)
    return killed
