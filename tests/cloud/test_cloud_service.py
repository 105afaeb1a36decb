"""The cloud use cases against a real store and a recording kernel backend: what is stored and derived,
errors that leave nothing behind, and the engine's own tools (status, binding dumpxml) on cloud ports."""

from __future__ import annotations

from ipaddress import ip_address, ip_network

import pytest

from guestwall.cloud import translate as tr
from guestwall.cloud.facade import Cloud
from guestwall.cloud.ports import PortChanges
from guestwall.cloud.rules import RuleSpec
from guestwall.cloud.validate import CloudConflict, CloudInputError, CloudInUse, CloudNotFound
from guestwall.config import HostConfig
from guestwall.dataplane.backend import RecordingBackend
from guestwall.engine import Engine
from guestwall.engine.desired import build_desired, load_address_sets, load_ports
from guestwall.errors import GuestwallError
from guestwall.model.cloud import Ethertype, Port, RuleDirection
from guestwall.services.bindings import get_binding
from guestwall.services.filters import load_filters
from guestwall.store import Store
from guestwall.store.cloudrepo import cloud_reader

IN, OUT = RuleDirection.INGRESS, RuleDirection.EGRESS


@pytest.fixture
def cloud(store: Store, recording: RecordingBackend) -> Cloud:
    return Cloud(store, Engine(recording, HostConfig()))


def port(device: str, n: int, *groups: str, **fields: object) -> Port:
    values: dict[str, object] = {"fixed_ips": (ip_address(f"10.0.0.{n}"), ip_address(f"2001:db8::{n}"))}
    values.update(fields)
    return Port("", device, f"52:54:00:00:00:{n:02x}", "default", security_groups=groups, **values)  # type: ignore[arg-type]


def test_new_group_allows_egress_and_ingress_from_its_members(cloud: Cloud) -> None:
    group = cloud.create_group("default").value
    shape = sorted((r.direction.value, r.ethertype.value, r.remote_group_id == group.id) for r in group.rules)
    assert shape == [
        ("egress", "IPv4", False),
        ("egress", "IPv6", False),
        ("ingress", "IPv4", True),
        ("ingress", "IPv6", True),
    ]
    with cloud.store.read() as reader:
        names = {f.name for f in reader.filters()}
        sets = {s.name for s in reader.address_sets()}
    assert tr.group_filter_name(group.id) in names and tr.group_set_name(group.id) in sets
    assert {"gw-mac", "gw-l2", "gw-provider", "gw-default-drop"} <= names


def test_ports_share_one_top_filter_per_profile_and_unused_ones_go(cloud: Cloud) -> None:
    cloud.create_group("web")
    cloud.create_group("db")
    a = cloud.create_port(port("vnet0", 1, "web")).value
    b = cloud.create_port(port("vnet1", 2, "web")).value
    c = cloud.create_port(port("vnet2", 3, "web", "db")).value
    assert tr.port_filter_name(a) == tr.port_filter_name(b) != tr.port_filter_name(c)
    with cloud.store.read() as reader:
        bound = {r.portdev: r.filter for r in reader.bindings()}
    assert bound == {
        "vnet0": tr.port_filter_name(a),
        "vnet1": tr.port_filter_name(a),
        "vnet2": tr.port_filter_name(c),
    }
    cloud.update_port("vnet2", PortChanges(security_groups=("web",)))
    with cloud.store.read() as reader:
        assert not any(f.name == tr.port_filter_name(c) for f in reader.filters())
        members = {s.name: set(s.networks) for s in reader.address_sets()}
    web = cloud.get_group("web")
    assert ip_network("10.0.0.3/32") in members[tr.group_set_name(web.id)]
    assert members[tr.group_set_name(cloud.get_group("db").id)] == set()


def test_cloud_ports_work_with_the_engines_own_tools(cloud: Cloud) -> None:
    cloud.create_group("web")
    cloud.create_port(port("vnet0", 1, "web", name="web-1"))
    cloud.create_port(port("vnet1", 2, port_security=False, fixed_ips=()))
    record = get_binding(cloud.store, "vnet0")
    assert "<parameter name='IPV6' value='fe80::5054:ff:fe00:1'/>" in record.xml
    with cloud.store.read() as reader:
        desired = build_desired(
            load_filters(reader), load_ports(reader), strict=False, address_sets=load_address_sets(reader)
        )
    assert not desired.failures and not desired.compiled.fallbacks
    assert set(desired.programs) == {"vnet0", "vnet1"}


def generation(store: Store) -> int:
    return store.generation()


@pytest.mark.parametrize(
    ("action", "error", "message"),
    [
        (
            lambda c: c.create_port(port("vnet9", 9, "nosuch")).value,
            CloudNotFound,
            "unknown security group 'nosuch'",
        ),
        (
            lambda c: c.create_port(port("vnet0", 9)).value,
            CloudConflict,
            "port with device 'vnet0' already exists",
        ),
        (
            lambda c: c.create_port(port("vnet9", 9, "web", port_security=False)).value,
            CloudInputError,
            "cannot be without port security while it has security group 'web'",
        ),
        (
            lambda c: c.create_rule("web", RuleSpec(IN, protocol="tcp", ports=(22, 22))).value,
            CloudConflict,
            "already has this rule",
        ),
        (
            lambda c: c.create_rule("web", RuleSpec(IN, remote_group="nosuch")).value,
            CloudNotFound,
            "unknown security group 'nosuch'",
        ),
        (lambda c: c.create_rule("nosuch", RuleSpec(IN)).value, CloudNotFound, "unknown security group"),
        (
            lambda c: c.create_rule("web", RuleSpec(IN, protocol="udp", icmp_type=3)).value,
            CloudInputError,
            "need protocol icmp",
        ),
        (lambda c: c.delete_group("web").value, CloudInUse, "in use by port\\(s\\) vnet0"),
        (lambda c: c.delete_rule("nosuch").value, CloudNotFound, "unknown security group rule 'nosuch'"),
        (lambda c: c.delete_port("vnet7").value, CloudNotFound, "unknown port 'vnet7'"),
        (
            lambda c: c.block(ip_network("10.9.0.0/16"), "icmp", (1, 2)).value,
            CloudInputError,
            "needs protocol tcp or udp",
        ),
        (lambda c: c.block(ip_network("10.8.0.0/16")).value, CloudConflict, "already blocked"),
        (lambda c: c.unblock("10.7.0.0/16").value, CloudNotFound, "10.7.0.0/16 is not blocked"),
        (
            lambda c: c.update_port("vnet0", PortChanges.of({"device": "vnet5"})),
            CloudInputError,
            "cannot change port field",
        ),
        (
            lambda c: c.update_port("vnet0", PortChanges(port_security=False)),
            CloudInputError,
            "without port security",
        ),
    ],
)
def test_errors_store_nothing(cloud: Cloud, action, error: type[GuestwallError], message: str) -> None:  # type: ignore[no-untyped-def]
    cloud.create_group("web")
    cloud.create_rule("web", RuleSpec(IN, protocol="tcp", ports=(22, 22)))
    cloud.create_port(port("vnet0", 1, "web"))
    cloud.block(ip_network("10.8.0.0/16"))
    before = generation(cloud.store)
    with pytest.raises(error, match=message):
        action(cloud)
    assert generation(cloud.store) == before


def test_kernel_refusal_stores_nothing(store: Store) -> None:
    class Refusing(RecordingBackend):
        def run(self, commands: str) -> None:
            from guestwall.errors import DataplaneError

            raise DataplaneError("the kernel refused the nftables transaction: test")

    cloud = Cloud(store, Engine(Refusing(), HostConfig()))
    cloud.create_group("web")  # nothing bound uses it yet: no kernel change needed
    before = generation(store)
    with pytest.raises(GuestwallError, match="kernel refused"):
        cloud.create_port(port("vnet0", 1, "web"))
    assert generation(store) == before and cloud.list_ports() == []


def test_deleting_a_group_removes_rules_that_name_it(cloud: Cloud) -> None:
    web = cloud.create_group("web").value
    cloud.create_group("frontends")
    cloud.create_rule("web", RuleSpec(IN, protocol="tcp", ports=(80, 80), remote_group="frontends"))
    cloud.delete_group("frontends")
    rules = cloud.get_group("web").rules
    assert len(rules) == 4 and all(r.remote_group_id in (None, web.id) for r in rules)
    with cloud.store.read() as reader:
        xml = next(f.xml for f in reader.filters() if f.name == tr.group_filter_name(web.id))
        assert "dstportstart='80'" not in xml
        default = tr.group_set_name(cloud.ensure_default_group("default").value.id)
        assert [s.name for s in reader.address_sets() if s.name.startswith("gw-sg-")] == sorted(
            [tr.group_set_name(web.id), default]
        )


def test_groups_by_name_are_per_project(cloud: Cloud) -> None:
    one = cloud.create_group("default", "p1").value
    two = cloud.create_group("default", "p2").value
    assert cloud.get_group("default", "p2").id == two.id
    with pytest.raises(CloudInputError, match="name 'default' is ambiguous"):
        cloud.get_group("default")
    assert cloud.get_group(one.id[:8]).id == one.id
    created = cloud.create_port(
        Port("", "vnet0", "52:54:00:00:00:01", "p1", security_groups=("default",))
    ).value
    assert created.security_groups == (one.id,)


def test_resync_rewrites_only_what_differs(cloud: Cloud) -> None:
    cloud.create_group("web")
    cloud.create_port(port("vnet0", 1, "web"))
    cloud.block(ip_network("192.0.2.0/24"), "tcp", (25, 25))
    before = generation(cloud.store)
    cloud.resync()
    assert generation(cloud.store) == before  # nothing differed: nothing written
    with cloud.store.write() as writer:  # someone removes a derived filter and a set behind our back
        record = writer.filter_by_name("gw-mac")
        assert record is not None
        writer.delete_filter(record.uuid)
        writer.delete_address_set("gw-provider-tcp-25-25")
    cloud.resync()
    with cloud.store.read() as reader:
        assert reader.filter_by_name("gw-mac") is not None
        assert "gw-provider-tcp-25-25" in {s.name for s in reader.address_sets()}


def test_device_with_a_plain_binding_is_not_taken_over(cloud: Cloud) -> None:
    from guestwall.services.bindings import create_binding

    xml = """<filterbinding><owner><name>x</name><uuid>00000000-0000-4000-8000-000000000001</uuid></owner>
      <portdev name='vnet0'/><mac address='52:54:00:00:00:01'/><filterref filter='clean-traffic'>
      <parameter name='IP' value='10.0.0.1'/></filterref></filterbinding>"""
    create_binding(cloud.store, xml, cloud.engine)  # type: ignore[arg-type]
    with pytest.raises(CloudConflict, match="already has a filter binding"):
        cloud.create_port(port("vnet0", 1))


def test_ipv6_rules_and_remote_groups_in_filters(cloud: Cloud) -> None:
    cloud.create_group("web")
    clients = cloud.create_group("clients").value
    cloud.create_rule("web", RuleSpec(IN, Ethertype.IPV6, "tcp", (443, 443), remote_group="clients"))
    cloud.create_rule(
        "web", RuleSpec(OUT, Ethertype.IPV6, "icmpv6", icmp_type=128, remote_cidr=ip_network("2001:db8::/32"))
    )
    with cloud.store.read() as reader:
        xml = next(
            f.xml for f in reader.filters() if f.name == tr.group_filter_name(cloud.get_group("web").id)
        )
    assert (
        f"<tcp-ipv6 ipset='{tr.group_set_name(clients.id)}' ipsetflags='src' dstportstart='443' dstportend='443'/>"
        in xml
    )
    assert "<icmpv6 dstipaddr='2001:db8::' dstipmask='32' type='128'/>" in xml


def test_repo_needs_the_sql_store(store: Store) -> None:
    from guestwall.errors import StoreError

    class NotSql:
        pass

    with pytest.raises(StoreError, match="needs the SQL store"):
        cloud_reader(NotSql())  # type: ignore[arg-type]
