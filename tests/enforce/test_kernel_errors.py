"""A refused nftables transaction names the command that failed (issue 15, item 14): libnftables 1.0.6
quotes the first line of its input whatever failed; both backends must name the right one."""

from __future__ import annotations

from ipaddress import ip_address
from pathlib import Path

import pytest
from gw import Guestwall, binding_xml

from guestwall.dataplane.backend import LibNftables, NftCommand
from guestwall.errors import DataplaneError
from guestwall.lab import Lab
from guestwall.nft.commands import Elements, SetDecl, Table, add, transaction
from guestwall.nft.datatypes import DataType
from netns_fixtures import needs_netns

pytestmark = needs_netns

TABLE = Table("inet", "gwtest")
SET = SetDecl(TABLE, "s", (DataType.IPV4_ADDR,), flags=("interval",))
RANGE = (ip_address("10.0.0.0"), ip_address("10.0.0.255"))
FAILING = transaction(
    [
        add(TABLE),
        add(SET),
        add(Elements(SET, (((RANGE,), None),))),
        add(Elements(SET, (((ip_address("10.0.0.5"),), None),))),
    ]
)


@pytest.mark.parametrize("backend", [LibNftables, NftCommand])
def test_the_failing_command_is_named(lab: Lab, backend: type[LibNftables] | type[NftCommand]) -> None:
    with pytest.raises(DataplaneError) as raised:
        backend(lab.host_netns).run(FAILING)
    message = str(raised.value)
    assert "conflicting intervals" in message
    assert "add element inet gwtest s { 10.0.0.5 }" in message
    assert "add table" not in message


def test_sets_a_redefined_filter_no_longer_uses_are_deleted(lab: Lab, tmp_path: Path) -> None:
    """Item 16: the edit of a bound filter that stops using its variables left their sets behind."""
    gw = Guestwall(lab, tmp_path / "gw.db", tmp_path)
    alice = lab["alice"]
    gw.define(
        "<filter name='f' chain='root'>"
        "<rule action='accept' direction='out'><ip srcipaddr='$IP'/></rule>"
        "<rule action='drop' direction='out'><mac srcmacaddr='$MAC'/></rule></filter>"
    )
    gw.run("nwfilter-binding-create", gw.write("a.xml", binding_xml(alice, "f", {"IP": alice.ipv4})))
    assert "set v." in gw.nft("list", "table", "bridge", "guestwall")
    gw.define(
        "<filter name='f' chain='root'><rule action='drop' direction='out'><ip protocol='udp'/></rule></filter>"
    )
    assert "delete set" not in gw.run("apply", "--dry-run").stdout
    assert "set v." not in gw.nft("list", "table", "bridge", "guestwall")
