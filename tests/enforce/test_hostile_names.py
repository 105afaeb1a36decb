"""Hostile interface names (issue 15, item 2): a tap named ``tap"x`` or ``tap1*`` on the host must not stop
guestwall from enforcing everything else, and such names are refused where a user gives them (binding XML
and cloud ports, through the CLI and the Python API)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from gw import Guestwall, binding_xml

from guestwall.cloud import validate
from guestwall.cloud.driver import FirewallDriver, Instance, Vif
from guestwall.cloud.facade import Cloud
from guestwall.config import ConfigError, parse_config
from guestwall.dataplane.backend import RecordingBackend
from guestwall.engine import Engine
from guestwall.errors import BindingError, CloudError
from guestwall.lab import Lab
from guestwall.lab.traffic import ping
from guestwall.model.cloud import Port
from guestwall.model.ifname import ifname_problem
from guestwall.services.bindings import create_binding
from guestwall.store import open_store
from netns_fixtures import needs_netns, run_in_host

HOSTILE = ['tap"x', "tap1*", "tap\\1"]

CONFIG = """
[ports]
guest_patterns = ["tap*"]
unbound = "filter"
default_filter = "clean-traffic"
"""


@pytest.mark.parametrize("name", HOSTILE)
def test_unmatchable_names_are_named_as_such(name: str) -> None:
    assert ifname_problem(name) is not None
    assert ifname_problem("tap0") is None and ifname_problem("vnet-1.2") is None


@pytest.mark.parametrize("name", HOSTILE)
def test_refused_at_every_way_in(name: str, tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/gw.db")
    try:
        xml = binding_xml_for(name)
        with pytest.raises(BindingError, match="not a valid interface name"):
            create_binding(store, xml, Engine(RecordingBackend()))
        with pytest.raises(CloudError, match="invalid device name"):
            Cloud(store, RecordingBackend()).create_port(Port("", name, "52:54:00:00:00:01", "default"))
        with pytest.raises(CloudError, match="invalid device name"):
            validate.device(name)
        driver = FirewallDriver(store, RecordingBackend(), conntrack=_NoConntrack())
        with pytest.raises(CloudError, match="invalid device name"):
            driver.prepare_instance_filter(Instance("u-1", "vm"), [Vif(name, "52:54:00:00:00:01")])
        with store.read() as reader:
            assert reader.bindings() == []
    finally:
        store.close()


class _NoConntrack:
    def flows(self) -> list[object]:
        return []

    def delete(self, flow: object) -> None:
        pass


def binding_xml_for(name: str) -> str:
    return f"""<filterbinding>
  <owner><name>vm</name><uuid>00000000-0000-4000-8000-000000000001</uuid></owner>
  <portdev name='{name.replace('"', "&quot;")}'/>
  <mac address='52:54:00:00:00:01'/>
  <filterref filter='clean-traffic'/>
</filterbinding>
"""


@pytest.fixture
def hostile_taps(lab: Lab) -> Iterator[list[str]]:
    made = []
    try:
        for n, name in enumerate(HOSTILE):
            peer = f"hpeer{n}"
            run_in_host(lab, "ip", "link", "add", "name", name, "type", "veth", "peer", "name", peer)
            made.append(name)
            run_in_host(lab, "ip", "link", "set", name, "master", lab.bridge, "up")
        yield made
    finally:
        for name in made:
            run_in_host(lab, "ip", "link", "del", "dev", name, check=False)


@needs_netns[0]
@needs_netns[1]
def test_hostile_taps_do_not_stop_enforcement(
    lab: Lab, hostile_taps: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "guestwall.toml"
    config.write_text(CONFIG)
    monkeypatch.setenv("GUESTWALL_CONFIG", str(config))
    gw = Guestwall(lab, tmp_path / "gw.db", tmp_path)
    alice, bob = lab["alice"], lab["bob"]
    gw.run(
        "nwfilter-binding-create", gw.write("a.xml", binding_xml(alice, "clean-traffic", {"IP": alice.ipv4}))
    )
    gw.run("nwfilter-binding-create", gw.write("b.xml", binding_xml(bob, "clean-traffic", {"IP": bob.ipv4})))
    assert ping(lab, "alice", "bob")
    run_in_host(lab, "nft", "flush", "ruleset")
    applied = gw.run("apply")
    assert "warning" not in applied.stdout
    listing = gw.nft("list", "map", "bridge", "guestwall", "l2out")
    assert alice.portdev in listing and bob.portdev in listing
    assert not any(name in listing for name in HOSTILE)
    gw.run("nwfilter-binding-delete", bob.portdev)
    assert os.environ["GUESTWALL_CONFIG"] == str(config)


# ---- item 8: an empty or missing store does not wipe what the kernel enforces ------------------------------


@needs_netns[0]
@needs_netns[1]
def test_an_empty_store_does_not_wipe_the_kernel(lab: Lab, tmp_path: Path) -> None:
    gw = Guestwall(lab, tmp_path / "gw.db", tmp_path)
    alice = lab["alice"]
    gw.run(
        "nwfilter-binding-create", gw.write("a.xml", binding_xml(alice, "clean-traffic", {"IP": alice.ipv4}))
    )
    typo = Guestwall(lab, tmp_path / "typo.db", tmp_path)
    for args in (("apply",), ("agent", "--once")):
        refused = typo.run(*args, check=False)
        assert refused.returncode == 1 and "there is no guestwall store" in refused.stderr
        assert alice.portdev in refused.stderr and "--allow-empty" in refused.stderr
    assert not (tmp_path / "typo.db").exists()
    open_store(typo.url).close()  # exists, but empty
    for args in (("apply",), ("agent", "--once")):
        refused = typo.run(*args, check=False)
        assert (
            refused.returncode == 1
            and "has no bindings" in refused.stderr
            and alice.portdev in refused.stderr
        )
    assert alice.portdev in gw.nft("list", "map", "bridge", "guestwall", "l2out")
    gw.run("apply")  # the right store still applies (nothing to do)
    typo.run("apply", "--allow-empty")
    assert alice.portdev not in gw.nft("list", "map", "bridge", "guestwall", "l2out")
    gw.run("agent", "--once")  # the right store restores it
    assert alice.portdev in gw.nft("list", "map", "bridge", "guestwall", "l2out")
    run_in_host(lab, "nft", "flush", "ruleset")
    fresh = Guestwall(lab, tmp_path / "fresh.db", tmp_path)
    fresh.run("apply")  # a new host: nothing enforced yet, so a missing store is created
    assert (tmp_path / "fresh.db").exists()


@pytest.mark.parametrize("pattern", ['tap"*', "tap\\*", "t*p*", "*"])
def test_config_globs_are_plain_names_with_a_trailing_star(pattern: str) -> None:
    with pytest.raises(ConfigError, match="guest_patterns"):
        parse_config({"ports": {"guest_patterns": [pattern]}})


@needs_netns[0]
@needs_netns[1]
@pytest.mark.parametrize("name", HOSTILE)
def test_cli_refuses_hostile_names(lab: Lab, tmp_path: Path, name: str) -> None:
    gw = Guestwall(lab, tmp_path / "gw.db", tmp_path)
    refused = gw.run("nwfilter-binding-create", gw.write("h.xml", binding_xml_for(name)), check=False)
    assert refused.returncode == 1 and "is not a valid interface name" in refused.stderr
    refused = gw.run("port", "create", name, "--mac", "52:54:00:00:00:01", check=False)
    assert refused.returncode == 1 and "invalid device name" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert gw.run("nwfilter-binding-list").stdout.count("\n") == 3  # header, rule, virsh's empty line
