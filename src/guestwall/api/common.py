"""What the routers share: the request's state, If-Match, list answers, running a use case off the event
loop, and the base model of request bodies (unknown attributes answer 400, as in Neutron)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import BaseModel, ConfigDict

from guestwall.api.app import ApiState
from guestwall.api.errors import ApiError
from guestwall.api.query import listing


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def state(request: Request) -> ApiState:
    api: ApiState = request.app.state.api
    return api


def if_match(request: Request) -> int | None:
    """The revision an ``If-Match`` header requires: ``revision_number=N`` (Neutron) or ``N``."""
    raw = request.headers.get("if-match")
    if raw is None:
        return None
    text = raw.strip().strip('"')
    if text.startswith("revision_number="):
        text = text[len("revision_number=") :]
    if not text.isdigit():
        raise ApiError(400, f"invalid If-Match '{raw}': expected revision_number=N")
    return int(text)


def listed(request: Request, items: list[dict[str, Any]], collection: str, attrs: set[str]) -> dict[str, Any]:
    base = str(request.url.remove_query_params(list(request.query_params.keys())))
    return listing(items, list(request.query_params.multi_items()), collection, base, attrs)


def shown(request: Request, item: dict[str, Any]) -> dict[str, Any]:
    fields = request.query_params.getlist("fields")
    return {k: v for k, v in item.items() if k in fields} if fields else item
