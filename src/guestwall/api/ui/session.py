"""Sessions, CSRF and refusals of the dashboard.

The session cookie holds the API token the user logged in with: HttpOnly (no script reads it), SameSite=
Strict (no other site's page sends it), limited to ``/ui``, Secure over TLS. Every request checks the token
against the API's token store again, so a revoked token ends its sessions at once, and the server keeps no
session state (restarts and several workers need nothing shared). The token never appears in a URL or a
page.

CSRF: every form carries a value derived from the session's token (HMAC-SHA256 keyed with the token), which
a page on another origin cannot read or compute; a POST must carry it, and a POST whose ``Origin`` or
``Sec-Fetch-Site`` says another site is refused before that. The login form, before any session, uses a
random value in a short-lived cookie and the same value in the form (double submit).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response

from guestwall.api.ui.deps import Viewer, deps_of

PATH = "/ui"
SESSION_COOKIE = "gw_session"
LOGIN_COOKIE = "gw_login"
FLASH_COOKIE = "gw_flash"
CSRF_FIELD = "csrf"
_CSRF_LABEL = b"guestwall-ui-csrf-v1"
_FLASH_MAX = 600  # characters of a confirmation message kept in its cookie


class Refused(Exception):
    """A request the dashboard will not serve: shown as a page with ``status`` and ``message``."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message


class LoginRequired(Refused):
    def __init__(self) -> None:
        super().__init__(401, "Login required", "log in with an API token to see this page")


def forbidden(message: str) -> Refused:
    return Refused(403, "Not allowed", message)


def not_found(what: str) -> Refused:
    return Refused(404, "Not found", f"{what} does not exist or is not visible to your project")


def csrf_value(token: str) -> str:
    return hmac.new(token.encode(), _CSRF_LABEL, hashlib.sha256).hexdigest()


def viewer_of(request: Request) -> Viewer | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    return deps_of(request).authenticate(token)


def check_same_origin(request: Request) -> None:
    """Refuse a write that a browser says comes from another site (before the CSRF value is looked at)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise forbidden(f"cross-site request refused (Sec-Fetch-Site: {site})")
    origin = request.headers.get("origin")
    if origin is not None and origin != _own_origin(request):
        raise forbidden(f"cross-site request refused (Origin {origin} is not this dashboard)")


def _own_origin(request: Request) -> str:
    host = request.headers.get("host", "")
    return f"{request.url.scheme}://{host}"


def check_csrf(request: Request, viewer: Viewer, form: Mapping[str, str]) -> None:
    check_same_origin(request)
    sent = form.get(CSRF_FIELD, "")
    if not sent or not hmac.compare_digest(sent, csrf_value(viewer.token)):
        raise forbidden("the form's CSRF value is missing or wrong: reload the page and try again")


def check_login_csrf(request: Request, form: Mapping[str, str]) -> None:
    check_same_origin(request)
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    sent = form.get(CSRF_FIELD, "")
    if not cookie or not sent or not hmac.compare_digest(cookie, sent):
        raise forbidden("the login form expired or was not sent from this dashboard: reload and try again")


def new_login_nonce() -> str:
    return secrets.token_urlsafe(32)


def _cookie(response: Response, request: Request, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=PATH,
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )


def start_session(response: Response, request: Request, token: str) -> None:
    _cookie(response, request, SESSION_COOKIE, token, None)
    response.delete_cookie(LOGIN_COOKIE, path=PATH)


def end_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path=PATH)


def set_login_nonce(response: Response, request: Request, nonce: str) -> None:
    _cookie(response, request, LOGIN_COOKIE, nonce, 3600)


def set_flash(response: Response, request: Request, message: str) -> None:
    """A confirmation shown once by the next page (after the redirect that follows a change)."""
    data = base64.urlsafe_b64encode(message[:_FLASH_MAX].encode()).decode()
    _cookie(response, request, FLASH_COOKIE, data, 60)


def take_flash(request: Request, response: Response) -> str | None:
    data = request.cookies.get(FLASH_COOKIE)
    if not data:
        return None
    response.delete_cookie(FLASH_COOKIE, path=PATH)
    try:
        return base64.urlsafe_b64decode(data.encode()).decode()[:_FLASH_MAX]
    except (ValueError, UnicodeDecodeError):
        return None
