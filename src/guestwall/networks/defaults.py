"""What libvirt fills in when a network is defined without it: a UUID, a bridge name (the first free
``virbrN``), a bridge MAC address (52:54:00 plus random bytes)."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Set
from dataclasses import replace

from guestwall.networks.model import Bridge, ForwardMode, Network

BRIDGE_TEMPLATE = "virbr{}"


def random_mac() -> str:
    tail = secrets.token_bytes(3)
    return "52:54:00:" + ":".join(f"{b:02x}" for b in tail)


def fill_defaults(net: Network, taken_bridges: Set[str]) -> Network:
    """``net`` completed as libvirt completes it at define time."""
    bridge = net.bridge
    if bridge.name is None:
        n = 0
        while BRIDGE_TEMPLATE.format(n) in taken_bridges:
            n += 1
        bridge = Bridge(BRIDGE_TEMPLATE.format(n), bridge.stp, bridge.delay)
    mac = net.mac
    if mac is None and net.forward.mode in (
        ForwardMode.NONE,
        ForwardMode.NAT,
        ForwardMode.ROUTE,
        ForwardMode.OPEN,
    ):
        mac = random_mac()
    return replace(net, uuid=net.uuid or str(uuid.uuid4()), bridge=bridge, mac=mac)
