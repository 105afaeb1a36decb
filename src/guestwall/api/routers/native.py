"""guestwall's own resources under ``/guestwall/v1``, for administrators only: provider blocks, network
filters (libvirt XML in and out, validated as ``nwfilter-define``), bindings, and hosts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from pydantic import Field

from guestwall.api import shapes
from guestwall.api.app import ApiState
from guestwall.api.auth import AdminDep
from guestwall.api.common import Body, listed, state
from guestwall.api.errors import WRITE_RESPONSES, ApiError, not_found
from guestwall.cloud import validate as v
from guestwall.engine import Engine
from guestwall.model.cloud import ProviderBlock

router = APIRouter(prefix="/guestwall/v1", tags=["guestwall (admin)"])
BLOCK_ATTRS = set(shapes.provider_block(ProviderBlock("", v.network("0.0.0.0/0"))))
XML_BODY = {"requestBody": {"required": True, "content": {"application/xml": {"schema": {"type": "string"}}}}}
XML_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/xml": {"schema": {"type": "string"}}}, "description": "the XML"}
}
Text = Annotated[str, Field(max_length=255)]


class BlockIn(Body):
    cidr: Annotated[str, Field(max_length=64)]
    protocol: Annotated[str, Field(max_length=8)] | None = None
    port_range_min: int | None = None
    port_range_max: int | None = None
    description: Text = ""
    force: bool = False  # blocking every address (0.0.0.0/0, ::/0) must be meant


class BlockCreate(Body):
    provider_block: BlockIn


# ---- provider blocks ---------------------------------------------------------------------------------


@router.get("/provider-blocks", summary="List provider blocks")
def list_blocks(request: Request, who: AdminDep) -> dict[str, Any]:
    blocks = [shapes.provider_block(b) for b in state(request).cloud.list_blocks()]
    return listed(request, blocks, "provider_blocks", BLOCK_ATTRS)


@router.post("/provider-blocks", status_code=201, responses=WRITE_RESPONSES, summary="Block a CIDR")
def create_block(request: Request, who: AdminDep, body: BlockCreate) -> dict[str, Any]:
    data = body.provider_block
    protocol = None if data.protocol in (None, "", "any") else (data.protocol or "").lower()
    low, high = data.port_range_min, data.port_range_max
    ports = None
    if low is not None or high is not None:
        first = low if low is not None else high
        ports = v.port_range(f"{first}:{high if high is not None else low}")
    cloud = state(request).cloud
    block = cloud.block(v.network(data.cidr), protocol, ports, data.description, force=data.force).value
    return {"provider_block": shapes.provider_block(block)}


@router.get("/provider-blocks/{block_id}", summary="Show a provider block")
def show_block(request: Request, who: AdminDep, block_id: str) -> dict[str, Any]:
    for block in state(request).cloud.list_blocks():
        if block.id == block_id:
            return {"provider_block": shapes.provider_block(block)}
    raise not_found("provider block", block_id)


@router.delete("/provider-blocks/{block_id}", status_code=204, responses=WRITE_RESPONSES, summary="Unblock")
def delete_block(request: Request, who: AdminDep, block_id: str) -> None:
    cloud = state(request).cloud
    if block_id not in {b.id for b in cloud.list_blocks()}:
        raise not_found("provider block", block_id)
    cloud.unblock(block_id)


# ---- network filters (libvirt XML) -------------------------------------------------------------------


def _enforcing(api: ApiState) -> Engine:
    """The engine changes are enforced through, before commit (as the CLI's), with the store's host
    settings."""
    return Engine(api.backend)


@router.get("/filters", summary="List network filters")
def list_filters(request: Request, who: AdminDep) -> dict[str, Any]:
    from guestwall.services.filters import list_filters as listing

    items = [{"name": r.name, "uuid": str(r.uuid)} for r in listing(state(request).store)]
    return listed(request, items, "filters", {"name", "uuid"})


@router.get("/filters/{name}", responses=XML_ANSWER, response_class=Response, summary="A filter's XML")
def filter_xml(request: Request, who: AdminDep, name: str) -> Response:
    from guestwall.services.filters import find_filter

    return Response(find_filter(state(request).store, name).xml, media_type="application/xml")


async def _define(request: Request, name: str | None) -> dict[str, Any]:
    """``nwfilter-define``: the same parsing, validation, messages, and re-enforcement of its users."""
    from starlette.concurrency import run_in_threadpool

    xml = await request.body()
    api = state(request)

    def define() -> Any:
        from guestwall.nwfilter import parse_filter
        from guestwall.services.filters import define_filter as define_use_case

        if name is not None and parse_filter(xml).name != name:
            raise ApiError(400, f"the XML defines another filter than '{name}'")
        return define_use_case(api.store, xml, engine=_enforcing(api))

    result = await run_in_threadpool(define)
    return {"filter": {"name": result.name, "uuid": str(result.uuid), "changed": result.changed}}


@router.post(
    "/filters", status_code=201, responses=WRITE_RESPONSES, openapi_extra=XML_BODY, summary="Define a filter"
)
async def define_filter(request: Request, who: AdminDep) -> dict[str, Any]:
    return await _define(request, None)


@router.put("/filters/{name}", responses=WRITE_RESPONSES, openapi_extra=XML_BODY, summary="Redefine a filter")
async def redefine_filter(request: Request, who: AdminDep, name: str) -> dict[str, Any]:
    from guestwall.services.filters import find_filter

    find_filter(state(request).store, name)  # 404 when there is none to redefine
    return await _define(request, name)


@router.delete("/filters/{name}", status_code=204, responses=WRITE_RESPONSES, summary="Undefine a filter")
def undefine_filter(request: Request, who: AdminDep, name: str) -> None:
    from guestwall.services.filters import undefine_filter as undefine

    api = state(request)
    undefine(api.store, name, engine=_enforcing(api))


# ---- bindings ----------------------------------------------------------------------------------------


@router.get("/bindings", summary="List filter bindings")
def list_bindings(request: Request, who: AdminDep) -> dict[str, Any]:
    from guestwall.services.bindings import list_bindings as listing

    items = [
        {"id": r.portdev, "portdev": r.portdev, "filter": r.filter} for r in listing(state(request).store)
    ]
    return listed(request, items, "bindings", {"id", "portdev", "filter"})


@router.get("/bindings/{portdev}", responses=XML_ANSWER, response_class=Response, summary="A binding's XML")
def binding_xml(request: Request, who: AdminDep, portdev: str) -> Response:
    from guestwall.services.bindings import get_binding

    return Response(get_binding(state(request).store, portdev).xml, media_type="application/xml")


@router.post(
    "/bindings", status_code=201, responses=WRITE_RESPONSES, openapi_extra=XML_BODY, summary="Bind a port"
)
async def create_binding(request: Request, who: AdminDep) -> dict[str, Any]:
    from starlette.concurrency import run_in_threadpool

    from guestwall.services.bindings import create_binding as create

    xml = await request.body()
    api = state(request)
    record, _ = await run_in_threadpool(create, api.store, xml, _enforcing(api))
    return {"binding": {"id": record.portdev, "portdev": record.portdev, "filter": record.filter}}


@router.delete("/bindings/{portdev}", status_code=204, responses=WRITE_RESPONSES, summary="Unbind a port")
def delete_binding(request: Request, who: AdminDep, portdev: str) -> None:
    from guestwall.services.bindings import delete_binding as delete

    api = state(request)
    delete(api.store, portdev, _enforcing(api))


# ---- hosts -------------------------------------------------------------------------------------------


def _hosts(api: ApiState) -> dict[str, dict[str, Any]]:
    """Every host: those whose agents report to the store (``guestwall host list``), those ports name
    (``binding:host_id``) and this server's own, with their port counts and what their agents reported."""
    from guestwall.store.hosts import DOWN_AFTER, host_statuses
    from guestwall.store.records import this_host
    from guestwall.store.sqlstore import SqlStore, now_utc

    rows: dict[str, dict[str, Any]] = {this_host(): {"ports": 0}}
    for port in api.cloud.list_ports():
        if port.host:
            rows.setdefault(port.host, {"ports": 0})["ports"] += 1
    if isinstance(api.store, SqlStore):
        revision, statuses = host_statuses(api.store)
        now = now_utc()
        for status in statuses:
            rows.setdefault(status.name, {"ports": 0}).update(
                state="down" if status.is_down(now, DOWN_AFTER) else "up",
                applied_revision=status.applied_revision,
                lag=revision - status.applied_revision,
                heartbeat_at=shapes.timestamp(status.heartbeat_at),
                last_error=status.last_error,
                last_repair_at=shapes.timestamp(status.last_repair_at),
                repairs=status.repairs,
            )
    for name, row in rows.items():
        row.setdefault("state", "no agent reports")
        row.update(id=name, host=name)
    return rows


HOST_ATTRS = {
    "id",
    "host",
    "ports",
    "state",
    "applied_revision",
    "lag",
    "heartbeat_at",
    "last_error",
    "last_repair_at",
    "repairs",
}


@router.get("/hosts", summary="Hosts, their ports and what their agents report (as guestwall host list)")
def list_hosts(request: Request, who: AdminDep) -> dict[str, Any]:
    items = [row for _, row in sorted(_hosts(state(request)).items())]
    return listed(request, items, "hosts", HOST_ATTRS)


@router.get("/hosts/{host}", summary="A host's status; for this server's host, whether its kernel is in step")
def show_host(request: Request, who: AdminDep, host: str) -> dict[str, Any]:
    """What the host's agent reported; for the host this server enforces on, also the store's generation
    and the changes ``guestwall apply`` would make now (none: the kernel is in step)."""
    from guestwall.dataplane.apply import plan
    from guestwall.engine import Engine
    from guestwall.store.records import this_host

    api = state(request)
    hosts = _hosts(api)
    if host not in hosts:
        raise not_found("host", host)
    body = hosts[host]
    if host != this_host():
        return {"host": body}
    with api.store.read() as reader:
        generation = reader.generation()
        desired = Engine(api.backend).desired(reader, strict=False)
    pending = plan(desired.compiled.ruleset, api.backend)
    return {
        "host": {
            **body,
            "netns": api.settings.netns,
            "store_generation": generation,
            "kernel": "in step" if not pending else "drifted",
            "pending_changes": pending.counts(),
            "not_enforced": dict(desired.failures),
        }
    }
