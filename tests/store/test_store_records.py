"""The store's read/write API: filters, bindings with port ids, learned addresses, generation, rollback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from uuid import uuid4

import pytest

from guestwall.errors import ConflictError, NotFoundError, StoreError
from guestwall.store import Store

# the store keeps the text as it is (and reads its parameter names from the binding it formats)
BINDING_XML = (
    "<filterbinding><owner><name>vm</name><uuid>00000000-0000-4000-8000-000000000001</uuid></owner>"
    "<portdev name='vnet0'/><mac address='52:54:00:00:00:01'/>"
    "<filterref filter='clean-traffic'><parameter name='IP' value='10.0.0.1'/></filterref></filterbinding>"
)
OTHER_XML = BINDING_XML.replace("clean-traffic", "allow-arp")


def test_put_get_delete_filter(store: Store) -> None:
    uuid = uuid4()
    with store.write() as writer:
        created = writer.put_filter(uuid, "web", "<filter name='web'/>\n")
    assert created.updated_at.tzinfo is not None
    with store.read() as reader:
        assert reader.filter_by_name("web") == created
        assert reader.filter_by_uuid(uuid) == created
        assert reader.filter_by_name("WEB") is None  # names are case-sensitive
    with store.write() as writer:
        updated = writer.put_filter(uuid, "web", "<filter name='web' chain='ipv4'/>\n")
    assert updated.xml.endswith("chain='ipv4'/>\n") and updated.updated_at >= created.updated_at
    with store.write() as writer:
        writer.delete_filter(uuid)
    with store.read() as reader:
        assert reader.filter_by_uuid(uuid) is None
    with pytest.raises(NotFoundError), store.write() as writer:
        writer.delete_filter(uuid)


def test_duplicate_name_is_a_store_error(store: Store) -> None:
    with pytest.raises(StoreError, match=r"store .*(UNIQUE|unique)"), store.write() as writer:
        writer.put_filter(uuid4(), "clean-traffic", "<filter/>")


def test_generation_counts_write_transactions(store: Store) -> None:
    start = store.generation()
    with store.write() as writer:
        writer.put_filter(uuid4(), "a", "<a/>")
        writer.put_filter(uuid4(), "b", "<b/>")
    assert store.generation() == start + 1
    with store.write() as writer:
        writer.filters()  # reads only
    with store.read() as reader:
        reader.filters()
    assert store.generation() == start + 1
    with store.write() as writer:
        assert writer.expire_addresses() == 0  # deleted nothing
    assert store.generation() == start + 1


def test_error_rolls_back_everything(store: Store) -> None:
    start = store.generation()
    with store.read() as reader:
        before = reader.filters()
    with pytest.raises(RuntimeError, match="boom"), store.write() as writer:
        writer.put_filter(uuid4(), "new", "<new/>")
        writer.delete_filter(before[0].uuid)
        writer.add_binding("vnet0", "clean-traffic", BINDING_XML)
        raise RuntimeError("boom")
    with store.read() as reader:
        assert reader.filters() == before
        assert reader.bindings() == []
    assert store.generation() == start


def test_port_ids_are_small_and_not_reused_while_bound(store: Store) -> None:
    with store.write() as writer:
        ids = [writer.add_binding(f"vnet{i}", "clean-traffic", BINDING_XML).port_id for i in range(4)]
    assert ids == [1, 2, 3, 4]
    with store.write() as writer:
        writer.delete_binding("vnet1")
        writer.delete_binding("vnet2")
    with store.write() as writer:
        assert writer.add_binding("tap-a", "allow-arp", BINDING_XML).port_id == 2
        assert writer.add_binding("tap-b", "allow-arp", BINDING_XML).port_id == 3
        assert writer.add_binding("tap-c", "allow-arp", BINDING_XML).port_id == 5
    with store.read() as reader:
        bindings = reader.bindings()
    assert [(b.portdev, b.port_id) for b in bindings] == [
        ("tap-a", 2),
        ("tap-b", 3),
        ("tap-c", 5),
        ("vnet0", 1),
        ("vnet3", 4),
    ]
    assert len({b.port_id for b in bindings}) == len(bindings)


def test_binding_conflict_update_and_missing(store: Store) -> None:
    with store.write() as writer:
        writer.add_binding("vnet0", "clean-traffic", BINDING_XML)
    with pytest.raises(ConflictError, match="binding 'vnet0' already exists"), store.write() as writer:
        writer.add_binding("vnet0", "allow-arp", BINDING_XML)
    with store.write() as writer:
        updated = writer.update_binding("vnet0", "allow-arp", OTHER_XML)
    assert (updated.port_id, updated.filter, updated.xml) == (1, "allow-arp", OTHER_XML)
    with store.read() as reader:
        assert reader.binding("vnet0") == updated
        assert reader.binding("vnet9") is None
    with pytest.raises(NotFoundError, match="no nwfilter binding for port dev 'vnet9'"), store.write() as w:
        w.delete_binding("vnet9")


def test_learned_addresses(store: Store) -> None:
    soon = datetime.now(UTC) + timedelta(minutes=5)
    with store.write() as writer:
        writer.add_binding("vnet0", "clean-traffic", BINDING_XML)
        writer.add_binding("vnet1", "clean-traffic", BINDING_XML)
        writer.learn_address("vnet0", ip_address("10.0.0.5"), "dhcp", expires_at=soon)
        writer.learn_address("vnet0", ip_address("fe80::1"), "static")
        writer.learn_address("vnet1", ip_address("10.0.0.6"), "arp")
    with store.write() as writer:
        again = writer.learn_address("vnet0", ip_address("10.0.0.5"), "arp")  # refreshes, no duplicate
    assert again.expires_at is None and again.source == "arp"
    with store.read() as reader:
        mine = reader.learned_addresses("vnet0")
        assert [(a.ip, a.source) for a in mine] == [
            (ip_address("10.0.0.5"), "arp"),
            (ip_address("fe80::1"), "static"),
        ]
        assert len(reader.learned_addresses()) == 3
    with pytest.raises(NotFoundError), store.write() as writer:
        writer.learn_address("vnet7", ip_address("10.0.0.7"), "arp")


def test_expire_and_forget_addresses(store: Store) -> None:
    now = datetime.now(UTC)
    with store.write() as writer:
        writer.add_binding("vnet0", "clean-traffic", BINDING_XML)
        writer.learn_address("vnet0", ip_address("10.0.0.1"), "dhcp", expires_at=now - timedelta(seconds=1))
        writer.learn_address("vnet0", ip_address("10.0.0.2"), "dhcp", expires_at=now + timedelta(hours=1))
        writer.learn_address("vnet0", ip_address("10.0.0.3"), "static")
        writer.learn_address("vnet0", ip_address("10.0.0.4"), "static")
    with store.write() as writer:
        assert writer.expire_addresses(now) == 1
        assert writer.forget_addresses("vnet0", [ip_address("10.0.0.3")]) == 1
    with store.read() as reader:
        assert [str(a.ip) for a in reader.learned_addresses("vnet0")] == ["10.0.0.2", "10.0.0.4"]
    with store.write() as writer:
        writer.delete_binding("vnet0")  # takes its addresses along
    with store.read() as reader:
        assert reader.learned_addresses() == []
