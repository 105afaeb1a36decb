"""Form fields into the cloud layer's inputs, with the validators (and so the messages) the API and the
CLI use (guestwall.cloud.validate). Each function raises CloudInputError naming the field and the value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from guestwall.cloud import validate as v
from guestwall.cloud.rules import RuleSpec
from guestwall.model.cloud import Ethertype, Network

MAX_TEXT = 255  # names and descriptions


def text(form: Mapping[str, str], name: str, what: str, required: bool = False) -> str:
    value = form.get(name, "").strip()
    if required and not value:
        raise v.CloudInputError(f"{what} is required")
    if len(value) > MAX_TEXT:
        raise v.CloudInputError(f"{what} is too long ({len(value)} characters, at most {MAX_TEXT})")
    return value


def checked(form: Mapping[str, str], name: str) -> bool:
    """A checkbox: sent (with any value) when ticked, absent otherwise."""
    return name in form


def optional(form: Mapping[str, str], name: str) -> str | None:
    value = form.get(name, "").strip()
    return value or None


def rule_spec(form: Mapping[str, str]) -> RuleSpec:
    """A rule from the group page's form; the remote group is an id of the same project (checked by the
    use case, which also refuses duplicates)."""
    remote_ip = optional(form, "remote_ip")
    cidr = v.network(remote_ip, "remote IP prefix") if remote_ip is not None else None
    ether_text = optional(form, "ethertype")
    ether = (
        v.ethertype(ether_text)
        if ether_text
        else (Ethertype.IPV6 if cidr is not None and cidr.version == 6 else Ethertype.IPV4)
    )
    ports = optional(form, "port_range")
    return RuleSpec(
        direction=v.direction(form.get("direction", "ingress")),
        ethertype=ether,
        protocol=v.protocol(optional(form, "protocol"), ether),
        ports=v.port_range(ports) if ports is not None else None,
        icmp_type=v.icmp_value(optional(form, "icmp_type"), "type"),
        icmp_code=v.icmp_value(optional(form, "icmp_code"), "code"),
        remote_cidr=cidr,
        remote_group=optional(form, "remote_group"),
        description=text(form, "description", "description"),
        log=checked(form, "log"),
    )


@dataclass(frozen=True)
class BlockSpec:
    cidr: Network
    protocol: str | None
    ports: tuple[int, int] | None
    description: str
    log: bool = False  # the drop log records what the block drops
    force: bool = False  # blocking every address (0.0.0.0/0, ::/0) must be asked for


def block_spec(form: Mapping[str, str]) -> BlockSpec:
    """A provider block from its form (the use case refuses what a block cannot be)."""
    cidr = v.network(text(form, "cidr", "CIDR", required=True))
    proto = optional(form, "protocol")
    proto = None if proto is None or proto.lower() in ("any", "all") else proto.lower()
    ports = optional(form, "port_range")
    return BlockSpec(
        cidr,
        proto,
        v.port_range(ports) if ports else None,
        text(form, "description", "description"),
        checked(form, "log"),
        checked(form, "force"),
    )
