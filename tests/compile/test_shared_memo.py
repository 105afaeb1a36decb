"""compile.compiler remembers rendered and folded shared chains across compiles, by value: a compile with
the memo warm is exactly (order included) what a compile with it cold gives, an edited filter is a new
key, and a port of a known group renders none of its group's chains again."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from guestwall.compile import compiler
from guestwall.compile.compiler import Compiled, Options, PortInput, compile_ruleset
from guestwall.engine import memo
from guestwall.model import Filter
from guestwall.nwfilter import parse_binding, parse_filter
from guestwall.nwfilter.builtins import builtin_filters

WEB = """<filter name='{name}' chain='root'>
  <filterref filter='clean-traffic'/>
  <rule action='accept' direction='in' priority='500'><tcp dstportstart='{port}'/></rule>
  <rule action='accept' direction='in' priority='510'><tcp dstportstart='{port}' srcipaddr='$TRUSTED'/></rule>
  <rule action='drop' direction='inout' priority='900'><all/></rule>
</filter>"""

BINDING = """<filterbinding>
  <owner><name>vm{n}</name><uuid>00000000-0000-4000-8000-00000000000{n}</uuid></owner>
  <portdev name='vnet{n}'/><mac address='52:54:00:00:00:0{n}'/>
  <filterref filter='{top}'>
    <parameter name='IP' value='10.0.0.{n}'/>{log}
    <parameter name='TRUSTED' value='192.168.{n}.1'/>
  </filterref>
</filterbinding>"""


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    memo.clear()
    yield
    memo.clear()


def definitions(port: int) -> dict[str, Filter]:
    filters = {f.name: f for f in builtin_filters()}
    for name in ("web", "app"):
        filters[name] = parse_filter(WEB.format(name=name, port=port))
    return filters


def port(filters: dict[str, Filter], n: int, top: str = "web", log: bool = False) -> PortInput:
    extra = "\n    <parameter name='GUESTWALL_LOG' value='drop'/>" if log else ""
    binding = parse_binding(BINDING.format(n=n, top=top, log=extra))
    return PortInput(memo.planner(filters, top).instantiate(binding), n)


def snapshot(compiled: Compiled) -> list[Any]:
    """Everything compiled, in order (dict order decides the order of commands)."""
    out: list[Any] = [sorted(compiled.log_rules.items())]
    for family, table in compiled.ruleset.tables.items():
        out.append(
            (family, list(table.chains.items()), [(n, s, dict(s.elements)) for n, s in table.sets.items()])
        )
    return out


def cold(ports: list[PortInput], options: Options = Options()) -> list[Any]:
    compiler.clear_memo()
    try:
        return snapshot(compile_ruleset(ports, options))
    finally:
        compiler.clear_memo()


def test_an_edited_filter_never_hits_the_old_chains() -> None:
    warm = snapshot(compile_ruleset([port(definitions(22), 1)]))
    edited = [port(definitions(80), 1)]
    assert snapshot(compile_ruleset(edited)) == cold(edited)
    assert snapshot(compile_ruleset(edited)) != warm  # the edit shows (the comparison can fail)
    back = [port(definitions(22), 1)]
    assert snapshot(compile_ruleset(back)) == warm


def test_a_warm_compile_is_the_cold_one_in_every_shape() -> None:
    filters = definitions(22)
    everyone = [port(filters, 1), port(filters, 2, "app"), port(filters, 3, log=True), port(filters, 4)]
    for options in (Options(), Options(counters=True), Options(fold=False)):
        compile_ruleset(everyone, options)  # warm: the groups' chains and the sets they share
        for ports in (everyone, everyone[1:2], everyone[2:3], everyone[3:], everyone[::-1]):
            assert snapshot(compile_ruleset(ports, options)) == cold(ports, options)


def test_a_port_of_a_known_group_renders_no_shared_chain(monkeypatch: pytest.MonkeyPatch) -> None:
    filters = definitions(22)
    compile_ruleset([port(filters, 1)])
    calls: list[str] = []
    render = compiler._render_chain

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[3])
        return render(*args, **kwargs)

    monkeypatch.setattr(compiler, "_render_chain", counted)
    compile_ruleset([port(filters, 2)])
    assert calls == []
    compile_ruleset([port(definitions(23), 2)])
    assert calls  # an edited group is rendered again
