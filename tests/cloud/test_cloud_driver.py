"""The Nova-style FirewallDriver in a lab: an instance's lifecycle (spawn, refreshes, destroy) with real
traffic, and refreshes that touch only what changed."""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import ip_network

import pytest
from cloudlab import flush_conntrack, listening

from guestwall.cloud.driver import FirewallDriver, Instance, Vif
from guestwall.cloud.rules import RuleSpec
from guestwall.cloud.translate import group_set_name
from guestwall.dataplane.backend import JSON, Backend, open_backend
from guestwall.lab import Guest, Lab
from guestwall.lab.traffic import ping, tcp_connect, tcp_server
from guestwall.model.cloud import RuleDirection
from guestwall.nft.commands import Listing, Transaction
from guestwall.store import Store
from guestwall.store.cloudrepo import cloud_writer
from netns_fixtures import needs_netns

pytestmark = needs_netns


class CountingBackend:
    """The real backend, remembering each transaction's text."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.netns: str | None = inner.netns
        self.transactions: list[str] = []

    def run(self, tx: Transaction) -> None:
        self.transactions.append(tx.text())
        self.inner.run(tx)

    def list_json(self, what: Listing, terse: bool = False) -> JSON | None:
        return self.inner.list_json(what, terse)


def vif(guest: Guest) -> Vif:
    return Vif(guest.portdev, guest.mac, (guest.ipv4, guest.ipv6))


def instance(guest: Guest, *groups: str) -> Instance:
    return Instance(f"00000000-0000-4000-8000-{guest.index:012d}", guest.name, "demo", tuple(groups))


@pytest.fixture
def driver(lab: Lab, store: Store) -> Iterator[FirewallDriver]:
    flush_conntrack(lab)
    yield FirewallDriver(store, CountingBackend(open_backend(lab.host_netns)))


def test_instance_lifecycle(lab: Lab, driver: FirewallDriver) -> None:
    cloud = driver.cloud
    cloud.create_group("web", "demo")
    cloud.create_rule("web", RuleSpec(RuleDirection.INGRESS, protocol="tcp", ports=(80, 80)), "demo")
    cloud.create_group("clients", "demo")
    bob, alice = lab["bob"], lab["alice"]
    web, client = instance(bob, "web"), instance(alice, "clients")
    for inst, guest in ((web, bob), (client, alice)):
        assert not driver.instance_filter_exists(inst, [vif(guest)])
        driver.setup_basic_filtering(inst, [vif(guest)])
        driver.prepare_instance_filter(inst, [vif(guest)])
        driver.apply_instance_filter(inst, [vif(guest)])
        assert driver.instance_filter_exists(inst, [vif(guest)])
    with tcp_server(lab, "bob", 80):
        assert tcp_connect(lab, "alice", "bob", 80)
    with tcp_server(lab, "bob", 81):
        assert not tcp_connect(lab, "alice", "bob", 81)
    # the binding is the port's, with the instance as owner: virsh-style tools show it
    with cloud.store.read() as reader:
        record = reader.binding(bob.portdev)
    assert (
        record is not None and f"<uuid>{web.uuid}</uuid>" in record.xml and "<name>bob</name>" in record.xml
    )

    # preparing again (compute restart) changes nothing in the kernel
    backend = driver.cloud.engine.backend
    assert isinstance(backend, CountingBackend)
    before = len(backend.transactions)
    driver.prepare_instance_filter(web, [vif(bob)])
    assert len(backend.transactions) == before

    driver.unfilter_instance(web, [vif(bob)])
    assert not driver.instance_filter_exists(web, [vif(bob)])
    with cloud.store.read() as reader:
        assert reader.binding(bob.portdev) is None
    driver.unfilter_instance(web, [vif(bob)])  # unknown now: nothing happens


def test_refreshes_follow_changes_made_elsewhere(lab: Lab, driver: FirewallDriver) -> None:
    """Another host (or the API) changed the store directly: each refresh enforces just that change."""
    cloud = driver.cloud
    web = cloud.create_group("web", "demo").value
    frontends = cloud.create_group("frontends", "demo").value
    cloud.create_rule(
        "web",
        RuleSpec(RuleDirection.INGRESS, protocol="tcp", ports=(8080, 8080), remote_group="frontends"),
        "demo",
    )
    bob, alice = lab["bob"], lab["alice"]
    driver.prepare_instance_filter(instance(bob, "web"), [vif(bob)])
    driver.prepare_instance_filter(instance(alice), [vif(alice)])
    backend = driver.cloud.engine.backend
    assert isinstance(backend, CountingBackend)

    # membership written elsewhere: alice's port joins frontends (store only), then the casts arrive
    _store_only_membership(cloud.store, alice.portdev, [frontends.id])
    with tcp_server(lab, "bob", 8080):
        assert not tcp_connect(lab, "alice", "bob", 8080)
        driver.refresh_instance_security_rules(instance(alice))
        driver.refresh_security_group_members(frontends.id)
        assert tcp_connect(lab, "alice", "bob", 8080)
    # a refresh with nothing new is an empty kernel transaction
    before = len(backend.transactions)
    driver.refresh_security_group_members(frontends.id)
    driver.refresh_security_group_rules(web.id)
    driver.refresh_provider_fw_rules()
    assert len(backend.transactions) == before

    # a provider block written elsewhere, then refreshed: an element update, killing alice's connection
    with listening(lab, "bob", 8080) as server:
        conn = server.connect("alice")
        assert conn.works()
        _store_only_block(cloud.store, f"{alice.ipv4}/32")
        assert conn.works()  # not refreshed yet
        driver.refresh_provider_fw_rules()
        assert not conn.works()
    tx = backend.transactions[-1]
    assert f"add element inet guestwall ipset.gw-provider-any.v4 {{ {alice.ipv4} }}" in tx
    assert "add rule" not in tx  # no rule was rewritten

    # a rule removed elsewhere, then refreshed
    rule = next(r for r in cloud.get_group("web").rules if r.port_min == 8080)
    with cloud.store.write() as writer:
        cloud_writer(writer).delete_rule(rule.id)
    driver.refresh_security_group_rules(web.id)
    tx = backend.transactions[-1]
    assert "add element" not in tx  # the group's chains are rewritten: no port or member changed
    assert all(
        group_set_name(frontends.id) not in line for line in tx.splitlines() if line.startswith("add rule")
    )
    cloud.unblock(f"{alice.ipv4}/32")
    with tcp_server(lab, "bob", 8080):
        assert not tcp_connect(lab, "alice", "bob", 8080)
    assert not ping(lab, "bob", "alice")  # alice's port has no group that accepts bob


def test_a_member_refreshed_out_of_a_group_loses_its_open_connections(
    lab: Lab, driver: FirewallDriver
) -> None:
    """refresh_security_group_members alone: the connections at the ports of the groups that name the
    group as remote are judged again (alice's to bob, allowed only by her membership, is killed)."""
    cloud = driver.cloud
    cloud.create_group("web", "demo")
    frontends = cloud.create_group("frontends", "demo").value
    cloud.create_rule(
        "web",
        RuleSpec(RuleDirection.INGRESS, protocol="tcp", ports=(8080, 8080), remote_group="frontends"),
        "demo",
    )
    bob, alice = lab["bob"], lab["alice"]
    driver.prepare_instance_filter(instance(bob, "web"), [vif(bob)])
    driver.prepare_instance_filter(instance(alice, "frontends"), [vif(alice)])
    with listening(lab, "bob", 8080) as server:
        conn = server.connect("alice")
        assert conn.works()
        _store_only_membership(cloud.store, alice.portdev, [])  # she left, written elsewhere
        assert conn.works()  # not refreshed yet
        driver.refresh_security_group_members(frontends.id)
        assert not conn.works()


def _store_only_membership(store: Store, device: str, groups: list[str]) -> None:
    from dataclasses import replace

    with store.write() as writer:
        repo = cloud_writer(writer)
        port = repo.port_by_device(device)
        assert port is not None
        repo.put_port(replace(port, security_groups=tuple(groups)))


def _store_only_block(store: Store, cidr: str) -> None:
    from guestwall.model.cloud import ProviderBlock

    with store.write() as writer:
        cloud_writer(writer).add_provider_block(
            ProviderBlock("b1b1b1b1-0000-4000-8000-000000000001", ip_network(cidr))
        )
