"""The application factory: settings -> a FastAPI app with the store, the use cases, the routers, Neutron's
error shape and a body size limit. ``guestwall api`` (cli/api.py) serves it with uvicorn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI

from guestwall.api import errors
from guestwall.api.middleware import BodyLimit, JsonBodies
from guestwall.api.waiting import install_wait
from guestwall.cloud.facade import Cloud
from guestwall.dataplane.backend import Backend
from guestwall.store.records import Store

MAX_BODY_BYTES = 1 << 20


@dataclass(frozen=True)
class Settings:
    """``netns``: the network namespace changes are enforced in (None: the server's own)."""

    db_url: str
    netns: str | None = None
    max_body: int = MAX_BODY_BYTES


@dataclass
class ApiState:
    """What every request uses: the store and the cloud layer's use cases on it (enforcing in ``netns``)."""

    settings: Settings
    store: Store
    backend: Backend
    cloud: Cloud
    extra: dict[str, Any] = field(default_factory=dict)


def open_state(settings: Settings) -> ApiState:
    from guestwall.cloud.conntrack import ConntrackTool
    from guestwall.dataplane.backend import open_backend
    from guestwall.store import open_store

    store = open_store(settings.db_url)
    backend = open_backend(settings.netns)
    return ApiState(settings, store, backend, Cloud(store, backend, ConntrackTool(settings.netns)))


def create_app(settings: Settings, state: ApiState | None = None) -> FastAPI:
    from guestwall.api.routers import address_groups, meta, native, ports, rbac, rules, security_groups
    from guestwall.api.ui import ui_router

    app = FastAPI(
        title="guestwall",
        version="2.0",
        description="OpenStack Networking v2.0 security groups, rules, ports and address groups on "
        "guestwall, and guestwall's own provider blocks, filters, bindings and hosts (admin).",
        responses=errors.ERROR_RESPONSES,
    )
    app.state.api = state or open_state(settings)
    errors.install(app)
    for module in (meta, security_groups, rules, ports, address_groups, rbac, native):
        app.include_router(module.router)
    app.include_router(ui_router())  # the web dashboard under /ui (guestwall.api.ui)
    _document(app)
    app.add_middleware(JsonBodies)
    app.add_middleware(BodyLimit, limit=settings.max_body)
    install_wait(app)
    return app


def _document(app: FastAPI) -> None:
    """The OpenAPI document as the API behaves: validation errors answer 400 in Neutron's shape (never
    FastAPI's 422), and every operation but the version document needs ``X-Auth-Token``."""
    from fastapi.openapi.utils import get_openapi

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            for path in doc.get("paths", {}).values():
                for operation in path.values():
                    operation.get("responses", {}).pop("422", None)
            for name in ("HTTPValidationError", "ValidationError"):
                doc.get("components", {}).get("schemas", {}).pop(name, None)
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]
