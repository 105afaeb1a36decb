"""How a dashboard page is served: one wrapper for every route (session, CSRF, roles, headers, errors).

A page is a plain function ``(Call) -> Response`` run in the thread pool (the store is synchronous). Routes
are registered with ``add_page``, which decides from its arguments what the wrapper checks: a GET needs a
session (else the login page); a POST also needs the form's CSRF value and a role that may write; admin
pages need an admin. Every response gets the security headers; a refusal or a guestwall error becomes a
page with the right status. Nothing changes on GET.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from guestwall.api.ui import session as s
from guestwall.api.ui.deps import UiDeps, Viewer, deps_of
from guestwall.errors import ConflictError, GuestwallError, InputError, NotFoundError

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # no-referrer would make browsers send "Origin: null"
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}

# guestwall errors a page did not handle inline, by the status they are shown with (first match wins)
ERROR_STATUS: tuple[tuple[type[GuestwallError], int, str], ...] = (
    (NotFoundError, 404, "Not found"),
    (ConflictError, 409, "Conflict"),
    (InputError, 400, "Invalid input"),
    (GuestwallError, 500, "Failed"),
)

# the navigation bar: (path, label, admin only)
NAV: tuple[tuple[str, str, bool], ...] = (
    ("/ui/", "Overview", False),
    ("/ui/ports", "Ports", False),
    ("/ui/groups", "Security groups", False),
    ("/ui/blocks", "Provider blocks", True),
    ("/ui/filters", "Network filters", False),
    ("/ui/networks", "Networks", True),
    ("/ui/log", "Drop log", False),
)

templates = Environment(
    loader=PackageLoader("guestwall.api.ui", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class Call:
    """One request to a page: who asks, the form it sent (POST), the path's parameters."""

    request: Request
    deps: UiDeps
    viewer: Viewer
    form: Mapping[str, str]

    @property
    def query(self) -> QueryParams:
        return self.request.query_params

    def arg(self, name: str) -> str:
        return str(self.request.path_params[name])


Page = Callable[[Call], Response]


def render(call: Call | None, request: Request, template: str, status: int = 200, **values: Any) -> Response:
    """A template rendered with the common values (viewer, CSRF value, navigation, one-time message)."""
    viewer = call.viewer if call is not None else None
    response = HTMLResponse("", status_code=status)
    flash = s.take_flash(request, response)
    body = templates.get_template(template).render(
        viewer=viewer,
        csrf=s.csrf_value(viewer.token) if viewer is not None else "",
        csrf_field=s.CSRF_FIELD,
        nav=[
            (path, label)
            for path, label, admin in NAV
            if viewer is not None and (viewer.is_admin or not admin)
        ],
        here=request.url.path,
        flash=flash,
        **values,
    )
    response.body = response.render(body)
    response.headers["content-length"] = str(len(response.body))
    return response


def changed(call: Call, url: str, message: str) -> Response:
    """After a change: back to a page (POST, redirect, GET), which confirms ``message`` once."""
    response = RedirectResponse(url, status_code=303)
    s.set_flash(response, call.request, message)
    return response


def _secured(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _refusal_page(request: Request, viewer: Viewer | None, refusal: s.Refused) -> Response:
    call = Call(request, deps_of(request), viewer, {}) if viewer is not None else None
    return render(call, request, "error.html", refusal.status, title=refusal.title, message=refusal.message)


def _error_refusal(error: GuestwallError) -> s.Refused:
    for kind, status, title in ERROR_STATUS:
        if isinstance(error, kind):
            return s.Refused(status, title, str(error))
    raise AssertionError("GuestwallError is the last row")


def safe_next(target: str | None) -> str:
    """Where to go after login: a dashboard path only (never another site)."""
    if target and target.startswith("/ui/") and "//" not in target and "\\" not in target:
        return target
    return "/ui/"


async def _form(request: Request) -> dict[str, str]:
    data = await request.form(max_files=0, max_fields=100)
    return {key: value for key, value in data.items() if isinstance(value, str)}


def _endpoint(page: Page, method: str, admin: bool, writes: bool) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        viewer: Viewer | None = None
        try:
            viewer = await run_in_threadpool(s.viewer_of, request)
            if viewer is None:
                if method == "GET":
                    target = quote(request.url.path, safe="/")
                    return _secured(RedirectResponse(f"/ui/login?next={target}", status_code=303))
                raise s.LoginRequired()
            form: dict[str, str] = {}
            if method == "POST":
                form = await _form(request)
                s.check_csrf(request, viewer, form)
                if writes and not viewer.can_write:
                    raise s.forbidden("your token's role is reader: it can look, not change anything")
            if admin and not viewer.is_admin:
                raise s.forbidden("this page is for admins only")
            call = Call(request, deps_of(request), viewer, form)
            response = await run_in_threadpool(page, call)
        except s.Refused as refusal:
            response = _refusal_page(request, viewer, refusal)
        except GuestwallError as error:
            response = _refusal_page(request, viewer, _error_refusal(error))
        return _secured(response)

    return endpoint


def add_page(
    router: APIRouter, method: str, path: str, page: Page, *, admin: bool = False, writes: bool = True
) -> None:
    """Serve ``page`` at ``path`` (under the router's /ui prefix). A POST is a change unless ``writes``
    is False (logging out): readers are refused, and the CSRF value is required in any case."""
    router.add_api_route(
        path,
        _endpoint(page, method, admin, writes),
        methods=[method],
        include_in_schema=False,
        response_class=HTMLResponse,
    )


def add_public(router: APIRouter, method: str, path: str, endpoint: Callable[[Request], Any]) -> None:
    """A route without a session (login, static assets): the endpoint handles refusals itself."""

    async def secured(request: Request) -> Response:
        try:
            response = await endpoint(request)
        except s.Refused as refusal:
            response = _refusal_page(request, None, refusal)
        assert isinstance(response, Response)
        return _secured(response)

    router.add_api_route(path, secured, methods=[method], include_in_schema=False)
