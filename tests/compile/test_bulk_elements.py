"""A group's later ports add their set elements by a list kept from its first port (compile.compiler): what
they add, in order, is what each adds when it is the first (and only) port of its group, and a compile of
many ports is the union of the compiles of each alone. Ports with several values per variable, two
groups, logged ports and negated per-port values (whose chains may turn private) are among them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from guestwall.compile import compiler
from guestwall.compile.compiler import Compiled, PortInput, compile_ruleset
from guestwall.engine import memo
from guestwall.model import Filter
from guestwall.nwfilter import parse_binding, parse_filter
from guestwall.nwfilter.builtins import builtin_filters

WEB = """<filter name='web' chain='root'>
  <filterref filter='clean-traffic'/>
  <rule action='accept' direction='in' priority='500'><tcp dstportstart='22' srcipaddr='$TRUSTED'/></rule>
  <rule action='drop' direction='out' priority='600'><udp dstipaddr='$BLOCKED' match='no'/></rule>
  <rule action='drop' direction='inout' priority='900'><all/></rule>
</filter>"""


def _binding(n: int, ips: int, trusted: int, blocked: int, log: bool) -> str:
    params = [f"<parameter name='IP' value='10.{n}.0.{i + 1}'/>" for i in range(ips)]
    params += [f"<parameter name='TRUSTED' value='192.168.{n}.{i + 1}'/>" for i in range(trusted)]
    params += [f"<parameter name='BLOCKED' value='172.16.{n}.{i + 1}'/>" for i in range(blocked)]
    if log:
        params.append("<parameter name='GUESTWALL_LOG' value='drop'/>")
    return (
        f"<filterbinding><owner><name>vm{n}</name><uuid>00000000-0000-4000-8000-{n:012d}</uuid></owner>"
        f"<portdev name='vnet{n}'/><mac address='52:54:00:00:01:{n:02x}'/>"
        f"<filterref filter='web'>{''.join(params)}</filterref></filterbinding>"
    )


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    memo.clear()
    compiler.clear_memo()
    yield
    memo.clear()
    compiler.clear_memo()


def ports() -> list[PortInput]:
    filters: dict[str, Filter] = {f.name: f for f in builtin_filters()}
    filters["web"] = parse_filter(WEB)
    shapes = [  # (IPs, trusted, blocked, logged): several groups, one or several values, negated lists
        (1, 1, 1, False),
        (2, 1, 1, False),
        (1, 3, 1, False),
        (3, 2, 1, False),
        (1, 1, 2, False),  # two negated values: its chain cannot be shared
        (1, 1, 1, True),
        (2, 2, 1, True),
        (1, 1, 1, False),
    ]
    out = []
    for n, (ips, trusted, blocked, log) in enumerate(shapes * 3, start=1):
        binding = parse_binding(_binding(n, ips, trusted, blocked, log))
        out.append(PortInput(memo.planner(filters, "web").instantiate(binding), n))
    return out


def contents(compiled: Compiled) -> dict[str, Any]:
    return {
        family: (dict(table.chains), {name: list(s.elements.items()) for name, s in table.sets.items()})
        for family, table in compiled.ruleset.tables.items()
    }


def test_many_ports_compile_as_the_union_of_each_alone() -> None:
    inputs = ports()
    together = contents(compile_ruleset(inputs))
    union: dict[str, Any] = {}
    for one in sorted(inputs, key=lambda p: p.program.portdev):  # the order compile_ruleset takes them in
        for family, (chains, sets) in contents(compile_ruleset([one])).items():
            all_chains, all_sets = union.setdefault(family, ({}, {}))
            all_chains.update(chains)
            for name, elements in sets.items():
                merged = all_sets.setdefault(name, [])
                merged += [e for e in elements if e not in merged]
    assert together.keys() == union.keys()
    for family, (chains, sets) in together.items():
        assert chains == union[family][0], family
        assert {n: e for n, e in sets.items() if e} == {n: e for n, e in union[family][1].items() if e}
    # the comparison can fail: the ports did add elements, and some chains are private
    assert sum(len(e) for _, sets in together.values() for e in sets.values()) > 200
    assert any("vnet5" in name for _, (chains, _) in together.items() for name in chains)
