"""engine.memo: what the incremental paths remember is keyed by value, so an edited definition is never a
stale hit, and the memos stay bounded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from guestwall.compile.compiler import Compiled, Options
from guestwall.engine import memo
from guestwall.model import AddressSet, Filter
from guestwall.nwfilter import parse_binding, parse_filter
from guestwall.nwfilter.builtins import builtin_filters

WEB = """<filter name='web' chain='root'>
  <filterref filter='clean-traffic'/>
  <rule action='accept' direction='in' priority='500'><tcp dstportstart='{port}'/></rule>
</filter>"""

BINDING = """<filterbinding>
  <owner><name>vm1</name><uuid>00000000-0000-4000-8000-000000000001</uuid></owner>
  <portdev name='vnet1'/><mac address='52:54:00:00:00:01'/>
  <filterref filter='web'><parameter name='IP' value='10.0.0.1'/></filterref>
</filterbinding>"""


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    memo.clear()
    yield
    memo.clear()


def definitions(port: int, **more: Filter) -> dict[str, Filter]:
    filters = {f.name: f for f in builtin_filters()}
    filters["web"] = parse_filter(WEB.format(port=port))
    return {**filters, **more}


def test_a_planner_is_kept_for_the_same_definitions_only() -> None:
    first = memo.planner(definitions(22), "web")
    assert memo.planner(definitions(22), "web") is first  # equal values, parsed again: the same planner
    assert memo.planner(definitions(80), "web") is not first  # the top filter edited
    # a definition the top filter does not reach is not part of the key
    unrelated = parse_filter(
        "<filter name='other' chain='root'><rule action='drop' direction='in'/></filter>"
    )
    assert memo.planner(definitions(22, other=unrelated), "web") is first


def test_a_compiled_representative_follows_the_definitions() -> None:
    binding = parse_binding(BINDING)
    sets: dict[str, AddressSet] = {}
    before = memo.compiled_alone(definitions(22), binding, 1, sets, Options())
    assert memo.compiled_alone(definitions(22), binding, 1, sets, Options()) is before
    after = memo.compiled_alone(definitions(80), binding, 1, sets, Options())
    assert after is not before

    def rules(compiled: Compiled) -> list[str]:
        from guestwall.nft.render import rule

        return [rule(r) for t in compiled.ruleset.tables.values() for c in t.chains.values() for r in c.rules]

    assert any("th dport 22 " in r for r in rules(before)) and not any(
        "th dport 22 " in r for r in rules(after)
    )
    assert any("th dport 80 " in r for r in rules(after))
    # other inputs are part of the key too: options, port id
    assert memo.compiled_alone(definitions(22), binding, 2, sets, Options()) is not before
    assert memo.compiled_alone(definitions(22), binding, 1, sets, Options(counters=True)) is not before


def test_a_failure_is_not_remembered() -> None:
    binding = parse_binding(BINDING.replace("filter='web'", "filter='missing'"))
    for _ in range(2):
        with pytest.raises(Exception, match="missing"):
            memo.compiled_alone(definitions(22), binding, 1, {}, Options())


def test_the_memo_is_bounded_least_recently_used_out_first() -> None:
    m: memo.Memo[int] = memo.Memo(2)
    computed: list[str] = []

    def value(key: str) -> int:
        return m.get(key, lambda: computed.append(key) or len(computed))

    value("a"), value("b"), value("a"), value("c")  # "b" is the least recently used when "c" comes
    assert computed == ["a", "b", "c"]
    value("a")
    assert computed == ["a", "b", "c"]
    value("b")
    assert computed == ["a", "b", "c", "b"]
