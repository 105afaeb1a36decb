"""The use cases' results and inputs as values: every change returns its Outcome (no side channel), a port
changes through a typed PortChanges, and the store's cloud reader cannot write."""

from __future__ import annotations

from ipaddress import ip_address, ip_network

import pytest

from guestwall.cloud import groups, ports
from guestwall.cloud.outcome import CloudContext, Outcome
from guestwall.cloud.ports import PortChanges
from guestwall.cloud.validate import CloudInputError
from guestwall.config import HostConfig
from guestwall.dataplane.backend import RecordingBackend
from guestwall.engine import Engine
from guestwall.errors import DataplaneError, StoreError
from guestwall.model.cloud import Port
from guestwall.store import Store
from guestwall.store.cloudrepo import cloud_reader, cloud_writer


@pytest.fixture
def ctx(store: Store) -> CloudContext:
    return CloudContext(store, Engine(RecordingBackend(), HostConfig()))


def test_changes_return_their_outcome(ctx: CloudContext) -> None:
    made = groups.create_group(ctx, "web")
    assert isinstance(made, Outcome) and made.value.name == "web"
    assert made.applied is not None and not made.applied.transaction  # no port uses it: nothing in the kernel
    renamed = groups.update_group(ctx, "web", description="front")
    assert renamed.value.description == "front" and renamed.applied is None  # nothing for the kernel
    port = ports.create_port(ctx, Port("", "vnet0", "52:54:00:00:00:01", "default", security_groups=("web",)))
    assert port.value.security_groups == (made.value.id,) and port.killed == () and port.warnings == ()
    assert port.applied is not None and port.applied.transaction  # the port's chains and the group's rules


def test_port_changes_are_typed(ctx: CloudContext) -> None:
    ports.create_port(
        ctx, Port("", "vnet0", "52:54:00:00:00:01", "default", fixed_ips=(ip_address("10.0.0.1"),))
    )
    pairs = (ip_network("10.0.5.0/24"),)
    changed = ports.update_port(ctx, "vnet0", PortChanges(allowed_address_pairs=pairs, name="web-0"))
    # fields left None stay as they were
    assert changed.value.allowed_address_pairs == pairs and changed.value.name == "web-0"
    assert changed.value.fixed_ips == (ip_address("10.0.0.1"),) and str(changed.value.mac) == "52:54:00:00:00:01"
    emptied = ports.update_port(ctx, "vnet0", PortChanges(allowed_address_pairs=()))
    assert emptied.value.allowed_address_pairs == ()  # an empty tuple is a change, not "unchanged"
    with pytest.raises(CloudInputError, match=r"cannot change port field\(s\) device, project"):
        PortChanges.of({"device": "vnet9", "project": "other", "name": "x"})
    assert PortChanges.of({"name": "x"}) == PortChanges(name="x")


def test_reads_need_no_engine_and_changes_do(store: Store) -> None:
    reads_only = CloudContext(store)
    assert groups.list_groups(reads_only) == []
    with pytest.raises(DataplaneError, match="no kernel backend"):
        groups.create_group(reads_only, "web")
    assert groups.list_groups(reads_only) == []  # nothing stored either


def test_the_cloud_reader_cannot_write(store: Store, ctx: CloudContext) -> None:
    made = groups.create_group(ctx, "web").value
    with store.read() as reader:
        view = cloud_reader(reader)
        assert view.group(made.id) == made
        with pytest.raises(StoreError, match="write transaction"):
            view.delete_group(made.id)  # type: ignore[attr-defined]
        with pytest.raises(StoreError, match="write transaction"):
            cloud_writer(reader)  # type: ignore[arg-type]
