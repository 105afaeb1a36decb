"""Build rule programs from XML snippets and the builtin filters, and describe them compactly."""

from __future__ import annotations

import uuid

from guestwall.instantiate import instantiate
from guestwall.instantiate.program import ChainProgram, Jump, PortProgram, ProgramRule, Stage
from guestwall.model import Binding, Filter, FilterRef, MacAddress, Owner, make_params
from guestwall.nwfilter import builtin_filters, parse_filter

MAC = MacAddress(0x525400000001)


def filters(*xmls: str) -> dict[str, Filter]:
    out = {f.name: f for f in builtin_filters()}
    for xml in xmls:
        f = parse_filter(xml)
        out[f.name] = f
    return out


def program(
    top: str,
    defs: dict[str, Filter],
    params: dict[str, tuple[str, ...]] | None = None,
    learned: tuple[str, ...] = (),
) -> PortProgram:
    binding = Binding(Owner("vm", uuid.UUID(int=1)), "vnet0", MAC, FilterRef(top, make_params(params or {})))
    return instantiate(binding, defs, learned)


def entries(chain: ChainProgram) -> list[str]:
    """Each entry as 'jump <chain>' or '<filter>#<rule> <verdict>'."""
    out = []
    for e in chain.entries:
        if isinstance(e, Jump):
            out.append(f"jump {e.chain}")
        else:
            assert isinstance(e, ProgramRule)
            out.append(f"{e.origin.filter}#{e.origin.rule} {e.verdict.value}")
    return out


def chain(prog: PortProgram, stage: Stage, name: str = "root") -> ChainProgram:
    found = prog.chain(stage, name)
    assert found is not None, f"no chain {name} in {stage}"
    return found
