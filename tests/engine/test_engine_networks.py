"""The virtual networks' tables go through the engine like every change: ``networks_changed()`` makes it
build ``ip/ip6 guestwall`` from the store (active networks and floating IPs, in the caller's transaction)
and run one transaction; the filters' tables are neither read nor touched by it."""

from __future__ import annotations

from pathlib import Path

import pytest

from guestwall.dataplane.backend import RecordingBackend
from guestwall.dataplane.diff import diff
from guestwall.engine import Change, Engine, networks_changed
from guestwall.networks.desired import METADATA_ENV, floating_ips, host_options
from guestwall.networks.model import ForwardMode
from guestwall.networks.rules import compile_networks
from guestwall.networks.runtime import live_definition
from guestwall.networks.xml import format_network, parse_network
from guestwall.nft.render import render_transaction
from guestwall.store import open_store
from guestwall.store.netrepo import FloatingIPRecord, NetRepo, NetworkRecord

NAT = """<network><name>n1</name><uuid>3e3fce45-4f53-4fa7-bb32-11f34168b82b</uuid><forward mode='nat'/>
<bridge name='gwe0'/><ip address='10.77.0.1' prefix='24'/><ip family='ipv6' address='fd00:77::1' prefix='64'/>
</network>"""
ISOLATED = """<network><name>n2</name><uuid>5b0a7b43-3a49-4a5a-8c59-9d0f3a0e1d21</uuid><bridge name='gwe1'/>
<ip address='10.78.0.1' prefix='24'/></network>"""
FIP = FloatingIPRecord("198.51.100.7", "10.77.0.5", None)


def test_a_networks_change_is_the_store_s_networks_compiled_and_diffed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(METADATA_ENV, "192.0.2.9:8775")
    store = open_store(f"sqlite:///{tmp_path}/n.db")
    backend = RecordingBackend()
    nets = [live_definition(parse_network(NAT)), parse_network(ISOLATED)]
    assert nets[0].forward.mode is ForwardMode.NAT
    with store.write() as w:
        repo = NetRepo(w)
        for net, active in zip(nets, (True, False), strict=True):
            assert net.uuid is not None
            text = format_network(net)
            repo.put(
                NetworkRecord(net.name, net.uuid, net.bridge_name, text, text if active else None, False)
            )
        repo.add_floating_ip(FIP)
        result = Engine(backend).apply(w, networks_changed())
    expected = compile_networks(nets[:1], floating_ips([FIP]), host_options())
    assert backend.transactions == [render_transaction(diff(expected, {}))]
    assert result.transaction == diff(expected, {})
    text = backend.transactions[0]
    assert "table ip guestwall" in text and "table ip6 guestwall" in text  # the nat network has IPv6
    assert "gwe0" in text and "gwe1" not in text  # the inactive network brings nothing
    assert "198.51.100.7" in text and "192.0.2.9" in text  # a floating IP, the metadata endpoint
    assert "bridge guestwall" not in text and "inet guestwall" not in text  # the filters' tables: untouched
    store.close()


def test_a_networks_change_stands_alone() -> None:
    assert networks_changed()
    with pytest.raises(ValueError, match="networks_changed"):
        Change(networks=True, full=True)
    with pytest.raises(ValueError, match="networks_changed"):
        Change(networks=True, added=("vnet0",))
