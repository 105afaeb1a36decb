"""The kernel's listing of set and map types parses back into the DataType values guestwall declared (issue 9
item 2), so an unchanged state is an empty transaction; including typeof components the kernel lists under
their expression's own type (``ip dscp`` -> dscp, ``arp operation`` -> arp_op)."""

from __future__ import annotations

from pathlib import Path

from gw import Guestwall, binding_xml

from guestwall.lab import Lab
from netns_fixtures import needs_netns

pytestmark = needs_netns


def test_sets_keyed_by_typeof_fields_read_back_unchanged(lab: Lab, tmp_path: Path) -> None:
    gw = Guestwall(lab, tmp_path / "gw.db", tmp_path)
    alice = lab["alice"]
    gw.define(
        "<filter name='f' chain='root'>"
        "<rule action='drop' direction='out'><ip dscp='$DSCP'/></rule>"
        "<rule action='drop' direction='out'><arp opcode='$OP'/></rule>"
        "<rule action='accept' direction='out'><ip srcipaddr='$IP'/></rule></filter>"
    )
    params: dict[str, str | list[str]] = {"DSCP": ["46", "8", "5"], "OP": ["9", "3"], "IP": alice.ipv4}
    gw.run("nwfilter-binding-create", gw.write("a.xml", binding_xml(alice, "f", params)))
    listed = gw.nft("list", "table", "inet", "guestwall") + gw.nft("list", "table", "bridge", "guestwall")
    # the cases this test is about reached the kernel, with elements the listing names (ef, cs1, inreply)
    assert "typeof iifname . ip dscp" in listed and '"vnet0" . ef' in listed
    assert "typeof iifname . arp operation" in listed and '"vnet0" . inreply' in listed
    assert gw.run("apply", "--dry-run").stdout.strip() == "Nothing to change: the kernel equals the store"
