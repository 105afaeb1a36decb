"""The filter use cases (services/filters.py): define/redefine/undefine rules, loops, in-use, the hook."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from guestwall.engine import Change
from guestwall.errors import ConflictError, InputError, InUseError, NotFoundError
from guestwall.instantiate.tree import reachable_filters
from guestwall.model import Filter
from guestwall.nwfilter import format_filter, parse_filter
from guestwall.services.filters import (
    define_filter,
    find_filter,
    has_loop,
    list_filters,
    undefine_filter,
)
from guestwall.store import Store

BINDING_XML = (
    "<filterbinding><owner><name>vm</name><uuid>00000000-0000-4000-8000-000000000001</uuid></owner>"
    "<portdev name='vnet0'/><mac address='52:54:00:00:00:01'/>"
    "<filterref filter='clean-traffic'><parameter name='IP' value='10.0.0.1'/></filterref></filterbinding>"
)

U1 = UUID("00000000-0000-0000-0000-000000000001")
U2 = UUID("00000000-0000-0000-0000-000000000002")


def xml(name: str, *refs: str, uuid: UUID | None = None, port: int = 22) -> str:
    lines = [f"<filter name='{name}' chain='root'>"]
    if uuid is not None:
        lines.append(f"  <uuid>{uuid}</uuid>")
    lines.append(f"  <rule action='accept' direction='in' priority='500'><tcp dstportstart='{port}'/></rule>")
    lines += [f"  <filterref filter='{ref}'/>" for ref in refs]
    lines.append("</filter>")
    return "\n".join(lines) + "\n"


def snapshot(store: Store) -> tuple[int, list[tuple[UUID, str, str]]]:
    with store.read() as reader:
        return reader.generation(), [(r.uuid, r.name, r.xml) for r in reader.filters()]


class Recorder:
    """Stands in for the engine: records the filter edits it is asked to enforce."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[dict[str, Filter]] = []
        self.fail = fail

    def apply(self, txn: object, change: Change) -> None:
        assert change.filters is not None and not change.full
        self.calls.append(dict(change.filters.after))
        if self.fail:
            raise RuntimeError("enforcement failed")


def test_define_new_filter(store: Store) -> None:
    result = define_filter(store, xml("web"))
    assert result.name == "web" and result.changed
    record = find_filter(store, "web")
    assert record.uuid == result.uuid
    assert record.xml == format_filter(parse_filter(xml("web", uuid=result.uuid)))


def test_define_keeps_a_given_uuid(store: Store) -> None:
    assert define_filter(store, xml("web", uuid=U1)).uuid == U1
    assert find_filter(store, str(U1)).name == "web"


def test_redefine_without_uuid_keeps_the_uuid(store: Store) -> None:
    # The deliberate difference from libvirt, which fails here with "already exists with uuid".
    first = define_filter(store, xml("web", port=22))
    second = define_filter(store, xml("web", port=80))
    assert second.uuid == first.uuid and second.changed
    assert "80" in find_filter(store, "web").xml


def test_redefine_with_the_same_uuid(store: Store) -> None:
    define_filter(store, xml("web", uuid=U1, port=22))
    assert define_filter(store, xml("web", uuid=U1, port=80)).changed


def test_identical_redefine_changes_nothing(store: Store) -> None:
    define_filter(store, xml("web", uuid=U1))
    before = snapshot(store)
    hook = Recorder()
    for again in (xml("web", uuid=U1), xml("web"), find_filter(store, "web").xml):
        result = define_filter(store, again, engine=hook)
        assert (result.name, result.uuid, result.changed) == ("web", U1, False)
    assert snapshot(store) == before
    assert hook.calls == []


def test_same_uuid_with_another_name_is_refused(store: Store) -> None:
    define_filter(store, xml("web", uuid=U1))
    before = snapshot(store)
    with pytest.raises(ConflictError) as info:
        define_filter(store, xml("db", uuid=U1))
    assert str(info.value) == "filter with same UUID but different name ('web') already exists"
    assert info.value.virsh_text().startswith("operation failed: ")
    assert snapshot(store) == before


def test_same_name_with_another_uuid_is_refused(store: Store) -> None:
    define_filter(store, xml("web", uuid=U1))
    with pytest.raises(ConflictError) as info:
        define_filter(store, xml("web", uuid=U2))
    assert str(info.value) == f"filter 'web' already exists with uuid {U1}"


def test_uuid_check_comes_before_name_check(store: Store) -> None:
    define_filter(store, xml("web", uuid=U1))
    define_filter(store, xml("db", uuid=U2))
    with pytest.raises(ConflictError, match=r"same UUID but different name \('db'\)"):
        define_filter(store, xml("web", uuid=U2))


@pytest.mark.parametrize(
    "steps",
    [
        [("a", ["a"])],  # self-reference
        [("a", ["b"]), ("b", ["a"])],  # closes a two-filter cycle
        [("a", ["b"]), ("b", ["c"]), ("c", ["allow-arp", "a"])],  # three filters
        [("a", ["b"]), ("b", []), ("b", ["x", "a"])],  # a redefinition closes it
    ],
)
def test_loops_are_refused(store: Store, steps: list[tuple[str, list[str]]]) -> None:
    *setup, (name, refs) = steps
    for step_name, step_refs in setup:
        define_filter(store, xml(step_name, *step_refs))
    before = snapshot(store)
    with pytest.raises(ConflictError, match=r"^filter would introduce a loop$"):
        define_filter(store, xml(name, *refs))
    assert snapshot(store) == before


def test_references_to_missing_filters_are_allowed(store: Store) -> None:
    assert define_filter(store, xml("a", "not-yet", "clean-traffic")).changed
    assert define_filter(store, xml("not-yet", "allow-arp")).changed


def test_a_shared_child_is_not_a_loop(store: Store) -> None:
    define_filter(store, xml("leaf"))
    define_filter(store, xml("left", "leaf"))
    define_filter(store, xml("right", "leaf"))
    assert define_filter(store, xml("top", "left", "right", "leaf")).changed


def test_undefine_by_name_and_by_uuid(store: Store) -> None:
    define_filter(store, xml("web", uuid=U1))
    define_filter(store, xml("db", uuid=U2))
    assert undefine_filter(store, "web").uuid == U1
    assert undefine_filter(store, str(U2)).name == "db"
    with pytest.raises(NotFoundError) as info:
        find_filter(store, "web")
    assert info.value.virsh_text() == "Network filter not found: no nwfilter with matching name 'web'"


def test_undefine_unknown(store: Store) -> None:
    with pytest.raises(NotFoundError, match=f"no nwfilter with matching name '{U1}'"):
        undefine_filter(store, str(U1))


def test_undefine_a_filter_only_unbound_filters_use(store: Store) -> None:
    # As libvirt: allowed; the referencing filter keeps a dangling reference.
    define_filter(store, xml("child"))
    define_filter(store, xml("parent", "child"))
    undefine_filter(store, "child")
    assert "filter='child'" in find_filter(store, "parent").xml


@pytest.mark.parametrize("name", ["clean-traffic", "no-mac-spoofing", "no-arp-ip-spoofing"])
def test_undefine_a_filter_a_binding_uses(store: Store, name: str) -> None:
    with store.write() as writer:
        writer.add_binding("vnet0", "clean-traffic", BINDING_XML)
    before = snapshot(store)
    with pytest.raises(InUseError) as info:
        undefine_filter(store, name)
    assert info.value.virsh_text() == "Requested operation is not valid: nwfilter is in use"
    assert snapshot(store) == before
    undefine_filter(store, "allow-ipv6")  # unrelated to the binding


def test_hook_gets_the_complete_new_set(store: Store) -> None:
    hook = Recorder()
    define_filter(store, xml("web", "clean-traffic"), engine=hook)
    define_filter(store, xml("web", "allow-arp"), engine=hook)
    undefine_filter(store, "web", engine=hook)
    added, changed, removed = hook.calls
    assert len(added) == 25 and added["web"].refs[0].filter == "clean-traffic"
    assert changed["web"].refs[0].filter == "allow-arp" and changed["web"].uuid == added["web"].uuid
    assert "web" not in removed and len(removed) == 24
    assert all(name == f.name and f.uuid is not None for name, f in added.items())


@pytest.mark.parametrize("case", ["new", "redefine", "undefine"])
def test_failing_hook_rolls_everything_back(store: Store, case: str) -> None:
    define_filter(store, xml("web", port=22))
    before = snapshot(store)
    with pytest.raises(RuntimeError, match="enforcement failed"):
        if case == "new":
            define_filter(store, xml("db"), engine=Recorder(fail=True))
        elif case == "redefine":
            define_filter(store, xml("web", port=80), engine=Recorder(fail=True))
        else:
            undefine_filter(store, "web", engine=Recorder(fail=True))
    assert snapshot(store) == before


def test_invalid_xml_touches_nothing(store: Store) -> None:
    before = snapshot(store)
    with pytest.raises(InputError):
        define_filter(store, "<filter name='x'")
    with pytest.raises(InputError):
        define_filter(store, "<filter/>")
    assert snapshot(store) == before


def test_validate_is_passed_to_the_parser(store: Store) -> None:
    out_of_range = xml("web").replace("priority='500'", "priority='1001'")
    with pytest.raises(InputError):
        define_filter(store, out_of_range, validate=True)
    define_filter(store, out_of_range)  # libvirt silently uses 500 without validation
    assert "priority='500'" in find_filter(store, "web").xml


def test_uuid_length_argument_is_tried_as_uuid_first(store: Store) -> None:
    define_filter(store, xml("web", uuid=U1))
    define_filter(store, xml(str(U1), uuid=U2))  # a filter named like the other's UUID
    assert find_filter(store, str(U1)).name == "web"
    assert find_filter(store, str(U2)).name == str(U1)
    odd = "x" * 36  # UUID length but not a UUID: a name
    define_filter(store, xml(odd))
    assert find_filter(store, odd).name == odd


def test_list_is_sorted_case_insensitively(store: Store) -> None:
    for name in ("Zeta", "alpha", "Beta", "beta2"):
        define_filter(store, xml(name))
    names = [r.name for r in list_filters(store)]
    assert names[:4] == ["allow-arp", "allow-dhcp", "allow-dhcp-server", "allow-dhcpv6"]
    assert names.index("alpha") < names.index("Beta") < names.index("beta2") < names.index("clean-traffic")
    assert names[-1] == "Zeta" and len(names) == 28


def test_graph_helpers() -> None:
    def f(name: str, *refs: str) -> Filter:
        return parse_filter(xml(name, *refs))

    filters = {f.name: f for f in (f("a", "b", "c"), f("b", "c"), f("c"), f("d", "d"))}
    assert reachable_filters(filters, ["a"]) == {"a", "b", "c"}
    assert reachable_filters(filters, ["b", "missing"]) == {"b", "c", "missing"}
    assert not has_loop(filters, "a")
    assert has_loop(filters, "d")
    assert not has_loop(filters, "missing")


def test_find_filter_of_missing(store: Store) -> None:
    with pytest.raises(NotFoundError):
        find_filter(store, str(uuid4()))


def test_loop_search_handles_long_chains() -> None:
    from guestwall.model import FilterRef

    chain = {f"f{i}": Filter(name=f"f{i}", entries=(FilterRef(f"f{i + 1}"),)) for i in range(5000)}
    assert not has_loop(chain, "f0")
    chain["f4999"] = Filter(name="f4999", entries=(FilterRef("f0"),))
    assert has_loop(chain, "f0") and has_loop(chain, "f2500")
    assert len(reachable_filters(chain, ["f0"])) == 5000
