"""Every (protocol, attribute) row of the language table (nwfilter/schema.py) reaches nftables: it tests a
packet field (instantiate/fields.py COMPOSITES) that compile/ maps to an nft expression in the rule's context,
or it is refused or ignored for a reason written here or in compile.matches.UNSUPPORTED. A row added without
either fails this test (an attribute nothing checks would fail open)."""

from __future__ import annotations

import pytest

from guestwall.compile.matches import UNSUPPORTED, Context, target
from guestwall.compile.rules import OWN_STATEMENT
from guestwall.errors import InstantiationError
from guestwall.instantiate.fields import COMPOSITES, NON_MATCHING, Field
from guestwall.nwfilter.schema import PROTOCOLS

ROWS = [(p, a.name) for p, spec in PROTOCOLS.items() for a in spec.attrs]

# attributes that test nothing in a packet
NOT_A_TEST = {"comment": "a note kept with the rule (nft rule comment); it matches nothing"}
# attributes libvirt's schema allows but libvirt's code has no row for: accepted with a warning, ignored
SCHEMA_ONLY_REASONS = {
    ("tcp-ipv6", "flags"): "libvirt has no TCP flags row for tcp-ipv6 (ignored as by libvirt)"
}


def _contexts(protocol: str) -> list[Context]:
    """The contexts compile/ gives a rule of this element (compile.rules.context_of)."""
    layer = PROTOCOLS[protocol].layer
    if layer == "ipv4":
        return [Context(l3=True, family=4)]
    if layer == "ipv6":
        return [Context(l3=True, family=6)]
    family = {"ip": 4, "ipv6": 6}.get(protocol)
    return [Context(l3=False, family=family, rarp=protocol == "rarp")]


def _field_of(protocol: str, attr: str) -> Field | None:
    for composite in COMPOSITES.get(protocol, ()):
        if attr in composite.attrs:
            return composite.field
    return None


def test_the_table_has_rows() -> None:
    assert len(ROWS) > 200 and ("tcp", "dstportstart") in ROWS and ("stp", "root-cost-hi") in ROWS


def _problem(protocol: str, attr: str) -> str | None:
    """Why this row does not reach nftables, or None when it does (or is refused for a reason)."""
    if attr in NON_MATCHING:
        return None if attr in NOT_A_TEST else f"{attr} is declared non-matching without a reason here"
    field = _field_of(protocol, attr)
    if field is None:
        return f"{protocol} {attr}: no packet field (instantiate/fields.py COMPOSITES)"
    if field in UNSUPPORTED:
        return None if UNSUPPORTED[field].strip() else f"{field.value}: a refusal needs a reason"
    if field in OWN_STATEMENT:
        return None  # compile.rules writes it as a statement of its own
    for ctx in _contexts(protocol):
        try:
            target(field, ctx)
        except InstantiationError as e:
            return f"{protocol} {attr}: {e}"
    return None


@pytest.mark.parametrize(("protocol", "attr"), ROWS, ids=[f"{p}.{a}" for p, a in ROWS])
def test_every_row_has_an_nftables_mapping_or_a_reasoned_refusal(protocol: str, attr: str) -> None:
    assert _problem(protocol, attr) is None


def test_a_row_without_a_mapping_is_caught() -> None:
    assert "no packet field" in (_problem("tcp", "no-such-attribute") or "")
    assert "no packet field" in (_problem("udp", "flags") or "")  # a TCP-only field on UDP


def test_refused_fields_raise_a_clear_error() -> None:
    for field, reason in UNSUPPORTED.items():
        assert reason.strip()
        with pytest.raises(InstantiationError, match="cannot be enforced"):
            target(field, Context(l3=False))


def test_schema_only_attributes_are_reasoned() -> None:
    schema_only = {(p, name) for p, spec in PROTOCOLS.items() for name, _ in spec.schema_only}
    assert schema_only == set(SCHEMA_ONLY_REASONS)


def test_every_field_in_composites_is_a_field_compile_knows() -> None:
    """No COMPOSITES entry names a field that neither target, OWN_STATEMENT nor UNSUPPORTED handles."""
    for protocol, composites in COMPOSITES.items():
        for composite in composites:
            if composite.field in UNSUPPORTED or composite.field in OWN_STATEMENT:
                continue
            for ctx in _contexts(protocol):
                target(composite.field, ctx)
