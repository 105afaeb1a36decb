"""``guestwall status``: what the kernel enforces compared with what the store says, told truthfully.

Nothing here assumes the kernel holds what was last applied: the desired state is built from the store and
the host settings, the kernel is read back and diffed (the same diff ``apply`` runs), and a port counts as
enforced only when none of the missing changes concerns it. Also reported: whether an agent keeps this
namespace in step (its pid, last repair), whether each port's device exists, the unbound guest ports that
are dropped or default-filtered, and what cloud objects need that the store lacks. ``problems`` is empty
exactly when everything the store claims is enforced.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from guestwall.agent.statefile import AgentInfo
from guestwall.compile import names
from guestwall.config import HostConfig
from guestwall.engine.desired import Desired
from guestwall.nft.commands import Chain, Elements, Table, Transaction, Verb
from guestwall.services.ownership import cloud_owned_binding
from guestwall.store.records import BindingRecord, LearnedAddress

SHOWN_COMMANDS = 5  # drift commands quoted in the report


@dataclass(frozen=True)
class PortStatus:
    portdev: str
    filter: str  # "" for an unbound guest port that is dropped
    owner: str  # "cloud" (a cloud port), "user" (a binding), "host" (an unbound guest port)
    enforcement: str
    device: bool  # the interface exists in the namespace
    in_kernel: bool  # the kernel holds what the store says for it
    learned: tuple[str, ...] = ()
    learned_detail: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class Report:
    in_sync: bool
    drift: tuple[str, ...]  # the first commands that would bring the kernel back, and how many in all
    missing: tuple[str, ...]  # what cloud objects need and the store lacks
    failures: tuple[str, ...]  # bound ports that cannot be instantiated (dropped)
    agent: AgentInfo
    settings: str  # where the host settings come from
    ports: tuple[PortStatus, ...] = field(default_factory=tuple)

    @property
    def problems(self) -> list[str]:
        out = []
        if self.drift:
            out.append("the kernel differs from the store (guestwall apply repairs it)")
        out += [f"missing in the store: {gap} (guestwall apply restores it)" for gap in self.missing]
        out += [f"not enforced, all its traffic dropped: {failure}" for failure in self.failures]
        return out

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["problems"] = self.problems
        return data


def _mode(dev: str, desired: Desired) -> str:
    learning = desired.learning.get(dev)
    if dev in desired.failures:
        return f"not enforced (all dropped): {desired.failures[dev]}"
    if learning is not None and learning.interim:
        return f"learning IP address ({learning.mode.value}): interim rules"
    if dev in desired.compiled.fallbacks:
        return "per-port fallback: " + "; ".join(desired.compiled.fallbacks[dev])
    return "shared"


def _concerns(tx: Transaction, portdev: str, port_id: int | None) -> bool:
    """Whether a kernel change that is missing touches this port: the whole table or a base chain (every
    port), or an element keyed by its name or mark."""
    keys: set[object] = {portdev} | ({names.port_mark(port_id)} if port_id is not None else set())
    for cmd in tx.commands:
        obj = cmd.obj
        if cmd.verb is Verb.ADD and (
            isinstance(obj, Table) or (isinstance(obj, Chain) and obj.base is not None)
        ):
            return True
        if isinstance(obj, Elements) and any(key and key[0] in keys for key, _ in obj.items):
            return True
    return False


def build_report(
    *,
    records: Sequence[BindingRecord],
    learned: Iterable[LearnedAddress],
    desired: Desired,
    drift: Transaction,
    links: Iterable[str],
    config: HostConfig,
    agent: AgentInfo,
    missing: Sequence[str],
    settings: str,
) -> Report:
    """Put together what was read (pure: the CLI reads the store, the kernel and the links)."""
    present = set(links)
    by_port: dict[str, list[LearnedAddress]] = {}
    for address in learned:
        by_port.setdefault(address.portdev, []).append(address)
    ports: list[PortStatus] = []
    for record in records:
        dev = record.portdev
        details = tuple(_learned_json(a) for a in by_port.get(dev, []))
        ports.append(
            PortStatus(
                dev,
                record.filter,
                "cloud" if cloud_owned_binding(record) else "user",
                _mode(dev, desired),
                dev in present,
                not _concerns(drift, dev, record.port_id),
                tuple(d["ip"] for d in details),
                details,
            )
        )
    bound = {r.portdev for r in records}
    implicit = set(desired.implicit)
    for dev in sorted(present - bound):
        if dev in implicit:
            mode, filter_name = (
                f"unbound guest port: default filter {config.default_filter}",
                str(config.default_filter),
            )
        elif config.is_guest_port(dev):
            mode, filter_name = "unbound guest port: all traffic dropped (fail closed)", ""
        else:
            continue
        ports.append(PortStatus(dev, filter_name, "host", mode, True, not _concerns(drift, dev, None)))
    ports.sort(key=lambda p: (p.portdev.lower(), p.portdev))
    shown = tuple(drift.text().splitlines()[:SHOWN_COMMANDS])
    if len(drift.commands) > SHOWN_COMMANDS:
        shown += (f"... {len(drift.commands)} commands in all (guestwall apply --dry-run lists them)",)
    failures = tuple(f"{dev}: {error}" for dev, error in sorted(desired.failures.items()) if dev in bound)
    return Report(not drift, shown, tuple(missing), failures, agent, settings, tuple(ports))


def _learned_json(a: LearnedAddress) -> dict[str, Any]:
    return {
        "ip": str(a.ip),
        "source": a.source,
        "learned_at": a.learned_at.isoformat(),
        "expires_at": a.expires_at.isoformat() if a.expires_at else None,
    }


def agent_text(agent: AgentInfo) -> str:
    if not agent.running:
        return "not running: nothing repairs drift until the next guestwall apply"
    text = f"running (pid {agent.pid})"
    if agent.last_repair:
        text += f", last repair {agent.last_repair}"
    else:
        text += ", no repair needed since it started"
    if agent.last_error:
        text += f"; last error {agent.last_error}"
    return text


def port_row(port: PortStatus) -> Mapping[str, object]:
    return {
        "portdev": port.portdev,
        "filter": port.filter or "-",
        "owner": port.owner,
        "device": "present" if port.device else "absent",
        "kernel": "in sync" if port.in_kernel else "DRIFT",
        "enforcement": port.enforcement,
        "learned": list(port.learned),
    }
