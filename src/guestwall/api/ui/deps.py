"""What the dashboard needs from the API process: its store, how to enforce a change, and who a token is.

They come from the API's own state (``app.state.api``, guestwall.api.app); the pages read them with
``deps_of(request)``. A viewer
is the caller a session's token stands for: a project and a role, with the API's tenant rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from guestwall.services.tokens import Role

if TYPE_CHECKING:
    from guestwall.api.app import ApiState
    from guestwall.api.ui.optional import DropLogSource, HostsSource
    from guestwall.cloud.facade import Cloud
    from guestwall.dataplane.backend import Backend
    from guestwall.engine import Engine
    from guestwall.store.records import Store

STATE_KEY = "guestwall_ui"


@dataclass(frozen=True)
class Viewer:
    """The caller of a page: a member sees and changes its project, a reader only sees it, an admin all."""

    project: str
    role: Role
    token: str = field(repr=False)  # the session's token: CSRF values are derived from it

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def can_write(self) -> bool:
        return self.role is not Role.READER

    def sees(self, project: str) -> bool:
        return self.is_admin or project == self.project

    @property
    def scope(self) -> str | None:
        """The project a listing is limited to (None: every project, for admins)."""
        return None if self.is_admin else self.project


Authenticate = Callable[[str], "Viewer | None"]


@dataclass(frozen=True)
class UiDeps:
    """``cloud()`` gives the use cases enforcing in the API's namespace; ``engine`` enforces filter
    definitions there."""

    store: Store
    authenticate: Authenticate
    cloud: Callable[[], Cloud]
    engine: Engine | None = None
    netns: str | None = None  # the network namespace changes are enforced in (None: the API's own)
    extras: dict[str, Any] = field(default_factory=dict)
    # what the installation has beyond the API (guestwall.api.ui.sources); None: "not available"
    hosts: HostsSource | None = None
    drop_log: DropLogSource | None = None
    backend: Backend | None = None  # the enforcing namespace's nftables, to read rule counters
    rule_counters: bool = False  # whether kernel rules count ([counters] rules in the host configuration)


def deps_of(request: Request) -> UiDeps:
    """The dashboard's needs, made from the API's own state (``app.state.api``) on first use."""
    state = request.app.state
    deps = getattr(state, STATE_KEY, None)
    if deps is None:
        api = getattr(state, "api", None)
        if api is None:
            raise RuntimeError("the dashboard needs the API's state (app.state.api, guestwall.api.app)")
        deps = from_api_state(api)
        setattr(state, STATE_KEY, deps)
    assert isinstance(deps, UiDeps)
    return deps


def from_api_state(api: ApiState) -> UiDeps:
    """UiDeps from the API's state: its store, backend and namespace; tokens checked by the API's token
    store. Each change gets its own ``Cloud`` (its ``last`` outcome is per request)."""
    from guestwall.cloud.conntrack import ConntrackTool
    from guestwall.cloud.facade import Cloud
    from guestwall.engine import Engine
    from guestwall.services.tokens import authenticate as token_info

    store, backend, netns = api.store, api.backend, api.settings.netns

    def authenticate(secret: str) -> Viewer | None:
        info = token_info(store, secret)
        return None if info is None else Viewer(info.project, info.role, secret)

    def cloud() -> Cloud:
        return Cloud(store, backend, ConntrackTool(netns))

    from guestwall.api.ui.sources import drop_log_source, hosts_source

    return UiDeps(
        store,
        authenticate,
        cloud,
        Engine(backend),
        netns,
        api.extra,
        hosts_source(store),
        drop_log_source(store),
        backend,
        _rule_counters(),
    )


def _rule_counters() -> bool:
    from guestwall.config import load_config
    from guestwall.errors import GuestwallError

    try:
        return bool(load_config().rule_counters)
    except GuestwallError:
        return False
