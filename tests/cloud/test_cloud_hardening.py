"""Defects found by attacking the cloud layer (issue 15), through the Python API and the CLI, against a real
store and a recording kernel backend: groups still named by filters, reserved filter names, VIFs sharing a
MAC, instances without a UUID."""

from __future__ import annotations

from ipaddress import ip_address, ip_network
from pathlib import Path

import pytest
from click.testing import CliRunner

from guestwall.cli.app import cli
from guestwall.cloud import translate as tr
from guestwall.cloud.conntrack import Flow
from guestwall.cloud.driver import FirewallDriver, Instance, Vif
from guestwall.cloud.facade import Cloud
from guestwall.cloud.ports import PortChanges
from guestwall.cloud.rules import RuleSpec
from guestwall.cloud.validate import CloudInputError, CloudInUse
from guestwall.dataplane.backend import RecordingBackend
from guestwall.errors import GuestwallError
from guestwall.model.cloud import Ethertype, Port, RuleDirection
from guestwall.services.filters import define_filter, undefine_filter
from guestwall.store import Store, open_store

IN = RuleDirection.INGRESS


class NoConntrack:
    def flows(self) -> list[Flow]:
        return []

    def delete(self, flow: Flow) -> None:
        raise AssertionError("nothing to kill here")


@pytest.fixture
def cloud(store: Store, recording: RecordingBackend) -> Cloud:
    return Cloud(store, recording, NoConntrack())


def user_filter(set_name: str) -> str:
    return f"""<filter name='uses-group' chain='root'>
  <rule action='accept' direction='in' priority='500'>
    <tcp ipset='{set_name}' ipsetflags='src' dstportstart='22'/>
  </rule>
</filter>
"""


# ---- 1: a security group a filter still names cannot be deleted -----------------------------------------


def test_group_named_by_a_filter_is_in_use(cloud: Cloud, store: Store) -> None:
    group = cloud.create_group("admins").value
    define_filter(store, user_filter(tr.group_set_name(group.id)))
    with pytest.raises(CloudInUse, match="in use by filter\\(s\\) uses-group"):
        cloud.delete_group("admins")
    assert cloud.get_group("admins").id == group.id  # nothing changed
    undefine_filter(store, "uses-group")
    cloud.delete_group("admins")


def test_cli_secgroup_delete_refuses_a_group_in_use(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/gw.db"
    store = open_store(url)
    try:
        group = Cloud(store, RecordingBackend(), NoConntrack()).create_group("admins").value
        define_filter(store, user_filter(tr.group_set_name(group.id)))
    finally:
        store.close()
    result = CliRunner().invoke(cli, ["--db", url, "secgroup", "delete", "admins"])
    assert result.exit_code == 1 and "in use by filter(s) uses-group" in result.stderr


# ---- 4: names the cloud layer generates are not for users -------------------------------------------------


EMPTY_DEFAULT_DROP = "<filter name='gw-default-drop' chain='root'/>"


def test_reserved_names_cannot_be_defined_or_undefined(cloud: Cloud, store: Store) -> None:
    cloud.create_group("web")
    with store.read() as reader:
        before = reader.filter_by_name("gw-default-drop")
    assert before is not None
    with pytest.raises(GuestwallError, match="owned by the cloud layer"):
        define_filter(store, EMPTY_DEFAULT_DROP)
    with pytest.raises(GuestwallError, match="owned by the cloud layer"):
        undefine_filter(store, "gw-default-drop")
    with store.read() as reader:
        assert reader.filter_by_name("gw-default-drop") == before


def test_cli_refuses_reserved_names(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/gw.db"
    xml = tmp_path / "f.xml"
    xml.write_text(EMPTY_DEFAULT_DROP)
    result = CliRunner().invoke(cli, ["--db", url, "nwfilter-define", str(xml)])
    assert result.exit_code == 1 and "owned by the cloud layer" in result.stderr
    result = CliRunner().invoke(cli, ["--db", url, "nwfilter-undefine", "gw-mac"])
    assert result.exit_code == 1


# ---- 5 and 9: the driver's identities ---------------------------------------------------------------------


def driver(store: Store, recording: RecordingBackend) -> FirewallDriver:
    return FirewallDriver(store, recording, NoConntrack())


def test_two_vifs_with_one_mac_get_two_ports(store: Store, recording: RecordingBackend) -> None:
    fw = driver(store, recording)
    instance = Instance("00000000-0000-4000-8000-000000000001", "vm1")
    vifs = [Vif("tap1", "52:54:00:00:00:01", ("10.0.0.1",)), Vif("tap2", "52:54:00:00:00:01", ("10.1.0.1",))]
    fw.prepare_instance_filter(instance, vifs)
    ports = {p.device: p for p in fw.cloud.list_ports()}
    assert set(ports) == {"tap1", "tap2"} and ports["tap1"].id != ports["tap2"].id
    with store.read() as reader:
        assert {b.portdev for b in reader.bindings()} == {"tap1", "tap2"}
    assert fw.instance_filter_exists(instance, vifs)


def test_two_vifs_with_one_device_are_refused(store: Store, recording: RecordingBackend) -> None:
    fw = driver(store, recording)
    instance = Instance("00000000-0000-4000-8000-000000000001", "vm1")
    vifs = [Vif("tap1", "52:54:00:00:00:01"), Vif("tap1", "52:54:00:00:00:02")]
    with pytest.raises(CloudInputError, match="same device 'tap1'"):
        fw.prepare_instance_filter(instance, vifs)
    assert fw.cloud.list_ports() == []


def test_an_instance_without_uuid_deletes_nothing(store: Store, recording: RecordingBackend) -> None:
    cloud = Cloud(store, recording, NoConntrack())
    for n in (1, 2):  # made by the CLI: no device id
        cloud.create_port(
            Port("", f"vnet{n}", f"52:54:00:00:00:0{n}", "default", fixed_ips=(ip_address(f"10.0.0.{n}"),))
        )
    fw = driver(store, recording)
    with pytest.raises(CloudInputError, match="has no UUID"):
        fw.unfilter_instance(Instance("", "x"), [])
    with pytest.raises(CloudInputError, match="has no UUID"):
        fw.refresh_instance_security_rules(Instance(" ", "x"))
    assert len(cloud.list_ports()) == 2


# ---- 13: the Python API checks what the CLI checks -----------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        RuleSpec(IN, protocol="tcp", ports=(90, 80)),
        RuleSpec(IN, protocol="tcp", ports=(0, 0)),
        RuleSpec(IN, protocol="tcp", ports=(1, 70000)),
        RuleSpec(IN, protocol="tcp", ports=("a", "b")),  # type: ignore[arg-type]
        RuleSpec(IN, protocol="icmp", icmp_type=300),
        RuleSpec(IN, protocol="bogus"),
        RuleSpec("sideways"),  # type: ignore[arg-type]
        RuleSpec(IN, ethertype="IPv5"),  # type: ignore[arg-type]
        RuleSpec(IN, remote_cidr="10.0.0.1/8"),  # type: ignore[arg-type]
        RuleSpec(IN, protocol=["tcp"]),  # type: ignore[arg-type]
    ],
)
def test_api_rules_are_checked_like_the_cli(cloud: Cloud, spec: RuleSpec) -> None:
    cloud.create_group("web")
    before = cloud.get_group("web").rules
    with pytest.raises(CloudInputError):
        cloud.create_rule("web", spec)
    assert cloud.get_group("web").rules == before


def test_api_rule_values_are_made_canonical(cloud: Cloud) -> None:
    cloud.create_group("web")
    rule = cloud.create_rule("web", RuleSpec("ingress", "ipv6", "ICMP", icmp_type="128")).value  # type: ignore[arg-type]
    assert (rule.direction, rule.ethertype, rule.protocol, rule.icmp_type) == (
        IN,
        Ethertype.IPV6,
        "icmpv6",
        128,
    )


@pytest.mark.parametrize(
    "fields",
    [
        {"mac": "01:00:5e:00:00:01"},
        {"mac": 0x525400000001},
        {"fixed_ips": (ip_address("224.0.0.1"),)},
        {"fixed_ips": "10.0.0.1"},
        {"fixed_ips": (42,)},
        {"allowed_address_pairs": ("10.0.0.1/8",)},
        {"allowed_address_pairs": (ip_address("10.0.0.1"),)},
        {"security_groups": "web"},
        {"port_security": "no"},
        {"device": 7},
        {"project": ""},
    ],
)
def test_api_ports_are_checked_like_the_cli(cloud: Cloud, fields: dict[str, object]) -> None:
    values: dict[str, object] = {
        "id": "",
        "device": "vnet0",
        "mac": "52:54:00:00:00:01",
        "project": "default",
    }
    values.update(fields)
    with pytest.raises(CloudInputError):
        cloud.create_port(Port(**values))  # type: ignore[arg-type]
    assert cloud.list_ports() == []
    cloud.create_port(Port("", "vnet1", "52:54:00:00:00:02", "default"))
    with pytest.raises(CloudInputError):
        changes = {k: v for k, v in fields.items() if k not in ("device", "project")} or {"mac": 1}
        cloud.update_port("vnet1", PortChanges.of(changes))


def test_api_blocks_are_checked_like_the_cli(cloud: Cloud) -> None:
    with pytest.raises(CloudInputError):
        cloud.block("10.0.0.0/8", "tcp", (90, 80))  # type: ignore[arg-type]
    with pytest.raises(CloudInputError):
        cloud.block(ip_network("10.0.0.0/8"), "tcp", (0, 0))
    assert cloud.list_blocks() == []


# ---- 16: blocking every address needs --force ------------------------------------------------------------


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "::/0"])
def test_blocking_everything_needs_force(cloud: Cloud, cidr: str, tmp_path: Path) -> None:
    with pytest.raises(CloudInputError, match="--force"):
        cloud.block(ip_network(cidr))
    assert cloud.list_blocks() == []
    cloud.block(ip_network(cidr), force=True)
    assert [str(b.cidr) for b in cloud.list_blocks()] == [cidr]
    url = f"sqlite:///{tmp_path}/cli.db"
    result = CliRunner().invoke(cli, ["--db", url, "provider", "block", cidr])
    assert result.exit_code == 1 and "--force" in result.stderr


# ---- 11: overlapping intervals are merged before they reach a set ------------------------------------------


def test_overlapping_elements_are_merged() -> None:
    from guestwall.compile.canon import merged
    from guestwall.model.addressset import AddressSet

    a = ip_address
    got = merged([("v0", a("10.1.0.6")), ("v0", (a("10.1.0.0"), a("10.1.0.255"))), ("v0", a("10.2.0.1"))])
    assert got == [("v0", (a("10.1.0.0"), a("10.1.0.255"))), ("v0", a("10.2.0.1"))]
    assert merged([("v0", 5, 22), ("v0", 5, (20, 30)), ("v1", 5, 22)]) == [("v0", 5, (20, 30)), ("v1", 5, 22)]
    nets = AddressSet(
        "x", tuple(ip_network(n) for n in ("10.0.0.0/24", "10.0.0.128/25", "10.0.1.0/24", "::/0"))
    )
    assert nets.of_family(4) == (ip_network("10.0.0.0/24"), ip_network("10.0.1.0/24"))


# ---- 3: the simulator explains the neighbour advertisement check -----------------------------------------


def test_simulate_explains_spoofed_neighbour_advertisements(cloud: Cloud, store: Store) -> None:
    from guestwall.engine.desired import enforced_program
    from guestwall.services.filters import load_filters
    from guestwall.simulate import parse_packet, simulate

    cloud.create_group("default")
    own = Port(
        "",
        "vnet0",
        "52:54:00:00:00:01",
        "default",
        fixed_ips=(ip_address("fd77::10"),),
        security_groups=("default",),
    )
    cloud.create_port(own)
    with store.read() as reader:
        record = reader.binding("vnet0")
        assert record is not None
        program = enforced_program(reader, record, load_filters(reader))
    na = "smac=52:54:00:00:00:01 src=fd77::10 dst=ff02::1 icmpv6 icmptype=136 ndtarget="
    assert simulate(program, "out", parse_packet(na + "fd77::10")).verdict == "accept"
    outcome = simulate(program, "out", parse_packet(na + "fd77::99"))
    assert outcome.verdict == "drop" and "gw-ipv6-na" in outcome.explain()
