"""``X-Guestwall-Wait: SECONDS`` on a write: the answer comes once every live host concerned has enforced
it (the API's ``--wait``; see docs/multihost.md). If some host has not by then, the change stays committed
and the answer is 504 naming those hosts; hosts that are down are named in ``X-Guestwall-Not-Waited``.

The revisions the request committed are those between the store's revision before and after it; writes of
concurrent requests may fall in between too, so the wait may cover more hosts than the request's own
changes concern, never fewer.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

HEADER = "x-guestwall-wait"
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def _error(status: int, kind: str, message: str) -> Response:
    body = {"NeutronError": {"type": kind, "message": message, "detail": ""}}
    return Response(json.dumps(body), status_code=status, media_type="application/json")


def install_wait(app: FastAPI) -> None:
    @app.middleware("http")
    async def wait_for_hosts(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        raw = request.headers.get(HEADER)
        if raw is None or request.method not in WRITES:
            return await call_next(request)
        try:
            timeout = float(raw)
        except ValueError:
            return _error(400, "HTTPBadRequest", f"invalid {HEADER} '{raw}': expected seconds")
        from guestwall.store.hosts import wait_applied
        from guestwall.store.sqlstore import SqlStore

        store = request.app.state.api.store
        if not isinstance(store, SqlStore):
            return await call_next(request)
        before = await run_in_threadpool(store.generation)
        response = await call_next(request)
        after = await run_in_threadpool(store.generation)
        if response.status_code >= 400 or after == before:
            return response
        waited = await run_in_threadpool(wait_applied, store, after, timeout, since=before)
        if waited.down:
            response.headers["X-Guestwall-Not-Waited"] = ",".join(waited.down)
        if waited.late:
            late = ", ".join(waited.late)
            message = f"revision {after} is stored but not enforced after {timeout:g} s on: {late}"
            return _error(504, "HostsLate", message)
        response.headers["X-Guestwall-Revision"] = str(after)
        return response
