"""SqlWriter.binding_groups remembers what it found while no binding changes (SQLite, and PostgreSQL when
GUESTWALL_TEST_PG is set): a filter edit does not group every binding again, and a binding added, removed
or changed in this transaction or any commit since is never answered from memory."""

from __future__ import annotations

from uuid import uuid4

import pytest

from guestwall.store import Store
from guestwall.store.sqlstore import SqlReader


def xml(portdev: str, params: str = "<parameter name='IP' value='10.0.0.1'/>") -> str:
    return (
        "<filterbinding><owner><name>vm</name><uuid>00000000-0000-4000-8000-000000000001</uuid></owner>"
        f"<portdev name='{portdev}'/><mac address='52:54:00:00:00:01'/>"
        f"<filterref filter='clean-traffic'>{params}</filterref></filterbinding>"
    )


def groups(store: Store) -> list[tuple[str, str, str]]:
    with store.write() as writer:
        return sorted(
            (g.filter, g.params, g.record.portdev) for g in writer.binding_groups(["clean-traffic"])
        )


def test_groups_follow_every_binding_change(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    queries: list[object] = []
    grouping = SqlReader.binding_groups

    def counted(self: SqlReader, names: list[str]) -> object:
        queries.append(names)
        return grouping(self, names)

    monkeypatch.setattr(SqlReader, "binding_groups", counted)
    with store.write() as writer:
        writer.add_binding("vnet0", "clean-traffic", xml("vnet0"))
        writer.add_binding("vnet1", "clean-traffic", xml("vnet1"))
    assert groups(store) == [("clean-traffic", "IP", "vnet0")]
    uuid = uuid4()
    for n in range(3):  # filter edits change no binding: answered from memory
        with store.write() as writer:
            writer.put_filter(uuid, "web", f"<filter name='web' priority='{n}'/>")
        assert groups(store) == [("clean-traffic", "IP", "vnet0")]
    assert len(queries) == 1
    # a binding with other parameter names, committed: a new group
    with store.write() as writer:
        writer.add_binding("vnet2", "clean-traffic", xml("vnet2", ""))
    assert groups(store) == [("clean-traffic", "", "vnet2"), ("clean-traffic", "IP", "vnet0")]
    # the representative goes: the next port of its group stands for it
    with store.write() as writer:
        writer.delete_binding("vnet0")
    assert groups(store) == [("clean-traffic", "", "vnet2"), ("clean-traffic", "IP", "vnet1")]
    # inside the transaction that changes a binding, never from memory
    assert groups(store)  # remembered again
    with store.write() as writer:
        writer.delete_binding("vnet2")
        assert [g.record.portdev for g in writer.binding_groups(["clean-traffic"])] == ["vnet1"]
    assert groups(store) == [("clean-traffic", "IP", "vnet1")]


def test_a_pruned_change_log_is_not_trusted(store: Store) -> None:
    with store.write() as writer:
        writer.add_binding("vnet0", "clean-traffic", xml("vnet0"))
    assert groups(store) == [("clean-traffic", "IP", "vnet0")]
    with store.write() as writer:
        writer.add_binding("vnet1", "clean-traffic", xml("vnet1", ""))
    with store.write() as writer:  # as prune_log does: the log of that commit is gone
        from sqlalchemy import delete, update

        from guestwall.store.tables import ChangeRow, StateRow

        writer.session.execute(delete(ChangeRow))
        writer.session.execute(update(StateRow).values(log_floor=StateRow.generation))
    assert groups(store) == [("clean-traffic", "", "vnet1"), ("clean-traffic", "IP", "vnet0")]
