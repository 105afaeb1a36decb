"""Defects found by attacking the cloud layer (issue 15), through the Python API and the CLI, against a real
store and a recording kernel backend: groups still named by filters, reserved filter names, VIFs sharing a
MAC, instances without a UUID."""

from __future__ import annotations

from ipaddress import ip_address
from pathlib import Path

import pytest
from click.testing import CliRunner

from guestwall.cli.app import cli
from guestwall.cloud import translate as tr
from guestwall.cloud.conntrack import Flow
from guestwall.cloud.driver import FirewallDriver, Instance, Vif
from guestwall.cloud.service import Cloud
from guestwall.cloud.validate import CloudInputError, CloudInUse
from guestwall.dataplane.backend import RecordingBackend
from guestwall.errors import FilterError
from guestwall.model.cloud import Port
from guestwall.services.filters import RESERVED_PREFIX, define_filter, undefine_filter
from guestwall.store import Store, open_store


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
    group = cloud.create_group("admins")
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
        group = Cloud(store, RecordingBackend(), NoConntrack()).create_group("admins")
        define_filter(store, user_filter(tr.group_set_name(group.id)))
    finally:
        store.close()
    result = CliRunner().invoke(cli, ["--db", url, "secgroup", "delete", "admins"])
    assert result.exit_code == 1 and "in use by filter(s) uses-group" in result.stderr


# ---- 4: names the cloud layer generates are not for users -------------------------------------------------


EMPTY_DEFAULT_DROP = "<filter name='gw-default-drop' chain='root'/>"


def test_reserved_names_cannot_be_defined_or_undefined(cloud: Cloud, store: Store) -> None:
    assert RESERVED_PREFIX == tr.DERIVED_PREFIX
    cloud.create_group("web")
    with store.read() as reader:
        before = reader.filter_by_name("gw-default-drop")
    assert before is not None
    with pytest.raises(FilterError, match="reserved"):
        define_filter(store, EMPTY_DEFAULT_DROP)
    with pytest.raises(FilterError, match="reserved"):
        undefine_filter(store, "gw-default-drop")
    with store.read() as reader:
        assert reader.filter_by_name("gw-default-drop") == before


def test_cli_refuses_reserved_names(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/gw.db"
    xml = tmp_path / "f.xml"
    xml.write_text(EMPTY_DEFAULT_DROP)
    result = CliRunner().invoke(cli, ["--db", url, "nwfilter-define", str(xml)])
    assert result.exit_code == 1 and "is reserved" in result.stderr
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
