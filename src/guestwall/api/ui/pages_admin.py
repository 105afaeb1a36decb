"""Provider blocks (admins only) and network filters (everyone reads their XML as nwfilter-dumpxml prints
it; admins define, redefine and undefine them, through the same use cases and messages as the CLI)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from guestwall.api.ui import forms, queries
from guestwall.api.ui import session as s
from guestwall.api.ui.pages_groups import _after, _form_status
from guestwall.api.ui.pages_ports import page_of
from guestwall.api.ui.web import Call, add_page, changed, render
from guestwall.cloud.translate import DERIVED_PREFIX
from guestwall.errors import ConflictError, GuestwallError, InputError, NotFoundError

BLOCK_PROTOCOLS = ("any", "tcp", "udp", "icmp")
MAX_XML = 256 * 1024


def blocks(call: Call, errors: list[str] | None = None, status: int = 200) -> Response:
    page = queries.blocks_page(call.deps.store, page_of(call))
    return render(
        call,
        call.request,
        "blocks.html",
        status,
        slice=page,
        protocols=BLOCK_PROTOCOLS,
        errors=errors or [],
        form=call.form,
    )


def create_block(call: Call) -> Response:
    try:
        spec = forms.block_spec(call.form)
        cloud = call.deps.cloud()
        made = cloud.block(
            spec.cidr, spec.protocol, spec.ports, spec.description, force=spec.force, log=spec.log
        )
    except (InputError, ConflictError) as e:
        return blocks(call, [str(e)], _form_status(e) or 400)
    block = made.value
    what = f"{block.cidr}" + (f" {block.protocol}" if block.protocol else "")
    what += ", logged" if block.log else ""
    return changed(call, "/ui/blocks", f"Blocked {what} for every guest ({block.id}){_after(made)}")


def delete_block(call: Call) -> Response:
    cloud = call.deps.cloud()
    gone = cloud.unblock(call.arg("block")).value
    if not gone:
        raise s.not_found(f"provider block '{call.arg('block')}'")
    return changed(call, "/ui/blocks", "Unblocked " + ", ".join(f"{b.cidr} ({b.id})" for b in gone))


def filters(call: Call, errors: list[str] | None = None, status: int = 200) -> Response:
    page = queries.filters_page(call.deps.store, call.viewer.scope, page_of(call))
    return render(call, call.request, "filters.html", status, slice=page, errors=errors or [], form=call.form)


def _visible_filter(call: Call) -> str:
    from guestwall.services.filters import find_filter

    name = call.arg("name")
    if not queries.filter_visible(call.deps.store, name, call.viewer.scope):
        raise s.not_found(f"network filter '{name}'")
    try:
        return find_filter(call.deps.store, name).xml
    except NotFoundError:
        raise s.not_found(f"network filter '{name}'") from None


def filter_page(
    call: Call, errors: list[str] | None = None, status: int = 200, xml: str | None = None
) -> Response:
    name = call.arg("name")
    stored = _visible_filter(call)
    return render(
        call,
        call.request,
        "filter.html",
        status,
        name=name,
        xml=stored,
        edited=xml if xml is not None else stored,
        derived=name.startswith(DERIVED_PREFIX),
        errors=errors or [],
    )


def _define(call: Call, xml: str) -> str:
    """Define from XML; returns the filter's name. Cloud-derived filters are not edited here."""
    from guestwall.services.filters import define_filter

    if len(xml) > MAX_XML:
        raise InputError(f"the XML is too large ({len(xml)} characters, at most {MAX_XML})")
    result = define_filter(call.deps.store, xml, engine=call.deps.engine)
    return result.name


def _refuse_derived(name: str) -> None:
    if name.startswith(DERIVED_PREFIX):
        raise ConflictError(
            f"filter '{name}' belongs to the cloud layer (names starting with {DERIVED_PREFIX}): change its "
            "security groups or provider blocks instead"
        )


def define(call: Call) -> Response:
    from guestwall.nwfilter import parse_filter

    xml = call.form.get("xml", "")
    try:
        _refuse_derived(parse_filter(xml).name)
        name = _define(call, xml)
    except GuestwallError as e:
        return filters(call, [f"Failed to define network filter: {e}"], _form_status(e) or 400)
    return changed(call, f"/ui/filters/{name}", f"Network filter {name} defined")


def redefine(call: Call) -> Response:
    from guestwall.nwfilter import parse_filter

    name = call.arg("name")
    _visible_filter(call)
    xml = call.form.get("xml", "")
    try:
        _refuse_derived(name)
        given = parse_filter(xml).name
        if given != name:
            raise InputError(f"the XML defines filter '{given}', not '{name}': rename is not an edit")
        _define(call, xml)
    except GuestwallError as e:
        return filter_page(
            call, [f"Failed to define network filter {name}: {e}"], _form_status(e) or 400, xml
        )
    return changed(call, f"/ui/filters/{name}", f"Network filter {name} redefined and enforced")


def undefine(call: Call) -> Response:
    from guestwall.services.filters import undefine_filter

    name = call.arg("name")
    _visible_filter(call)
    try:
        _refuse_derived(name)
        undefine_filter(call.deps.store, name, engine=call.deps.engine)
    except GuestwallError as e:
        return filter_page(call, [f"Failed to undefine network filter {name}: {e}"], _form_status(e) or 400)
    return changed(call, "/ui/filters", f"Network filter {name} undefined")


def register(router: APIRouter) -> None:
    add_page(router, "GET", "/blocks", blocks, admin=True)
    add_page(router, "POST", "/blocks", create_block, admin=True)
    add_page(router, "POST", "/blocks/{block}/delete", delete_block, admin=True)
    add_page(router, "GET", "/filters", filters)
    add_page(router, "POST", "/filters", define, admin=True)
    add_page(router, "GET", "/filters/{name}", filter_page)
    add_page(router, "POST", "/filters/{name}", redefine, admin=True)
    add_page(router, "POST", "/filters/{name}/delete", undefine, admin=True)
