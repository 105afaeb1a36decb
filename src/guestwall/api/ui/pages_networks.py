"""Virtual networks (admins only, read-only): what ``net-list --all`` and ``net-dumpxml`` show. They are the
host's infrastructure (bridges, DHCP, NAT), changed with the ``net-*`` commands, not by projects."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from guestwall.api.ui import session as s
from guestwall.api.ui.web import Call, add_page, render
from guestwall.errors import NotFoundError


def networks(call: Call) -> Response:
    from guestwall.networks import service

    return render(call, call.request, "networks.html", networks=service.records(call.deps.store))


def network(call: Call) -> Response:
    from guestwall.networks import service

    name = call.arg("name")
    try:
        record = service.get(call.deps.store, name)
    except NotFoundError:
        raise s.not_found(f"network '{name}'") from None
    return render(call, call.request, "network.html", network=record, xml=record.current_xml())


def register(router: APIRouter) -> None:
    add_page(router, "GET", "/networks", networks, admin=True)
    add_page(router, "GET", "/networks/{name}", network, admin=True)
