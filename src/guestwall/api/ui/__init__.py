"""The web dashboard: server-rendered pages under ``/ui``, served by ``guestwall api`` itself.

``ui_router()`` is included by the API's app factory, which also calls ``deps.install`` with the store, the
token check and the enforcing use cases. Templates and assets ship in this package (nothing is fetched from
the internet). Why server-rendered pages, and how sessions, CSRF and tenants work: docs/dashboard.md.
"""

from __future__ import annotations

from fastapi import APIRouter

from guestwall.api.ui import pages_admin, pages_groups, pages_main, pages_networks, pages_ports


def ui_router() -> APIRouter:
    router = APIRouter(prefix="/ui")
    for pages in (pages_main, pages_ports, pages_groups, pages_admin, pages_networks):
        pages.register(router)
    return router


__all__ = ["ui_router"]
