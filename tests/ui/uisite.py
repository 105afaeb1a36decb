"""The dashboard's site for tests: the API app (dashboard included) on a store, with real tokens for the
tenants every test meets. Shared by conftest.py and the test modules that build a site of their own."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI

from guestwall.cloud.facade import Cloud
from guestwall.dataplane.backend import Backend
from guestwall.services.tokens import Role
from guestwall.store import Store

# label -> (project, role): the tenants every test meets; tokens are made for them in each store
TOKENS: dict[str, tuple[str, Role]] = {
    "tok-admin": ("admin", Role.ADMIN),
    "tok-acme": ("acme", Role.MEMBER),
    "tok-acme-reader": ("acme", Role.READER),
    "tok-other": ("other", Role.MEMBER),
}


@dataclass
class Site:
    """The API app (dashboard included) on a store, enforcing through ``backend``; ``tokens`` maps the
    labels above to real token secrets of this store."""

    app: FastAPI
    store: Store
    backend: Backend
    netns: str | None
    tokens: dict[str, str]
    extras: dict[str, Any] = field(default_factory=dict)

    def cloud(self) -> Cloud:
        from guestwall.cloud.conntrack import ConntrackTool

        return Cloud(self.store, self.backend, ConntrackTool(self.netns) if self.netns else None)


def make_site(store: Store, backend: Backend, netns: str | None) -> Site:
    from guestwall.api.app import ApiState, Settings, create_app
    from guestwall.services.tokens import create_token

    settings = Settings(store.url, netns)
    state = ApiState(settings, store, backend, Cloud(store, backend))
    tokens = {label: create_token(store, project, role).secret for label, (project, role) in TOKENS.items()}
    return Site(create_app(settings, state), store, backend, netns, tokens, state.extra)
