"""A 50-guest lab builds in bounded time and every port forwards (timings are printed, bounds are loose)."""

from __future__ import annotations

import time
from collections.abc import Callable

from guestwall.lab import Lab, lab_down, lab_status
from guestwall.lab.traffic import fdb_port, frames, ping, probe
from netns_fixtures import needs_netns

pytestmark = needs_netns


def test_fifty_guests(lab_factory: Callable[..., Lab]) -> None:
    started = time.perf_counter()
    lab = lab_factory(50)
    built = time.perf_counter() - started
    print(f"\nlab of 50 guests built in {built:.2f} s")
    assert len(lab.guests) == 50 and lab.guests[-1].name == "g50" and lab.guests[-1].portdev == "vnet49"

    assert lab_status(lab.prefix) == lab
    first, last = lab.guests[0], lab.guests[-1]
    assert ping(lab, first.name, last.name) and ping(lab, last.name, first.name, family=6)
    assert fdb_port(lab, last.mac) == "vnet49"
    got = probe(lab, "g25", [frames.eth(lab["g25"].mac, ethertype=0x88B5)], timeout=1.0)
    assert all(len(arrived) == 1 for arrived in got.values()) and len(got) == 49

    started = time.perf_counter()
    assert len(lab_down(lab.prefix)) == 51
    print(f"lab of 50 guests removed in {time.perf_counter() - started:.2f} s")


def test_five_guests_timing(lab_factory: Callable[..., Lab]) -> None:
    started = time.perf_counter()
    lab_factory(5)
    print(f"\nlab of 5 guests built in {time.perf_counter() - started:.3f} s")
