"""A group's member set is edited by the ports a change touches (not derived again from every member): after
random joins, leaves, creations and deletions of ports sharing addresses and overlapping allowed address
pairs, the stored set is exactly what a derivation from every member gives, the kernel's delta is the one
between the whole sets, and a full resynchronisation finds nothing to rewrite."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from ipaddress import ip_address, ip_network
from typing import cast

import pytest

from guestwall.cloud import translate as tr
from guestwall.cloud.facade import Cloud
from guestwall.cloud.ports import PortChanges
from guestwall.cloud.sync import Scope, sync
from guestwall.cloud.validate import CloudInputError
from guestwall.config import HostConfig
from guestwall.dataplane.apply import ApplyResult
from guestwall.dataplane.backend import RecordingBackend
from guestwall.engine import Change, Engine
from guestwall.model.cloud import Address, Network, Port
from guestwall.store import Store, open_store
from guestwall.store.addresssets import SetDelta, delta_between, format_networks, parse_address_set
from guestwall.store.cloudrepo import cloud_reader, cloud_writer
from guestwall.store.cloudsql import CloudRepo
from guestwall.store.records import Reader

# texts that contain one another ("10.0.0.1" in "10.0.0.10", "10.0.0.1/32"), shared by several ports
ADDRESSES: tuple[Address, ...] = tuple(
    ip_address(a) for a in ("10.0.0.1", "10.0.0.10", "10.0.0.11", "2001:db8::1", "2001:db8::10")
)
PAIRS: tuple[Network, ...] = tuple(
    ip_network(n)
    for n in (
        "10.0.0.1/32",
        "10.0.0.0/28",
        "10.0.0.8/29",
        "10.0.0.0/24",
        "10.0.1.0/24",
        "2001:db8::1/128",
        "2001:db8::/64",
    )
)
DEVICES = tuple(f"vnet{i}" for i in range(8))


class _Watching(Engine):
    """The engine, noting how the store says each written set moves in the kernel."""

    deltas: dict[str, SetDelta | None]

    def apply(self, txn: Reader, change: Change) -> ApplyResult:
        self.deltas = {name: txn.address_set_delta(name) for name in change.sets}
        return super().apply(txn, change)


def _port(rng: random.Random, device: str, groups: tuple[str, ...]) -> Port:
    n = DEVICES.index(device) + 1
    return Port(
        "",
        device,
        f"52:54:00:00:00:{n:02x}",
        "default",
        fixed_ips=tuple(rng.sample(ADDRESSES, rng.randint(0, 2))),
        allowed_address_pairs=tuple(rng.sample(PAIRS, rng.choice((0, 0, 1, 2)))),
        security_groups=groups,
    )


@pytest.fixture
def any_store(store_url: str) -> Iterator[Store]:
    """SQLite, and PostgreSQL when GUESTWALL_TEST_PG is set (the address searches are SQL LIKEs)."""
    opened = open_store(store_url)
    yield opened
    opened.close()


def _stored(store: Store, names: list[str]) -> dict[str, str]:
    with store.read() as reader:
        return cloud_reader(reader).address_set_texts(names)


def _derived(store: Store, group_ids: list[str]) -> dict[str, str]:
    with store.read() as reader:
        ports = cloud_reader(reader).ports()
    return {tr.group_set_name(g): format_networks(tr.group_set(g, ports).networks) for g in group_ids}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_member_sets_edited_by_changes_equal_a_full_derivation(
    any_store: Store, recording: RecordingBackend, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = any_store
    engine = _Watching(recording, HostConfig())
    cloud = Cloud(store, engine)
    groups = [cloud.create_group(name).value.id for name in ("a", "b", "c")]
    names = [tr.group_set_name(g) for g in groups]
    rng = random.Random(seed)

    def some_groups() -> tuple[str, ...]:
        return tuple(rng.sample(groups, rng.choice((0, 1, 1, 2, 3))))

    def live() -> list[str]:
        return [p.device for p in cloud.list_ports()]

    def create() -> None:
        free = [d for d in DEVICES if d not in live()]
        if free:
            cloud.create_port(_port(rng, rng.choice(free), some_groups()))

    def update() -> None:
        if live():
            new = _port(rng, rng.choice(live()), some_groups())
            fields = rng.choice(
                (
                    PortChanges(security_groups=new.security_groups),
                    PortChanges(fixed_ips=new.fixed_ips),
                    PortChanges(allowed_address_pairs=new.allowed_address_pairs),
                    PortChanges(new.fixed_ips, new.allowed_address_pairs, new.security_groups),
                )
            )
            cloud.update_port(rng.choice(live()), fields)

    def delete() -> None:
        if live():
            cloud.delete_port(rng.choice(live()))

    def put() -> None:  # existing and new ports at once
        chosen = rng.sample(DEVICES, rng.randint(1, 3))
        cloud.put_ports([_port(rng, d, some_groups()) for d in chosen], keep_groups=rng.random() < 0.3)

    def delete_some() -> None:
        if live():
            cloud.delete_ports(rng.sample(live(), min(len(live()), rng.randint(1, 3))))

    ops: tuple[Callable[[], None], ...] = (create, create, update, update, update, delete, put, delete_some)
    # every change below must edit the sets it touches: deriving one from all members is refused
    monkeypatch.setattr(CloudRepo, "member_networks", _refused)
    edited = 0
    for _ in range(120):
        before = _stored(store, names)
        engine.deltas = {}
        rng.choice(ops)()
        after = _stored(store, names)
        assert after == _derived(store, groups)
        for name in names:
            old = parse_address_set(name, before[name]).networks
            new = parse_address_set(name, after[name]).networks
            if old != new:
                edited += 1
                assert engine.deltas[name] == delta_between(old, new), name
            else:
                assert name not in engine.deltas or engine.deltas[name] == SetDelta()
    assert edited > 40  # the walk did move members
    with store.write() as writer:
        changes = sync(writer, cast(CloudRepo, cloud_writer(writer)), Scope(everything=True))
    assert not changes, changes


def _refused(self: CloudRepo, group_id: str) -> list[Network]:
    raise AssertionError(f"group {group_id}'s member set was derived from every member")


def test_a_device_given_twice_to_put_ports_is_refused_and_nothing_stored(
    store: Store, recording: RecordingBackend
) -> None:
    cloud = Cloud(store, Engine(recording, HostConfig()))
    group = cloud.create_group("a").value.id
    rng = random.Random(0)
    twice = [_port(rng, "vnet1", (group,)), _port(rng, "vnet2", ()), _port(rng, "vnet1", ())]
    with pytest.raises(CloudInputError, match="vnet1 given more than once"):
        cloud.put_ports(twice)
    assert cloud.list_ports() == []
