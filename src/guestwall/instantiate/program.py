"""The rule program: what one port's filter means, as ordered chains of typed checks. Backend-neutral.

Instantiation produces one PortProgram per binding; the nftables compiler and the simulator both consume
it. A check either has a constant operand or is a *hole*: its operands differ per combination of the
variables' values, listed in the rule's ``rows`` (the expansion libvirt would emit as consecutive rules).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address

from guestwall.instantiate.fields import Field, Shape
from guestwall.model.mac import MacAddress

Addr = MacAddress | IPv4Address | IPv6Address | str | int  # str: a name (ct direction); int: numbers


@dataclass(frozen=True, order=True)
class Value:
    """An exact value: a number, MAC address, IP address, bool or a name (ct direction)."""

    value: Addr | bool


@dataclass(frozen=True)
class Prefix:
    """An address under a mask of ``length`` leading bits (IPv4/IPv6 or MAC)."""

    addr: Addr
    length: int


@dataclass(frozen=True)
class Range:
    lo: Addr
    hi: Addr


@dataclass(frozen=True)
class Flags:
    """tcp flags: (packet flags & mask) == set."""

    mask: int
    set: int


@dataclass(frozen=True)
class States:
    """Conntrack states, lowercase nft names (new, established, related, invalid)."""

    names: tuple[str, ...]


@dataclass(frozen=True)
class IPSetRef:
    """Membership of (src|dst, ...) fields in a kernel ipset, by flags in order."""

    name: str
    flags: tuple[str, ...]


Operand = Value | Prefix | Range | Flags | States | IPSetRef


@dataclass(frozen=True)
class HoleShape:
    """How a hole's per-port values are formed: one exact value (``$IP``), an address under a mask
    (``$IP/24``), a range (``$LO-$HI``) or an ipset with flags. ``parts`` are the attributes as written:
    variable references (with the values of tree constants mixed in) and constants. Holes of the same field
    type and shape draw from the same per-port values (one kernel set)."""

    shape: Shape
    parts: tuple[str, ...]

    @property
    def is_interval(self) -> bool:
        """Whether the values are prefixes or ranges (an address with a mask, a start with an end)."""
        return self.shape in (Shape.MASKED, Shape.RANGE)

    @property
    def key(self) -> str:
        """A text naming the shape, e.g. ``masked2:$IP/$MASK``: kernel set names derive from it, so it
        must stay as it is for existing rulesets to keep their sets."""
        sep = "/" if self.shape is Shape.MASKED else "-"
        return f"{self.shape.value}{len(self.parts)}:{sep.join(self.parts)}"


def hole_shape(shape: Shape, parts: tuple[str, ...]) -> HoleShape:
    """The shape of a hole; one part alone is an exact value, whatever attribute it came from."""
    return HoleShape(Shape.VALUE if len(parts) == 1 else shape, parts)


@dataclass(frozen=True)
class Check:
    """One test of a packet field. ``operand`` None makes it a hole filled from the rule's rows; ``hole``
    then says how the values are formed."""

    field: Field
    operand: Operand | None
    negated: bool = False
    hole: HoleShape | None = None

    @property
    def is_hole(self) -> bool:
        return self.operand is None

    def __hash__(self) -> int:
        # checks are keys of the compiler's memos on every change: hashed once, not field by field each time
        cached: int | None = self.__dict__.get("_hash")
        if cached is None:
            cached = hash((self.field, self.operand, self.negated, self.hole))
            object.__setattr__(self, "_hash", cached)
        return cached


class ProgramVerdict(enum.StrEnum):
    ACCEPT = "accept"
    DROP = "drop"
    REJECT = "reject"
    RETURN = "return"
    CONTINUE = "continue"


# The binding parameter that switches the drop log on for a port (a guestwall extension; libvirt ignores a
# parameter no rule uses): "drop" logs drops and rejects, "all" accepts too (new connections, for L3).
LOG_PARAMETER = "GUESTWALL_LOG"
LOG_MODES = ("drop", "all")


@dataclass(frozen=True)
class Origin:
    """Where a program rule comes from, for explanations: filter name, rule number (1-based), priority."""

    filter: str
    rule: int
    priority: int
    chain: str = "root"

    def __str__(self) -> str:
        return f"filter {self.filter} rule {self.rule} (priority {self.priority}, chain {self.chain})"


@dataclass(frozen=True)
class ProgramRule:
    origin: Origin
    verdict: ProgramVerdict
    checks: tuple[Check, ...]
    rows: tuple[tuple[Operand, ...], ...] = ()
    comment: str | None = None

    @property
    def holes(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.is_hole)

    def shape(self) -> ProgramRule:
        """The rule without its per-port values: equal shapes can share one kernel rule."""
        return ProgramRule(self.origin, self.verdict, self.checks, (), self.comment)


@dataclass(frozen=True)
class Jump:
    """Enter a sub-chain (libvirt's ebtables sub-chains) when the checks hold."""

    chain: str
    checks: tuple[Check, ...]
    priority: int


ChainEntry = ProgramRule | Jump


class Fallthrough(enum.StrEnum):
    """What happens at the end of a chain: back to the caller, or accept the frame."""

    RETURN = "return"
    ACCEPT = "accept"


@dataclass(frozen=True)
class ChainProgram:
    name: str
    entries: tuple[ChainEntry, ...] = ()
    fallthrough: Fallthrough = Fallthrough.RETURN


class Stage(enum.StrEnum):
    """The four places a port's rules run, in packet order for each direction."""

    L2_OUT = "l2-out"  # bridge prerouting, frames sent by the guest (ebtables libvirt-I)
    L3_OUT = "l3-out"  # inet prerouting via br_netfilter, packets sent by the guest (iptables FI/HI)
    L3_IN = "l3-in"  # inet forward via br_netfilter, packets delivered to the guest (iptables FO)
    L2_IN = "l2-in"  # bridge postrouting, frames delivered to the guest (ebtables libvirt-O)


@dataclass(frozen=True)
class PortProgram:
    """Everything the kernel needs for one port. ``stages[s]`` holds the root chain first, then sub-chains.

    Every stage has a root chain, empty if the filter has no rules there: dispatch then never changes when
    a filter edit adds the first rule of a stage, so such an edit stays a change of shared chains only."""

    portdev: str
    mac: MacAddress
    filter: str
    group: str  # ports of one group have programs of identical structure (they can share chains)
    stages: dict[Stage, tuple[ChainProgram, ...]] = field(default_factory=dict)
    log: str = ""  # which verdicts the kernel logs for this port: "" (none), "drop" or "all" (LOG_PARAMETER)

    def chains(self, stage: Stage) -> tuple[ChainProgram, ...]:
        return self.stages.get(stage, ())

    def chain(self, stage: Stage, name: str) -> ChainProgram | None:
        for c in self.chains(stage):
            if c.name == name:
                return c
        return None
