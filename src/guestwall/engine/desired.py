"""The desired state: the store's filters and bindings -> rule programs -> the desired nftables ruleset.

The engine's full path builds it (``desired_state``) for the CLI and the agent alike: the host settings
(guest port patterns, the default filter of unbound guest ports), IP learning (interim rules until an
address is learned, then the learned addresses as ``$IP``) and the store's learned addresses all enter here.
Settings and the namespace's interfaces are passed in; nothing here reads the host configuration.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from uuid import UUID

from guestwall.compile import names
from guestwall.compile.compiler import Compiled, Options, PortInput, compile_ruleset
from guestwall.errors import GuestwallError, InstantiationError
from guestwall.instantiate.build import Planner
from guestwall.instantiate.learning import (
    LearningMode,
    dhcp_servers,
    drop_all_program,
    interim_program,
    learning_mode,
)
from guestwall.instantiate.program import PortProgram
from guestwall.instantiate.variables import MissingVariables
from guestwall.model import AddressSet, Binding, Filter, FilterRef, make_params
from guestwall.model.binding import Owner
from guestwall.model.ifname import ifname_problem
from guestwall.model.mac import MacAddress
from guestwall.store.records import BindingRecord, Reader

if TYPE_CHECKING:
    from guestwall.config import HostConfig
    from guestwall.dataplane.links import Link

# Port ids of unbound guest ports under the default filter: the upper half, so they never meet the store's
# (allocated from 1 upwards).
IMPLICIT_PORT_IDS = (0x8000, names.MAX_PORT_ID)
IMPLICIT_OWNER = Owner("guestwall-default", UUID(int=0))
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BoundPort:
    record: BindingRecord
    binding: Binding
    learned: tuple[str, ...] = ()
    implicit: bool = False  # an unbound guest port under the host's default filter (not in the store)


@dataclass(frozen=True)
class Learning:
    """A port whose IPv4 address is learned (libvirt's CTRL_IP_LEARNING), as the agent needs to know it.

    ``interim``: no address yet, the port has the interim rules. ``snoop``: the agent watches the port's
    traffic (any: until the first address; dhcp: always, every lease counts and expiry removes it).
    """

    portdev: str
    mac: MacAddress
    mode: LearningMode
    servers: tuple[str, ...]
    learned: tuple[str, ...]
    interim: bool

    @property
    def snoop(self) -> bool:
        return self.mode is LearningMode.DHCP or not self.learned


@dataclass
class Desired:
    compiled: Compiled
    programs: dict[str, PortProgram] = field(default_factory=dict)
    failures: dict[str, GuestwallError] = field(default_factory=dict)
    learning: dict[str, Learning] = field(default_factory=dict)
    implicit: tuple[str, ...] = ()  # unbound guest ports given the default filter


def load_ports(reader: Reader) -> list[BoundPort]:
    """Every binding in the store, parsed, with its learned addresses."""
    learned: dict[str, list[str]] = {}
    for addr in reader.learned_addresses():
        learned.setdefault(addr.portdev, []).append(str(addr.ip))
    return [BoundPort(rec, rec.binding, tuple(learned.get(rec.portdev, ()))) for rec in reader.bindings()]


def build_desired(
    filters: Mapping[str, Filter],
    ports: Sequence[BoundPort],
    options: Options = Options(),
    strict: bool = True,
    address_sets: Mapping[str, AddressSet] | None = None,
) -> Desired:
    """Instantiate and compile every port. With ``strict`` a bound port that cannot be instantiated is an
    error naming its binding; otherwise it is reported in ``failures`` and dropped (fail closed, as libvirt's
    applyDropAllRules). A port whose only missing variable is IP gets its interim learning rules."""
    programs: dict[str, PortProgram] = {}
    failures: dict[str, GuestwallError] = {}
    learning: dict[str, Learning] = {}
    inputs: list[PortInput] = []
    planner = Planner(filters)  # plans each group's structure once
    for port in ports:
        dev = port.record.portdev
        problem = ifname_problem(dev)
        if problem is not None:  # stored before names were checked: never let it stop the other ports
            failures[dev] = InstantiationError(f"port {dev!r} cannot be matched: its name is {problem}")
            _warn_once(f"binding {dev!r} not enforced: {failures[dev]}")
            continue
        try:
            program, learns = _program(planner, port)
        except InstantiationError as e:
            if strict and not port.implicit:
                raise InstantiationError(f"binding {dev}: {e}") from e
            failures[dev] = e
            program, learns = drop_all_program(dev, port.binding.mac, port.binding.filterref.filter), None
        else:
            programs[dev] = program
        if learns is not None:
            learning[dev] = learns
        inputs.append(PortInput(program, port.record.port_id))
    compiled = compile_ruleset(inputs, options, address_sets)
    implicit = tuple(p.record.portdev for p in ports if p.implicit)
    return Desired(compiled, programs, failures, learning, implicit)


def _program(planner: Planner, port: BoundPort) -> tuple[PortProgram, Learning | None]:
    binding = port.binding
    params = binding.filterref.param_dict()
    try:
        program = planner.instantiate(binding, () if port.implicit else port.learned)
    except MissingVariables as e:
        if e.missing != ["IP"]:
            raise
        mode = learning_mode(binding)
        if mode is LearningMode.NONE:
            raise
        # an implicit port has no binding to keep learned addresses with: it keeps the interim rules
        learning = None if port.implicit else _learning(binding, mode, (), interim=True)
        return interim_program(binding, mode), learning
    if port.learned and "IP" not in params and not port.implicit:
        return program, _learning(binding, learning_mode(binding), port.learned, interim=False)
    return program, None


def _learning(binding: Binding, mode: LearningMode, learned: tuple[str, ...], interim: bool) -> Learning:
    servers = tuple(str(s) for s in dhcp_servers(binding))
    return Learning(binding.portdev, binding.mac, mode, servers, learned, interim)


def enforced_program(reader: Reader, record: BindingRecord, filters: Mapping[str, Filter]) -> PortProgram:
    """The program a bound port is enforced with: its filter's, or its interim rules while its IP address
    is learned. Raises InstantiationError when it has neither (the kernel then drops its traffic)."""
    return port_program(bound_port(reader, record), filters)


def port_program(port: BoundPort, filters: Mapping[str, Filter]) -> PortProgram:
    """``enforced_program`` of a port already loaded (see ``bound_port``)."""
    from guestwall.engine import memo

    return _program(memo.planner(filters, port.binding.filterref.filter), port)[0]


def load_definitions(reader: Reader, tops: Iterable[str]) -> dict[str, Filter]:
    """The stored definitions the filters ``tops`` reach, parsed (one query; a command in a fresh process
    does not parse the thirty-odd builtins its bindings never use). Missing ones are left out."""
    records = {record.name: record for record in reader.filters()}
    out: dict[str, Filter] = {}
    pending = list(tops)
    while pending:
        name = pending.pop()
        if name in out or name not in records:
            continue
        out[name] = records[name].definition
        pending.extend(ref.filter for ref in out[name].refs)
    return out


def load_address_sets(reader: Reader) -> dict[str, AddressSet]:
    """The named address sets that ``ipset`` attributes refer to (security-group members, provider blocks)."""
    return {aset.name: aset for aset in reader.address_sets()}


def implicit_ports(config: HostConfig, bound: Iterable[BoundPort], links: Iterable[Link]) -> list[BoundPort]:
    """Unbound guest ports (their names match the guest patterns) under the host's default filter, as
    in-memory bindings with the guest's MAC. Their port ids are stable hashes in the upper id range."""
    if not config.default_filtered or config.default_filter is None:
        return []
    taken = {p.record.port_id for p in bound}
    bound_names = {p.record.portdev for p in bound}
    params: dict[str, tuple[str, ...]] = {}
    for name, value in config.default_parameters:
        params[name] = (*params.get(name, ()), value)
    out = []
    for link in sorted(links, key=lambda link: link.name):
        if link.name in bound_names or not config.is_guest_port(link.name) or not link.mac:
            continue
        problem = ifname_problem(link.name)
        if problem is not None:
            # anyone who can name a tap could otherwise break every apply: this one stays dropped by the
            # fail-closed rule of its pattern, the others are filtered as usual
            _warn_once(f"guest port {link.name!r} left under the fail-closed drop: its name is {problem}")
            continue
        link_mac = MacAddress.parse(link.mac)
        if link_mac is None:
            _warn_once(f"guest port {link.name!r} left under the fail-closed drop: {link.mac!r} is not a MAC")
            continue
        mac = config.guest_mac_of(link_mac)
        port_params = {"MAC": (str(mac),), **params}
        binding = Binding(
            IMPLICIT_OWNER, link.name, mac, FilterRef(config.default_filter, make_params(port_params))
        )
        port_id = _implicit_port_id(link.name, taken)
        taken.add(port_id)
        record = BindingRecord(link.name, port_id, config.default_filter, "", datetime.fromtimestamp(0, UTC))
        out.append(BoundPort(record, binding, (), implicit=True))
    return out


_warned: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _warned:
        if len(_warned) > 10_000:
            _warned.clear()
        _warned.add(message)
        log.warning("%s", message)


def _implicit_port_id(name: str, taken: set[int]) -> int:
    low, high = IMPLICIT_PORT_IDS
    span = high - low + 1
    start = int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big") % span
    for step in range(span):
        candidate = low + (start + step) % span
        if candidate not in taken:
            return candidate
    raise InstantiationError("no free port id for an unbound guest port")


def bound_port(reader: Reader, record: BindingRecord) -> BoundPort:
    """One stored binding as enforcement sees it: parsed, with its learned addresses (take it before the
    binding is deleted, to remove what it had in the kernel)."""
    learned = tuple(str(a.ip) for a in reader.learned_addresses(record.portdev))
    return BoundPort(record, record.binding, learned)


def desired_state(
    reader: Reader,
    settings: HostConfig,
    links: Iterable[Link] = (),
    *,
    filters: Mapping[str, Filter] | None = None,
    strict: bool = True,
) -> Desired:
    """What the kernel should hold according to the store (as ``reader`` sees it) and the host settings;
    ``links`` are the namespace's interfaces (they matter only when unbound guest ports are filtered)."""
    ports = load_ports(reader)
    if settings.default_filtered:
        ports += implicit_ports(settings, ports, links)
    if filters is None:
        filters = load_definitions(reader, {p.binding.filterref.filter for p in ports})
    return build_desired(filters, ports, settings.options(), strict, address_sets=load_address_sets(reader))
