"""Errors as Neutron answers them: ``{"NeutronError": {"type", "message", "detail"}}`` with its status codes.

One table maps guestwall's exception tree to (status, type); FastAPI's own errors (validation, unknown
routes, malformed JSON) get the same shape, so a client never sees another one.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from guestwall import errors as e

# most specific first: the first class an exception is an instance of decides
_STATUS: tuple[tuple[type[e.GuestwallError], int, str], ...] = (
    (e.RevisionMismatch, 412, "PreconditionFailed"),
    (e.InUseError, 409, "InUse"),  # e.g. a group ports are in (Neutron: SecurityGroupInUse)
    (e.ConflictError, 409, "Conflict"),
    (e.NotFoundError, 404, "NotFound"),
    (e.InputError, 400, "BadRequest"),
    (e.InstantiationError, 400, "BadRequest"),
    (e.DataplaneError, 503, "ServiceUnavailable"),
    (e.StoreError, 503, "ServiceUnavailable"),
)

_TYPES = {
    400: "BadRequest",
    401: "NotAuthenticated",
    403: "Forbidden",
    404: "NotFound",
    405: "NotAllowed",
    409: "Conflict",
    412: "PreconditionFailed",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    503: "ServiceUnavailable",
}


class NeutronErrorBody(BaseModel):
    type: str
    message: str
    detail: str = ""


class NeutronError(BaseModel):
    """The error shape of every non-2xx answer."""

    NeutronError: NeutronErrorBody


class ApiError(Exception):
    """An error decided by the API itself (authentication, authorisation, request shape)."""

    def __init__(self, status: int, message: str, kind: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind or _TYPES.get(status, "Error")


def not_found(what: str, ident: str) -> ApiError:
    """Another project's object looks exactly like a missing one (Neutron: do not reveal it exists)."""
    kind = "".join(part.capitalize() for part in what.replace("-", " ").split()) + "NotFound"
    return ApiError(404, f"{what} {ident} could not be found", kind)


def error_response(status: int, kind: str, message: str, detail: str = "") -> JSONResponse:
    return JSONResponse({"NeutronError": {"type": kind, "message": message, "detail": detail}}, status)


def status_of(error: e.GuestwallError) -> tuple[int, str]:
    for cls, status, kind in _STATUS:
        if isinstance(error, cls):
            return status, kind
    return 500, "InternalServerError"


# Every route documents these, so an OpenAPI client (and schemathesis) knows the error shape.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": NeutronError, "description": kind}
    for status, kind in (
        (400, "bad request"),
        (401, "no or unknown X-Auth-Token"),
        (403, "not allowed"),
        (404, "not found (or another project's)"),
        (413, "body over the size limit"),
    )
}
WRITE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    409: {"model": NeutronError, "description": "conflict or in use"},
    412: {"model": NeutronError, "description": "If-Match revision differs"},
    503: {"model": NeutronError, "description": "the kernel or the store refused"},
}


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into Neutron's shape."""

    @app.exception_handler(ApiError)
    async def _api(_: Request, error: ApiError) -> JSONResponse:
        return error_response(error.status, error.kind, str(error))

    @app.exception_handler(e.GuestwallError)
    async def _guestwall(_: Request, error: e.GuestwallError) -> JSONResponse:
        status, kind = status_of(error)
        return error_response(status, kind, str(error))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, error: RequestValidationError) -> JSONResponse:
        return error_response(400, "HTTPBadRequest", _validation_message(error))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, error: StarletteHTTPException) -> JSONResponse:
        kind = _TYPES.get(error.status_code, "HTTPError")
        return error_response(error.status_code, kind, str(error.detail))


def _validation_message(error: RequestValidationError) -> str:
    parts = []
    for item in error.errors()[:3]:
        where = ".".join(str(p) for p in item.get("loc", ()) if p != "body")
        if item.get("type") == "json_invalid":
            return "malformed JSON in the request body"
        parts.append(f"{where or 'body'}: {item.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(parts)
