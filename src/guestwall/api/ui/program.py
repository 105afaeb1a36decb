"""A port's rule program (instantiate.program) as lines a person reads: stage, chain, verdict, origin, checks.

The program is what the compiler turns into kernel rules and what ``simulate`` evaluates, so the port page
shows exactly what decides its packets. Per-port values (holes) are shown by their template and count.
"""

from __future__ import annotations

from dataclasses import dataclass

from guestwall.instantiate.program import (
    Check,
    Flags,
    IPSetRef,
    Jump,
    Operand,
    PortProgram,
    Prefix,
    ProgramRule,
    Range,
    States,
    Value,
)


@dataclass(frozen=True)
class Line:
    stage: str
    chain: str
    position: int  # 1-based within its chain
    action: str  # the verdict, or "jump CHAIN"
    origin: str  # filter and rule number it comes from
    checks: str
    key: str = ""  # "filter#rule", as the kernel rule's comment names it (for its counter); "" for jumps


def operand_text(operand: Operand) -> str:
    match operand:
        case Value(value=v):
            return str(v).lower() if isinstance(v, bool) else str(v)
        case Prefix(addr=a, length=n):
            return f"{a}/{n}"
        case Range(lo=lo, hi=hi):
            return f"{lo}-{hi}"
        case Flags(mask=mask, set=bits):
            return f"flags {bits:#x}/{mask:#x}"
        case States(names=names):
            return ",".join(names)
        case IPSetRef(name=name, flags=flags):
            return f"in set {name} ({','.join(flags)})"
    raise AssertionError(f"unknown operand {operand!r}")


def check_text(check: Check, values: int) -> str:
    negation = "not " if check.negated else ""
    if check.operand is None:
        shown = check.hole.key if check.hole else "$value"
        return f"{check.field} {negation}{shown} ({values} port value(s))"
    return f"{check.field} {negation}{operand_text(check.operand)}"


def program_lines(program: PortProgram) -> list[Line]:
    lines: list[Line] = []
    for stage, chains in program.stages.items():
        for chain in chains:
            for position, entry in enumerate(chain.entries, 1):
                lines.append(_line(stage.value, chain.name, position, entry))
    return lines


def _line(stage: str, chain: str, position: int, entry: ProgramRule | Jump) -> Line:
    if isinstance(entry, Jump):
        checks = "; ".join(check_text(c, 0) for c in entry.checks) or "always"
        return Line(stage, chain, position, f"jump {entry.chain}", f"priority {entry.priority}", checks)
    values = len(entry.rows)
    checks = "; ".join(check_text(c, values) for c in entry.checks) or "always"
    key = f"{entry.origin.filter}#{entry.origin.rule}"
    return Line(stage, chain, position, entry.verdict.value, str(entry.origin), checks, key)
