"""Neutron's list conventions on plain dictionaries: filters (any attribute; a repeated key ORs, different
keys AND; unknown keys answer 400), ``fields``, ``sort_key``/``sort_dir`` pairs, and ``limit``/``marker``/
``page_reverse`` pagination with ``<collection>_links``.

Pure: a router hands the visible objects in their API shape and the request's query, and gets the page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from guestwall.api.errors import ApiError

CONTROL = frozenset({"fields", "limit", "marker", "page_reverse", "sort_key", "sort_dir"})
MAX_LIMIT = 1000
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    links: list[dict[str, str]]


def _matches(value: Any, wanted: list[str]) -> bool:
    if isinstance(value, bool):
        flags = {w.lower() in _TRUE for w in wanted if w.lower() in _TRUE | _FALSE}
        return value in flags
    if isinstance(value, list):
        texts = {str(v) for v in value if not isinstance(v, dict)}
        return any(w in texts for w in wanted)
    if value is None:
        return any(w in ("", "None", "null") for w in wanted)
    return str(value) in wanted


def filtered(
    items: Sequence[dict[str, Any]], query: Sequence[tuple[str, str]], attrs: set[str]
) -> list[dict[str, Any]]:
    wanted: dict[str, list[str]] = {}
    for key, value in query:
        if key in CONTROL:
            continue
        if key not in attrs:
            raise ApiError(400, f"'{key}' is not an attribute that can be filtered on")
        wanted.setdefault(key, []).append(value)
    return [item for item in items if all(_matches(item.get(k), v) for k, v in wanted.items())]


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if isinstance(value, bool | int):
        return (1, int(value))
    return (2, str(value))


def sorted_items(
    items: list[dict[str, Any]], query: Sequence[tuple[str, str]], attrs: set[str]
) -> list[dict[str, Any]]:
    keys = [v for k, v in query if k == "sort_key"]
    dirs = [v for k, v in query if k == "sort_dir"]
    if len(dirs) > len(keys):
        raise ApiError(400, "sort_dir without a sort_key")
    for key in keys:
        if key not in attrs:
            raise ApiError(400, f"'{key}' is not an attribute that can be sorted on")
    for direction in dirs:
        if direction not in ("asc", "desc"):
            raise ApiError(400, f"invalid sort_dir '{direction}': expected asc or desc")
    out = sorted(items, key=lambda i: str(i.get("id", "")))
    pairs = list(zip(keys, [*dirs, *["asc"] * (len(keys) - len(dirs))], strict=True))
    for key, direction in reversed(pairs):  # stable sorts, least significant first

        def by(item: dict[str, Any], name: str = key) -> tuple[int, Any]:
            return _sort_key(item.get(name))

        out.sort(key=by, reverse=direction == "desc")
    return out


def _int(query: Mapping[str, str], key: str) -> int | None:
    text = query.get(key)
    if text is None:
        return None
    if not text.strip().isdigit():
        raise ApiError(400, f"invalid {key} '{text}': expected a number 0 or more")
    return int(text)


def paged(
    items: list[dict[str, Any]], query: Sequence[tuple[str, str]], collection: str, base_url: str
) -> Page:
    single = dict(query)
    limit = _int(single, "limit")
    limit = min(limit, MAX_LIMIT) if limit else None
    marker = single.get("marker")
    reverse = single.get("page_reverse", "false").lower() in _TRUE
    order = list(reversed(items)) if reverse else list(items)
    start = 0
    if marker is not None:
        ids = [str(i.get("id")) for i in order]
        if marker not in ids:
            raise ApiError(400, f"marker {marker} is not one of the {collection}")
        start = ids.index(marker) + 1
    chosen = order[start : start + limit] if limit else order[start:]
    more = limit is not None and start + limit < len(order)
    page = list(reversed(chosen)) if reverse else chosen
    links: list[dict[str, str]] = []
    if limit is not None:
        keep = [(k, v) for k, v in query if k not in ("marker", "page_reverse", "limit")]
        if more and chosen:
            links.append(_link(base_url, keep, limit, chosen[-1]["id"], reverse, "next"))
        if marker is not None and chosen:
            links.append(_link(base_url, keep, limit, chosen[0]["id"], not reverse, "previous"))
    return Page(page, links)


def _link(
    base: str, keep: list[tuple[str, str]], limit: int, marker: str, reverse: bool, rel: str
) -> dict[str, str]:
    params = [*keep, ("limit", str(limit)), ("marker", marker)]
    if reverse:
        params.append(("page_reverse", "True"))
    return {"href": f"{base}?{urlencode(params)}", "rel": rel}


def projected(item: dict[str, Any], query: Sequence[tuple[str, str]]) -> dict[str, Any]:
    fields = [v for k, v in query if k == "fields"]
    if not fields:
        return item
    return {k: v for k, v in item.items() if k in fields}


def listing(
    items: Sequence[dict[str, Any]],
    query: Sequence[tuple[str, str]],
    collection: str,
    base_url: str,
    attrs: set[str],
) -> dict[str, Any]:
    """The response body of a list request: ``{collection: [...], collection_links: [...]}``; ``attrs``
    are the resource's attributes (what may be filtered and sorted on)."""
    chosen = sorted_items(filtered(items, query, attrs), query, attrs)
    page = paged(chosen, query, collection, base_url)
    body: dict[str, Any] = {collection: [projected(i, query) for i in page.items]}
    if page.links:
        body[f"{collection}_links"] = page.links
    return body
