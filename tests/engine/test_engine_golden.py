"""Golden transactions: what the engine sends to the kernel for each kind of change, since the diff is the
product. A namespace of the test's own holds our tables (no interfaces are needed: rules match by name);
tests/golden/engine/<case>.nft is the transaction of one change after a fixed set-up. GUESTWALL_REGEN=1
rewrites them. Cloud ids are made deterministic, so kernel names (hashes of ids) are stable."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from ipaddress import ip_address, ip_network
from pathlib import Path
from uuid import UUID

import pytest

from guestwall.cloud.facade import Cloud
from guestwall.cloud.ports import PortChanges
from guestwall.cloud.rules import RuleSpec
from guestwall.config import HostConfig
from guestwall.dataplane.backend import Backend, open_backend
from guestwall.engine import Engine
from guestwall.model.cloud import Port, RuleDirection
from guestwall.nft.commands import Listing, Transaction
from guestwall.services.bindings import create_binding, create_bindings, delete_binding
from guestwall.services.filters import define_filter
from guestwall.store import Store, open_store
from netns_fixtures import needs_netns, new_prefix

pytestmark = needs_netns

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "engine"

WEB = """<filter name='web' chain='root'>
  <filterref filter='clean-traffic'/>
  <rule action='accept' direction='in' priority='500'><tcp dstportstart='{port}'/></rule>
  <rule action='drop' direction='in' priority='900'><tcp/></rule>
</filter>
"""


def binding(n: int, filter_name: str) -> str:
    return f"""<filterbinding>
  <owner><name>vm{n}</name><uuid>00000000-0000-4000-8000-{n:012d}</uuid></owner>
  <portdev name='vnet{n}'/><mac address='52:54:00:00:00:{n:02x}'/>
  <filterref filter='{filter_name}'><parameter name='IP' value='10.0.0.{n}'/></filterref>
</filterbinding>
"""


class Recording:
    """The namespace's real backend, keeping the text of every transaction it runs."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.netns = inner.netns
        self.texts: list[str] = []

    def run(self, tx: Transaction) -> None:
        self.texts.append(tx.text())
        self.inner.run(tx)

    def list_json(self, what: Listing, terse: bool = False):  # type: ignore[no-untyped-def]
        return self.inner.list_json(what, terse)

    def chain_reader(self):  # type: ignore[no-untyped-def]
        return self.inner.chain_reader()  # type: ignore[attr-defined]


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[tuple[Store, Recording, Engine]]:
    from guestwall.lab.netns import create_netns, remove_netns

    ns = f"{new_prefix('e')}-eng"
    create_netns(ns)
    store = open_store(f"sqlite:///{tmp_path}/gw.db")
    try:
        backend = Recording(open_backend(ns))
        yield store, backend, Engine(backend, HostConfig())
    finally:
        store.close()
        remove_netns(ns)


def check(case: str, backend: Recording, change: Callable[[], object]) -> None:
    """Run ``change``; its one transaction must equal the golden file, and nothing else may be due. A
    change made before it is broken (engine.stages) runs as three batches: prepare, switch, clean up."""
    before = len(backend.texts)
    change()
    batches = backend.texts[before:]
    assert 1 <= len(batches) <= 3, batches
    got = (
        batches[0]
        if len(batches) == 1
        else "".join(f"# {_step(batches, i)}\n{t}" for i, t in enumerate(batches))
    )
    path = GOLDEN / f"{case}.nft"
    if os.environ.get("GUESTWALL_REGEN"):
        path.write_text(got)
    assert got == path.read_text()


def _step(batches: list[str], i: int) -> str:
    """Which step of a staged change batch ``i`` is: the switch holds elements only."""
    switch = next(n for n, text in enumerate(batches) if all(" element " in x for x in text.splitlines()))
    return "switch (one atomic element batch)" if i == switch else "prepare" if i < switch else "clean up"


@pytest.fixture
def bound(kernel: tuple[Store, Recording, Engine]) -> tuple[Store, Recording, Engine]:
    store, _, engine = kernel
    define_filter(store, WEB.format(port=22), engine=engine)
    create_bindings(store, [binding(1, "web"), binding(2, "web"), binding(3, "clean-traffic")], engine)
    return kernel


def test_filter_edit(bound: tuple[Store, Recording, Engine]) -> None:
    store, backend, engine = bound
    check("filter-edit", backend, lambda: define_filter(store, WEB.format(port=80), engine=engine))


def test_binding_add(bound: tuple[Store, Recording, Engine]) -> None:
    store, backend, engine = bound
    check("binding-add", backend, lambda: create_binding(store, binding(4, "web"), engine))


def test_binding_remove(bound: tuple[Store, Recording, Engine]) -> None:
    store, backend, engine = bound
    check("binding-remove", backend, lambda: delete_binding(store, "vnet2", engine))


def test_binding_remove_last_of_its_filter(bound: tuple[Store, Recording, Engine]) -> None:
    store, backend, engine = bound
    check("binding-remove-last", backend, lambda: delete_binding(store, "vnet3", engine))


@pytest.fixture
def cloud(
    kernel: tuple[Store, Recording, Engine], monkeypatch: pytest.MonkeyPatch
) -> tuple[Cloud, Recording]:
    counter = itertools.count(1)
    fresh = lambda: UUID(int=(n := next(counter)) << 64 | n)  # noqa: E731
    for module in ("lookup", "rules", "ports", "blocks", "addressgroups"):
        monkeypatch.setattr(f"guestwall.cloud.{module}.uuid4", fresh)
    store, backend, engine = kernel
    cloud = Cloud(store, engine)
    cloud.create_group("web")
    cloud.create_group("frontends")
    cloud.create_port(port(1, "web"))
    cloud.create_port(port(2, "frontends"))
    return cloud, backend


def port(n: int, *groups: str) -> Port:
    return Port(
        "", f"tap{n}", f"52:54:00:00:01:{n:02x}", "default", fixed_ips=(ip_address(f"10.1.0.{n}"),),
        security_groups=groups,
    )  # fmt: skip


def test_security_group_rule(cloud: tuple[Cloud, Recording]) -> None:
    c, backend = cloud
    spec = RuleSpec(RuleDirection.INGRESS, protocol="tcp", ports=(80, 80), remote_group="frontends")
    check("secgroup-rule", backend, lambda: c.create_rule("web", spec).value)


def test_port_add(cloud: tuple[Cloud, Recording]) -> None:
    c, backend = cloud
    check("port-add", backend, lambda: c.create_port(port(3, "web")).value)


def test_port_remove(cloud: tuple[Cloud, Recording]) -> None:
    c, backend = cloud
    check("port-remove", backend, lambda: c.delete_port("tap1").value)


def test_member_join_and_leave(cloud: tuple[Cloud, Recording]) -> None:
    c, backend = cloud
    check(
        "member-join",
        backend,
        lambda: c.update_port("tap2", PortChanges(security_groups=("frontends", "web"))),
    )
    check("member-leave", backend, lambda: c.update_port("tap2", PortChanges(security_groups=("frontends",))))


def test_provider_block(cloud: tuple[Cloud, Recording]) -> None:
    c, backend = cloud
    c.block(ip_network("198.51.100.0/24"))
    check("provider-block", backend, lambda: c.block(ip_network("203.0.113.0/24")).value)
