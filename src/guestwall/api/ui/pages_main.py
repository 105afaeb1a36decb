"""The dashboard's entry: login and logout, static assets, the overview, the drop log."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from guestwall.api.ui import optional, queries
from guestwall.api.ui import session as s
from guestwall.api.ui.deps import deps_of
from guestwall.api.ui.web import Call, add_page, add_public, render, safe_next

# name -> media type: the only files served (all shipped in the package: nothing from the internet)
STATIC: dict[str, str] = {"ui.css": "text/css; charset=utf-8", "ui.js": "text/javascript; charset=utf-8"}
_static_cache: dict[str, bytes] = {}


async def static(request: Request) -> Response:
    name = str(request.path_params["name"])
    if name not in STATIC:
        raise s.not_found(f"file '{name}'")
    if name not in _static_cache:
        _static_cache[name] = resources.files("guestwall.api.ui").joinpath("static", name).read_bytes()
    return Response(_static_cache[name], media_type=STATIC[name], headers={"Cache-Control": "no-cache"})


async def login_form(request: Request) -> Response:
    if await run_in_threadpool(s.viewer_of, request) is not None:
        return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    return _login_page(request, [], 200)


def _login_page(request: Request, problems: list[str], status: int) -> Response:
    nonce = s.new_login_nonce()
    target = safe_next(request.query_params.get("next"))
    response = render(None, request, "login.html", status, problems=problems, nonce=nonce, next=target)
    s.set_login_nonce(response, request, nonce)
    return response


async def login(request: Request) -> Response:
    data = await request.form(max_files=0, max_fields=10)
    form = {k: v for k, v in data.items() if isinstance(v, str)}
    s.check_login_csrf(request, form)
    token = form.get("token", "").strip()
    viewer = await run_in_threadpool(deps_of(request).authenticate, token) if token else None
    if viewer is None:
        return _login_page(request, ["this token is unknown or revoked"], 401)
    response = RedirectResponse(safe_next(form.get("next")), status_code=303)
    s.start_session(response, request, token)
    s.set_flash(response, request, f"Logged in: project {viewer.project}, role {viewer.role}")
    return response


def logout(call: Call) -> Response:
    response = RedirectResponse("/ui/login", status_code=303)
    s.end_session(response)
    return response


async def root(request: Request) -> Response:
    return RedirectResponse("/ui/", status_code=307)


def overview(call: Call) -> Response:
    deps = call.deps
    counts = queries.counts(deps.store, call.viewer.scope)
    hosts = optional.hosts(deps)
    problems = []
    if counts.unbound_ports:
        problems.append(f"{counts.unbound_ports} port(s) have no binding: nothing enforces their groups")
    problems += [
        f"host {h.name} is down or failing{': ' + h.error if h.error else ''}"
        for h in hosts or []
        if not h.healthy
    ]
    warning = _bridged_l3_warning(deps.netns) if call.viewer.is_admin else None
    if warning:
        problems.append(warning)
    return render(
        call,
        call.request,
        "overview.html",
        counts=counts,
        hosts=hosts,
        problems=problems,
        netns=deps.netns,
        store_kind=deps.store.url.split(":", 1)[0],
        log_available=optional.drop_log_available(deps),
    )


def _bridged_l3_warning(netns: str | None) -> str | None:
    from guestwall.dataplane.probe import bridged_l3_warning
    from guestwall.errors import GuestwallError

    try:
        return bridged_l3_warning(netns)
    except (GuestwallError, OSError) as e:
        return f"cannot read the enforcing namespace's settings: {e}"


def _log_query(call: Call) -> optional.LogQuery:
    after = call.query.get("after", "0")
    return optional.LogQuery(
        port=call.query.get("port", "").strip(),
        rule=call.query.get("rule", "").strip(),
        after=int(after) if after.isdigit() else 0,
    )


def drop_log(call: Call) -> Response:
    query = _log_query(call)
    records = optional.drop_log(call.deps, query, call.viewer.scope)
    return render(
        call,
        call.request,
        "log.html",
        available=records is not None,
        records=records or [],
        port=query.port,
        rule=query.rule,
        after=max((r.seq for r in records or []), default=0),
    )


def drop_log_feed(call: Call) -> Response:
    """New records as JSON for the live view (the page's script inserts them as text)."""
    records = optional.drop_log(call.deps, _log_query(call), call.viewer.scope)
    if records is None:
        return JSONResponse({"available": False, "records": []})
    fields = (
        "seq",
        "time",
        "host",
        "port",
        "direction",
        "verdict",
        "rule",
        "source",
        "destination",
        "protocol",
    )
    return JSONResponse({"available": True, "records": [{f: getattr(r, f) for f in fields} for r in records]})


def register(router: APIRouter) -> None:
    add_public(router, "GET", "/static/{name}", static)
    add_public(router, "GET", "/login", login_form)
    add_public(router, "POST", "/login", login)
    add_public(router, "GET", "", root)
    add_page(router, "POST", "/logout", logout, writes=False)
    add_page(router, "GET", "/", overview)
    add_page(router, "GET", "/log", drop_log)
    add_page(router, "GET", "/log/feed", drop_log_feed)
