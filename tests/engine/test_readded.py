"""A transaction does not delete an element that a later command adds back unchanged (a port moving between
groups keeps its values): the add alone leaves the kernel the same, and deletes in interval concatenations
cost the kernel a lookup each. Anything else is kept as it is, order included."""

from __future__ import annotations

from guestwall.engine.incremental import _without_readded
from guestwall.nft.commands import Elements, SetDecl, Table, add, delete
from guestwall.nft.datatypes import DataType

T = Table("bridge", "guestwall")
VALUES = SetDecl(T, "v.ipv4", (DataType.IFNAME, DataType.IPV4_ADDR), flags=("interval",))
DISPATCH = SetDecl(T, "l2out", (DataType.IFNAME,), map_type=DataType.VERDICT)


def test_a_value_deleted_and_added_back_is_only_added() -> None:
    tx = [
        delete(Elements(VALUES, ((("tap1", "10.0.0.1"), None), (("tap1", "10.0.0.9"), None)))),
        add(Elements(VALUES, ((("tap1", "10.0.0.1"), None),))),
    ]
    assert _without_readded(tx) == [
        delete(Elements(VALUES, ((("tap1", "10.0.0.9"), None),))),
        add(Elements(VALUES, ((("tap1", "10.0.0.1"), None),))),
    ]


def test_a_map_element_with_another_value_is_still_deleted_first() -> None:
    tx = [
        delete(Elements(DISPATCH, ((("tap1",), ("goto", "old")),))),
        add(Elements(DISPATCH, ((("tap1",), ("goto", "new")),))),
    ]
    assert _without_readded(tx) == tx


def test_a_delete_after_the_add_stays() -> None:
    tx = [
        add(Elements(VALUES, ((("tap1", "10.0.0.1"), None),))),
        delete(Elements(VALUES, ((("tap1", "10.0.0.1"), None),))),
    ]
    assert _without_readded(tx) == tx


def test_a_delete_wholly_added_back_disappears() -> None:
    item = (("tap1", "10.0.0.1"), None)
    tx = [delete(Elements(VALUES, (item,))), add(Elements(DISPATCH, ((("tap1",), ("accept", None)),)))]
    tx.append(add(Elements(VALUES, (item,))))
    assert _without_readded(tx) == tx[1:]
