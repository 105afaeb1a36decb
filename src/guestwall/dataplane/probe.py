"""What the kernel of a namespace can do for us, checked where it matters.

Layer-3/4 rules of bridged traffic run in the inet hooks only when br_netfilter hands bridged packets to
them (net.bridge.bridge-nf-call-iptables / -ip6tables, per namespace). libvirt warns about the same.
"""

from __future__ import annotations

from guestwall.dataplane.netns import call_in_netns
from guestwall.errors import DataplaneError

SYSCTLS = ("bridge-nf-call-iptables", "bridge-nf-call-ip6tables")


def _read_sysctls(netns: str | None) -> dict[str, str | None]:
    def read() -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for name in SYSCTLS:
            try:
                with open(f"/proc/sys/net/bridge/{name}") as f:
                    out[name] = f.read().strip()
            except OSError:
                out[name] = None
        return out

    try:
        return call_in_netns(netns, read)  # /proc/sys follows the thread's namespace
    except DataplaneError:
        return dict.fromkeys(SYSCTLS)


def bridged_l3_warning(netns: str | None) -> str | None:
    """A warning when layer-3 rules would not see bridged traffic in this namespace, else None."""
    values = _read_sysctls(netns)
    off = [name for name, value in values.items() if value != "1"]
    if not off:
        return None
    if all(value is None for value in values.values()):
        return "br_netfilter is not available: tcp/udp/icmp/all rules do not see bridged traffic"
    return "net.bridge." + " and net.bridge.".join(off) + " is not 1: those rules do not see bridged traffic"
