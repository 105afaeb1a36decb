"""Consistency under concurrency and crashes: two CLI commands racing with the agent running end with the
kernel equal to the store and no update lost; kill -9 of the CLI or of the agent in the middle of a large
apply never leaves the store half-written, and the next start converges."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable

from agentkit import STORES, Host, binding_xml, new_guest

from guestwall.compile import names
from guestwall.lab import Guest
from netns_fixtures import needs_netns

pytestmark = needs_netns

CONFIG = '[ports]\nguest_patterns = ["vnet*"]\n'
EXTRA = """<filter name='extra' chain='root'>
  <rule action='drop' direction='out' priority='500'><tcp dstportstart='{port}'/></rule>
</filter>
"""
GUARDED = "<filter name='guarded' chain='root'><filterref filter='clean-traffic'/><filterref filter='extra'/></filter>"


def kernel_ports(host: Host) -> set[str]:
    listing = host.nft("-j", "list", "map", "bridge", names.TABLE, names.L2_OUT_MAP, check=False)
    if listing.returncode != 0:
        return set()
    found = json.loads(listing.stdout)["nftables"][1]["map"].get("elem", [])
    return {elem[0] for elem in found}


def store_ports(host: Host) -> set[str]:
    lines = host.run("-q", "nwfilter-binding-list").stdout.splitlines()
    return {line.split()[0] for line in lines if line.strip()}


def guests(host: Host, first: int, count: int) -> list[Guest]:
    return [new_guest(host.lab, f"g{i}", i) for i in range(first, first + count)]


@STORES
def test_two_commands_racing_with_the_agent(make_host: Callable[..., Host], store: str) -> None:
    host = make_host(guests=2, config=CONFIG, store=store)
    host.run("nwfilter-define", host.write("extra.xml", EXTRA.format(port=25)))
    host.run("nwfilter-define", host.write("guarded.xml", GUARDED))
    host.bind(list(host.lab.guests), "guarded")
    agent = host.start_agent()
    errors: list[BaseException] = []

    def worker(steps: list[tuple[str, ...]]) -> None:
        try:
            for step in steps:
                host.run(*step, separate=True)  # each command a process of its own, as users run them
        except BaseException as e:
            errors.append(e)

    a_guests, b_guests = guests(host, 10, 5), guests(host, 20, 4)
    for g in a_guests + b_guests:
        host.write(f"race-{g.portdev}.xml", binding_xml(g, "guarded", {"IP": g.ipv4}))
    steps_a = [("nwfilter-binding-create", str(host.workdir / f"race-{g.portdev}.xml")) for g in a_guests]
    steps_a += [("nwfilter-binding-delete", g.portdev) for g in a_guests[:2]]
    steps_b: list[tuple[str, ...]] = []
    for i, g in enumerate(b_guests):
        steps_b.append(("nwfilter-define", host.write(f"extra-{i}.xml", EXTRA.format(port=30 + i))))
        steps_b.append(("nwfilter-binding-create", str(host.workdir / f"race-{g.portdev}.xml")))
    threads = [threading.Thread(target=worker, args=(steps,)) for steps in (steps_a, steps_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []

    expected = {g.portdev for g in host.lab.guests} | {g.portdev for g in a_guests[2:] + b_guests}
    assert store_ports(host) == expected  # no update lost
    assert "dstportstart='33'" in host.run("nwfilter-dumpxml", "extra").stdout
    assert host.plan() == ""  # the kernel equals the store
    assert kernel_ports(host) == expected
    assert " ERROR " not in agent.log()


def _kill_at_first_kernel_event(host: Host, argv: list[str]) -> tuple[int, bool]:
    """Start ``argv``, kill -9 it as soon as our tables change in the kernel; (its pid, whether it was
    still running then)."""
    monitor = subprocess.Popen(
        ["ip", "netns", "exec", host.netns, "nft", "monitor"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert monitor.stdout is not None
        time.sleep(0.3)  # the monitor subscribes
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=host.env())
        for line in monitor.stdout:
            if f" {names.TABLE} " in f" {line} ":
                break
        running = proc.poll() is None
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        return proc.pid, running
    finally:
        monitor.terminate()
        monitor.wait()


@STORES
def test_kill_9_of_the_cli_during_a_large_apply(make_host: Callable[..., Host], store: str) -> None:
    host = make_host(guests=2, config=CONFIG, subnet="10.78.0.0/16", store=store)
    host.bind(list(host.lab.guests))
    many = guests(host, 100, 600)
    files = [
        host.write(f"big-{g.portdev}.xml", binding_xml(g, "clean-traffic", {"IP": g.ipv4})) for g in many
    ]
    before = store_ports(host)
    _kill_at_first_kernel_event(host, host.cli_argv("nwfilter-binding-create", *files))
    after = store_ports(host)
    assert after in (before, before | {g.portdev for g in many})  # all or nothing, never half
    ahead = kernel_ports(host) != after  # applied to the kernel, not committed to the store
    print(
        f"CLI killed {'before' if after == before else 'after'} its commit; kernel ahead of the store: {ahead}"
    )
    host.start_agent()
    assert host.plan() == ""
    assert kernel_ports(host) == after


def test_kill_9_of_the_agent_during_a_large_apply(make_host: Callable[..., Host]) -> None:
    host = make_host(guests=2, config=CONFIG, subnet="10.78.0.0/16")
    host.bind(list(host.lab.guests))
    many = guests(host, 100, 600)
    files = [
        host.write(f"big-{g.portdev}.xml", binding_xml(g, "clean-traffic", {"IP": g.ipv4})) for g in many
    ]
    host.run("nwfilter-binding-create", *files)
    expected = store_ports(host)
    host.nft("flush", "ruleset")  # the large apply: everything, from nothing
    argv = [*host.cli_argv("agent"), "--log-level", "debug"]
    _kill_at_first_kernel_event(host, argv)
    assert store_ports(host) == expected
    agent = host.start_agent()
    assert "converged (start)" in agent.log()
    assert host.plan() == ""
    assert kernel_ports(host) == expected
