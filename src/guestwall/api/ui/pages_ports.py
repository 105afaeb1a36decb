"""Ports: the list (filter, groups, addresses, enforcement, device present) and one port's page with its
rule program and a simulate form (a GET: simulating changes nothing)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from fastapi import APIRouter
from starlette.responses import Response

from guestwall.api.ui import queries
from guestwall.api.ui import session as s
from guestwall.api.ui.program import program_lines
from guestwall.api.ui.web import Call, add_page, render
from guestwall.errors import GuestwallError
from guestwall.instantiate.program import IPSetRef, PortProgram, ProgramRule
from guestwall.model import AddressSet
from guestwall.model.cloud import Port
from guestwall.simulate import Packet, SimulationResult
from guestwall.store.records import Reader

DIRECTIONS = (("out", "out: sent by the guest"), ("in", "in: delivered to the guest"))


def page_of(call: Call) -> queries.Page:
    number = call.query.get("page", "1")
    return queries.Page(
        int(number) if number.isdigit() and int(number) > 0 else 1, call.query.get("q", "")[:100]
    )


def present_devices(netns: str | None) -> set[str] | None:
    """Interface names in the enforcing namespace, or None when they cannot be read."""
    from guestwall.dataplane.links import list_links

    try:
        return set(list_links(netns))
    except (GuestwallError, OSError):
        return None


def ports(call: Call) -> Response:
    from guestwall.api.ui.sources import port_traffic

    page = queries.ports_page(call.deps.store, call.viewer.scope, page_of(call))
    traffic = port_traffic(call.deps.netns, [row.port.device for row in page.rows])
    return render(
        call,
        call.request,
        "ports.html",
        slice=page,
        present=present_devices(call.deps.netns),
        traffic=traffic,
    )


def _visible_port(call: Call, device: str) -> Port | None:
    port = queries.port_by_device(call.deps.store, device)
    if port is not None and not call.viewer.sees(port.project):
        return None
    return port


def port(call: Call) -> Response:
    from guestwall.engine.desired import enforced_program
    from guestwall.services.filters import load_filter_tree

    device = call.arg("device")
    found = _visible_port(call, device)
    store = call.deps.store
    with store.read() as reader:
        record = reader.binding(device)
        # a binding without a cloud port (nwfilter-binding-create) is the admin's alone
        if found is None and (record is None or not call.viewer.is_admin):
            raise s.not_found(f"port '{device}'")
        program = problem = None
        if record is not None:
            try:
                # only the filters its tree reaches: a page does not read every group's filter
                program = enforced_program(reader, record, load_filter_tree(reader, record.filter))
            except GuestwallError as e:
                problem = f"the port's rules cannot be built, so the kernel drops its traffic: {e}"
        direction = call.query.get("direction", "out")
        packet_text = call.query.get("packet", "")
        outcome: Simulated | None = None
        errors: list[str] = []
        if "packet" in call.query:
            outcome, errors = _simulated(reader, program, direction, packet_text, call.viewer.is_admin)
    from guestwall.api.ui.sources import port_traffic, rule_traffic

    names = queries.group_names(store, found.security_groups) if found is not None else {}
    present = present_devices(call.deps.netns)
    traffic = port_traffic(call.deps.netns, [device])
    deps = call.deps
    counting = deps.rule_counters and deps.backend is not None and program is not None
    counted = rule_traffic(deps.backend) if counting else {}
    return render(
        call,
        call.request,
        "port.html",
        device=device,
        port=found,
        groups=[(g, names.get(g, g)) for g in (found.security_groups if found else ())],
        binding=record,
        present=None if present is None else device in present,
        lines=program_lines(program) if program is not None else [],
        traffic=None if traffic is None else traffic.get(device),
        counted=counted,
        counting=counting,
        problem=problem,
        directions=DIRECTIONS,
        direction=direction,
        packet=packet_text or _example_packet(found),
        outcome=outcome,
        errors=errors,
    )


@dataclass(frozen=True)
class Simulated:
    """simulate's outcome, the cloud object behind the deciding rule (if the cloud layer made it), and
    which rule decided in each stage the packet passed (layer 2, then layer 3 for a guest's packet; the
    reverse towards it), up to the one that dropped it."""

    outcome: SimulationResult
    cloud: str | None
    stages: tuple[tuple[str, str], ...]  # (stage, explanation)


def _simulated(
    reader: Reader, program: PortProgram | None, direction: str, text: str, admin: bool
) -> tuple[Simulated | None, list[str]]:
    from guestwall.simulate import parse_packet, simulate
    from guestwall.simulate.evaluate import STAGES

    if direction not in dict(DIRECTIONS):
        return None, [f"direction must be out or in, not '{direction}'"]
    if program is None:
        return None, ["this port has no rule program to simulate (no binding)"]
    try:
        packet = parse_packet(text)
    except GuestwallError as e:
        return None, [f"packet: {e}"]
    sets = _address_sets(reader, program)
    outcome = simulate(program, direction, packet, sets)
    stages = []
    for stage in STAGES[direction]:
        if stage not in program.stages:
            continue
        alone = simulate(replace(program, stages={stage: program.stages[stage]}), direction, packet, sets)
        if alone.stage is not None or alone.verdict == "drop":
            stages.append((stage.value, alone.explain()))
        if alone.verdict == "drop":
            break  # the packet goes no further
    return Simulated(outcome, _cloud_object(reader, outcome, packet, admin), tuple(stages)), []


def _address_sets(reader: Reader, program: PortProgram) -> dict[str, AddressSet]:
    """The address sets the program looks up (group members, provider blocks), as the store has them."""
    from guestwall.store.addresssets import parse_address_set
    from guestwall.store.cloudrepo import cloud_reader

    names = {
        operand.name
        for chains in program.stages.values()
        for chain in chains
        for entry in chain.entries
        if isinstance(entry, ProgramRule)
        for operand in (*(c.operand for c in entry.checks), *(v for row in entry.rows for v in row))
        if isinstance(operand, IPSetRef)
    }
    texts = cloud_reader(reader).address_set_texts(names) if names else {}
    return {name: parse_address_set(name, text) for name, text in texts.items()}


def _cloud_object(reader: Reader, outcome: SimulationResult, packet: Packet, admin: bool) -> str | None:
    """The group rule or provider block that decided (cloud.explain); provider blocks are named to admins
    only, as only they may read them."""
    from guestwall.cloud.explain import describe
    from guestwall.cloud.translate import GROUP_PREFIX, PROVIDER
    from guestwall.store.cloudrepo import cloud_reader

    rule = outcome.decided_by
    if rule is None or not rule.origin.filter.startswith((GROUP_PREFIX, PROVIDER)):
        return None
    if rule.origin.filter == PROVIDER and not admin:
        return "a provider block (blocked for every guest by the administrators)"
    return describe(cloud_reader(reader), outcome, packet)


def _example_packet(port: Port | None) -> str:
    if port is None:
        return "tcp dport=22"
    v4 = [a for a in port.fixed_ips if a.version == 4]
    source = f" src={v4[0]}" if v4 else ""
    return f"smac={port.mac}{source} dst=192.0.2.1 tcp dport=443"


def register(router: APIRouter) -> None:
    add_page(router, "GET", "/ports", ports)
    add_page(router, "GET", "/ports/{device}", port)
