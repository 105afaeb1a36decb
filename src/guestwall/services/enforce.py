"""Enforcement: the store's filters and bindings -> rule programs -> desired nftables state -> kernel.

Every use case that changes what is enforced (binding create/delete, filter define/undefine, learning)
computes the complete desired state from the store and lets the dataplane apply only the difference.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from guestwall.compile.compiler import Compiled, Options, PortInput, compile_ruleset
from guestwall.dataplane.apply import ApplyResult, apply
from guestwall.dataplane.backend import Backend
from guestwall.errors import GuestwallError, InstantiationError
from guestwall.instantiate.build import Planner
from guestwall.instantiate.program import PortProgram
from guestwall.model import AddressSet, Binding, Filter
from guestwall.store.records import BindingRecord, Reader


@dataclass(frozen=True)
class BoundPort:
    record: BindingRecord
    binding: Binding
    learned: tuple[str, ...] = ()


@dataclass
class Desired:
    compiled: Compiled
    programs: dict[str, PortProgram] = field(default_factory=dict)
    failures: dict[str, GuestwallError] = field(default_factory=dict)


def load_ports(reader: Reader) -> list[BoundPort]:
    """Every binding in the store, parsed, with its learned addresses."""
    from guestwall.nwfilter import parse_binding

    learned: dict[str, list[str]] = {}
    for addr in reader.learned_addresses():
        learned.setdefault(addr.portdev, []).append(str(addr.ip))
    return [
        BoundPort(rec, parse_binding(rec.xml), tuple(learned.get(rec.portdev, ())))
        for rec in reader.bindings()
    ]


def build_desired(
    filters: Mapping[str, Filter],
    ports: Sequence[BoundPort],
    options: Options = Options(),
    strict: bool = True,
    address_sets: Mapping[str, AddressSet] | None = None,
) -> Desired:
    """Instantiate and compile every port. With ``strict`` a port that cannot be instantiated is an error
    naming its binding; otherwise it is left out (and reported in ``failures``)."""
    programs: dict[str, PortProgram] = {}
    failures: dict[str, GuestwallError] = {}
    inputs: list[PortInput] = []
    planner = Planner(filters)  # plans each group's structure once
    for port in ports:
        try:
            program = planner.instantiate(port.binding, port.learned)
        except InstantiationError as e:
            if strict:
                raise InstantiationError(f"binding {port.record.portdev}: {e}") from e
            failures[port.record.portdev] = e
            continue
        programs[port.record.portdev] = program
        inputs.append(PortInput(program, port.record.port_id))
    compiled = compile_ruleset(inputs, options, address_sets)
    return Desired(compiled, programs, failures)


def load_address_sets(reader: Reader) -> dict[str, AddressSet]:
    """The named address sets that ``ipset`` attributes refer to (security-group members, provider blocks)."""
    return {aset.name: aset for aset in reader.address_sets()}


def enforce_from(reader: Reader, filters: Mapping[str, Filter], backend: Backend, options: Options = Options()) -> ApplyResult:
    """Apply what the store (as seen by ``reader``, with ``filters``) says; raises if any port fails."""
    desired = build_desired(filters, load_ports(reader), options, address_sets=load_address_sets(reader))
    return apply(desired.compiled.ruleset, backend)
