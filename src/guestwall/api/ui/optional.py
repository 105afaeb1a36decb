"""What the dashboard shows only when the installation has it: per-host status and the drop log.

Both come from other features (the agents' host status, the agents' per-rule log), read by
guestwall.api.ui.sources when installed; an application may plug its own source into ``ApiState.extra``
under ``HOSTS`` or ``DROP_LOG`` (it wins). Without either, the pages say clearly that it is not available
rather than showing an empty table that would look like "nothing wrong".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from guestwall.api.ui.deps import UiDeps

HOSTS = "hosts"
DROP_LOG = "drop_log"


@dataclass(frozen=True)
class HostView:
    name: str
    applied: str  # applied revision
    lag: str  # revisions (or time) behind the store
    healthy: bool
    error: str = ""
    last_repair: str = ""
    heartbeat: str = ""


@dataclass(frozen=True)
class DropRecord:
    seq: int  # increasing: the live view asks for records after the last one it has
    time: str
    host: str
    port: str
    project: str
    direction: str
    verdict: str
    rule: str
    source: str
    destination: str
    protocol: str


@dataclass(frozen=True)
class LogQuery:
    port: str = ""
    rule: str = ""
    after: int = 0  # only records with a larger ``seq``
    limit: int = 200


HostsSource = Callable[[], Sequence[HostView]]
DropLogSource = Callable[[LogQuery], Sequence[DropRecord]]


def hosts(deps: UiDeps) -> list[HostView] | None:
    """Every host's status, or None when this installation keeps none."""
    source: HostsSource | None = deps.extras.get(HOSTS) or deps.hosts
    return None if source is None else list(source())


def drop_log_available(deps: UiDeps) -> bool:
    return (deps.extras.get(DROP_LOG) or deps.drop_log) is not None


def drop_log(deps: UiDeps, query: LogQuery, project: str | None) -> list[DropRecord] | None:
    """Records matching ``query`` (of ``project``'s ports when not None), or None without a log."""
    source: DropLogSource | None = deps.extras.get(DROP_LOG) or deps.drop_log
    if source is None:
        return None
    return [r for r in source(query) if project is None or r.project == project]
