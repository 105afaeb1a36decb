"""Golden compile cases: tests/golden/compile/<case>/ holds filters (*.xml), bindings (bindings.json) and the
nft transaction that builds everything on an empty kernel (expected.nft). GUESTWALL_REGEN=1 rewrites them."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest

from guestwall.compile.compiler import Options, PortInput, compile_ruleset
from guestwall.dataplane.diff import diff
from guestwall.instantiate import instantiate
from guestwall.model import Binding, FilterRef, Owner, make_params
from guestwall.nwfilter import builtin_filters, parse_filter

ROOT = Path(__file__).parent.parent / "golden" / "compile"
CASES = sorted(p.name for p in ROOT.iterdir() if p.is_dir())


def compile_case(case: Path, options: Options = Options()) -> str:
    defs = {f.name: f for f in builtin_filters()}
    for xml in sorted(case.glob("*.xml")):
        f = parse_filter(xml.read_text())
        defs[f.name] = f
    ports = []
    for i, b in enumerate(json.loads((case / "bindings.json").read_text()), start=1):
        binding = Binding(
            Owner("vm", uuid.UUID(int=i)),
            b["portdev"],
            b["mac"],
            FilterRef(b["filter"], make_params(b.get("params", {}))),
        )
        ports.append(PortInput(instantiate(binding, defs), i))
    compiled = compile_ruleset(ports, options)
    return diff(compiled.ruleset, {}).text()


@pytest.mark.parametrize("name", CASES)
def test_golden(name: str) -> None:
    case = ROOT / name
    got = compile_case(case)
    expected = case / "expected.nft"
    if os.environ.get("GUESTWALL_REGEN"):
        expected.write_text(got)
    assert got == expected.read_text()


@pytest.mark.netns
@pytest.mark.parametrize("name", CASES)
def test_golden_loads_into_a_kernel(name: str) -> None:
    """The kernel accepts every golden transaction (checked in a namespace of the test's own)."""
    from guestwall.lab.netns import create_netns, remove_netns, run_in_netns
    from netns_fixtures import new_prefix, require_netns

    require_netns()
    ns = f"{new_prefix('c')}-nft"
    create_netns(ns)
    try:
        proc = run_in_netns(ns, ["nft", "-f", "-"], input=(ROOT / name / "expected.nft").read_text())
        assert proc.returncode == 0, proc.stderr
    finally:
        remove_netns(ns)
