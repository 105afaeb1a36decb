"""Every filter that libvirt 9.0 accepts (tests/golden/libvirt/filters/*/expected.xml) compiles to rules the
kernel accepts, or is refused with an explicit, reasoned error. Variables get values typed for their use."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from guestwall.compile import names
from guestwall.compile.compiler import PortInput, compile_ruleset
from guestwall.dataplane.diff import diff
from guestwall.errors import GuestwallError
from guestwall.instantiate import instantiate
from guestwall.model import (
    AddressSet,
    Binding,
    DataType,
    Filter,
    FilterRef,
    MacAddress,
    Owner,
    VarRef,
    make_params,
)
from guestwall.nft.commands import Table, Transaction, add, delete, transaction
from guestwall.nwfilter import builtin_filters, parse_filter

GOLDEN = Path(__file__).parent.parent / "golden" / "libvirt" / "filters"
CASES = sorted(p.parent.name for p in GOLDEN.glob("*/expected.xml"))

# a value for a variable, by the datatype the attribute would have
_SAMPLE = {
    DataType.MACADDR: "52:54:00:00:00:07",
    DataType.MACMASK: "ff:ff:ff:00:00:00",
    DataType.IPADDR: "10.0.0.7",
    DataType.IPMASK: "24",
    DataType.IPV6ADDR: "fd00::7",
    DataType.IPV6MASK: "64",
    DataType.UINT8: "6",
    DataType.UINT16: "1536",
    DataType.UINT32: "7",
    DataType.STRING: "6",
    DataType.BOOLEAN: "true",
    DataType.STRINGCOPY: "text",
    DataType.IPSETNAME: "someset",
    DataType.IPSETFLAGS: "src",
}


_BY_ATTR = {"state": "NEW", "flags": "SYN/ALL", "protocolid": "arp", "encap-protocol": "arp", "opcode": "Request",
            "protocol": "tcp", "ipsetflags": "src", "ipset": "someset", "comment": "text"}  # fmt: skip


def _params(f: Filter) -> dict[str, tuple[str, ...]] | None:
    """A value for every variable the filter uses (as many elements as its highest index needs); None
    when an index is too large to be worth a list."""
    from guestwall.nwfilter.schema import PROTOCOLS

    samples: dict[str, str] = {}
    sizes: dict[str, int] = {}
    for rule in f.rules:
        if rule.match is None:
            continue
        for attr, value in rule.match.attrs:
            if isinstance(value.value, VarRef):
                spec = PROTOCOLS[rule.match.protocol].attr(attr)
                assert spec is not None
                ref = value.value
                samples.setdefault(ref.name, _BY_ATTR.get(attr) or _SAMPLE.get(spec.datatypes[0], "6"))
                sizes[ref.name] = max(sizes.get(ref.name, 1), (ref.index or 0) + 1)
    if any(n > 8 for n in sizes.values()):
        return None
    return {name: (samples[name],) * sizes[name] for name in samples}


def load_case(name: str) -> Transaction | None:
    """The nft transaction for the case's filter bound to one port, or None if it has dangling references."""
    try:
        f = parse_filter((GOLDEN / name / "input.xml").read_bytes())
    except GuestwallError:
        return None  # parsing is tests/nwfilter's subject (and a few deliberate deviations)
    defs = {b.name: b for b in builtin_filters()}
    defs[f.name] = f
    if any(ref.filter not in defs for ref in f.refs):
        return None
    params = _params(f)
    if params is None:
        return None
    params = {"IP": ("10.0.0.7",), "IPV6": ("fd00::7",)} | params
    binding = Binding(
        Owner("vm", uuid.UUID(int=1)), "vnet0", MacAddress(0x525400000001), FilterRef(f.name, make_params(params))
    )
    program = instantiate(binding, defs)
    sets = {name: AddressSet(name) for name in ("someset", "myset", "x", "tck_test", "a", "set")}
    compiled = compile_ruleset([PortInput(program, 1)], address_sets=sets)
    return diff(compiled.ruleset, {})


@pytest.mark.netns
def test_every_libvirt_filter_compiles_and_loads() -> None:
    from guestwall.dataplane.backend import open_backend
    from guestwall.lab.netns import create_netns, remove_netns
    from netns_fixtures import new_prefix, require_netns

    require_netns()
    ns = f"{new_prefix('c')}-all"
    create_netns(ns)
    refused: dict[str, str] = {}
    failed: dict[str, str] = {}
    try:
        backend = open_backend(ns)
        for name in CASES:
            try:
                tx = load_case(name)
            except GuestwallError as e:
                refused[name] = str(e)
                continue
            if tx is None:
                continue
            try:
                tables = [Table(family, names.TABLE) for family in names.FAMILIES]
                backend.run(transaction(c for t in tables for c in (add(t), delete(t))) + tx)
            except GuestwallError as e:
                failed[name] = str(e)
    finally:
        remove_netns(ns)
    assert failed == {}
    # what we refuse, we refuse for a stated reason
    reasons = (
        "cannot be enforced",
        "ipset",
        "Cardinality",
        "is not valid for",
    )  # the last: our sample values
    assert all(any(r in why for r in reasons) for why in refused.values()), refused
