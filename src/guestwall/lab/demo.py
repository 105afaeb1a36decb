"""The demonstration: a lab of five guests, eve attacks the others with forged frames, first on a bare
bridge, then with libvirt's clean-traffic bound to every guest by guestwall. Returns what happened."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from guestwall.lab.build import lab_down, lab_up
from guestwall.lab.spec import Lab, LabSpec
from guestwall.lab.traffic import arp_cache, fdb_port, frames, ping, probe

FORGED_MAC = "52:54:00:99:99:99"


@dataclass(frozen=True)
class Attempt:
    """One thing eve tries; ``check`` says whether it got through (for an attack: whether it worked)."""

    title: str
    attack: bool
    check: Callable[[Lab], bool]


@dataclass
class Report:
    rows: list[tuple[str, bool, bool, bool]] = field(default_factory=list)  # title, attack, bare, filtered
    bind_seconds: float = 0.0
    kernel_rules: int = 0

    @property
    def ok(self) -> bool:
        return all((not filtered) if attack else filtered for _, attack, _, filtered in self.rows)


def _arrives(sender: str, make: Callable[[Lab], list[object]], where: str) -> Callable[[Lab], bool]:
    def check(lab: Lab) -> bool:
        got = probe(lab, sender, make(lab), receivers=[where])  # type: ignore[arg-type]
        return bool(got[where])

    return check


def _eventually(check: Callable[[], bool], within: float = 0.5) -> bool:
    """Whether ``check`` holds within ``within`` seconds: a loaded machine may take a while to process a
    frame that has arrived."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def _poisons_arp(forged: bool) -> Callable[[Lab], bool]:
    def check(lab: Lab) -> bool:
        eve, alice, bob = lab["eve"], lab["alice"], lab["bob"]
        ping(lab, "bob", alice.ipv4)
        mac = FORGED_MAC if forged else eve.mac
        reply = frames.arp(mac, op="is-at", psrc=alice.ipv4, pdst=bob.ipv4, hwsrc=mac, dst=bob.mac)
        probe(lab, "eve", [reply], receivers=["bob"])
        poisoned = _eventually(lambda: arp_cache(lab, "bob").get(alice.ipv4) == mac)
        ping(lab, "alice", bob.ipv4)  # let alice's own traffic repair bob's cache
        return poisoned

    return check


def _steals_fdb(lab: Lab) -> bool:
    alice, bob = lab["alice"], lab["bob"]
    ping(lab, "alice", bob.ipv4)
    probe(lab, "eve", [frames.eth(alice.mac, "ff:ff:ff:ff:ff:ff", ethertype=0x0806)], receivers=["br0"])
    stolen = _eventually(lambda: fdb_port(lab, alice.mac) == lab["eve"].portdev)
    ping(lab, "alice", bob.ipv4)
    return stolen


def _frame(make: Callable[[Lab], object]) -> Callable[[Lab], list[object]]:
    return lambda lab: [make(lab)]


def _udp_to_bob(mac_of: str, ip_of: str, vlan: int | None = None) -> Callable[[Lab], list[object]]:
    """UDP to bob from ``mac_of``'s MAC and ``ip_of``'s IP address (eve sends it)."""

    def make(lab: Lab) -> list[object]:
        bob = lab["bob"]
        return [frames.udp4(lab[mac_of].mac, bob.mac, ip_src=lab[ip_of].ipv4, ip_dst=bob.ipv4, vlan=vlan)]

    return make


ATTEMPTS = (
    Attempt("eve sends with alice's IP address", True, _arrives("eve", _udp_to_bob("eve", "alice"), "bob")),
    Attempt("eve sends with alice's MAC and IP", True, _arrives("eve", _udp_to_bob("alice", "alice"), "bob")),
    Attempt("eve's ARP reply claims alice's IP (eve's own MAC)", True, _poisons_arp(False)),
    Attempt("eve's ARP reply claims alice's IP (a forged MAC)", True, _poisons_arp(True)),
    Attempt("eve hides a forged IP in a VLAN tag", True,
            _arrives("eve", _udp_to_bob("eve", "alice", 7), "br0")),
    Attempt("eve sends an unknown ethertype (0x88b5)", True, _arrives("eve", _frame(
        lambda lab: frames.eth(lab["eve"].mac, lab["bob"].mac, ethertype=0x88B5)
    ), "bob")),
    Attempt("eve poisons the bridge's table with alice's MAC", True, _steals_fdb),
    Attempt("eve asks DHCP for an address (from 0.0.0.0)", False, _arrives("eve", _frame(
        lambda lab: frames.dhcp_discover(lab["eve"].mac)
    ), "br0")),
    Attempt("eve's ARP request with her own addresses", False, _arrives("eve", _frame(
        lambda lab: frames.arp(lab["eve"].mac, op="who-has", psrc=lab["eve"].ipv4, pdst=lab["alice"].ipv4)
    ), "alice")),
    Attempt("qemu's RARP announce for eve", False, _arrives("eve", _frame(
        lambda lab: frames.rarp(lab["eve"].mac)
    ), "br0")),
    Attempt("eve pings alice", False, lambda lab: ping(lab, "eve", lab["alice"].ipv4)),
    Attempt("alice pings eve", False, lambda lab: ping(lab, "alice", lab["eve"].ipv4)),
)  # fmt: skip


def _binding_xml(lab: Lab, name: str) -> str:
    g = lab[name]
    owner = f"<owner><name>{g.name}</name><uuid>00000000-0000-4000-8000-{g.index + 1:012d}</uuid></owner>"
    ref = f"<filterref filter='clean-traffic'><parameter name='IP' value='{g.ipv4}'/></filterref>"
    return f"<filterbinding>{owner}<portdev name='{g.portdev}'/><mac address='{g.mac}'/>{ref}</filterbinding>"


def run_demo(prefix: str = "gwdemo", progress: Callable[[str], None] = lambda _: None) -> Report:
    """Build the lab, try every attempt bare and filtered, and always remove the lab."""
    from guestwall.config import HostConfig
    from guestwall.dataplane.backend import open_backend
    from guestwall.engine import Engine
    from guestwall.services.bindings import create_bindings
    from guestwall.store import open_store

    report = Report()
    progress("building the lab: a bridge and 5 guests in network namespaces")
    lab = lab_up(LabSpec(prefix=prefix, guests=5), replace=True)
    try:
        progress("eve attacks the bare bridge")
        bare = [a.check(lab) for a in ATTEMPTS]
        with tempfile.TemporaryDirectory() as tmp:
            store = open_store(f"sqlite:///{Path(tmp) / 'demo.db'}")
            try:
                progress("binding clean-traffic to every guest")
                start = time.perf_counter()
                engine = Engine(open_backend(lab.host_netns), HostConfig())  # not this host's settings
                _, result = create_bindings(store, [_binding_xml(lab, g.name) for g in lab.guests], engine)
                report.bind_seconds = time.perf_counter() - start
                report.kernel_rules = result.transaction.rules_added()
            finally:
                store.close()
        progress("eve attacks again")
        filtered = [a.check(lab) for a in ATTEMPTS]
        report.rows = [(a.title, a.attack, b, f) for a, b, f in zip(ATTEMPTS, bare, filtered, strict=True)]
    finally:
        lab_down(prefix)
    return report
