"""Who is calling: the ``X-Auth-Token`` header -> the token's project and role, and the tenant rules.

``caller`` is a FastAPI dependency any router (the web dashboard's included) can use; ``writer`` and
``admin`` add the role checks. Neutron's rule for objects of other projects: answer 404 as if they did not
exist (``visible``), 403 only for an object the caller can see but may not change (``changeable``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request

from guestwall.api.errors import ApiError, not_found
from guestwall.services.tokens import Role, authenticate


@dataclass(frozen=True)
class Caller:
    project: str
    role: Role
    token_id: str

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def can_see(self, project: str, shared: bool = False) -> bool:
        return self.is_admin or shared or project == self.project

    def owns(self, project: str) -> bool:
        return self.is_admin or project == self.project


def caller(
    request: Request,
    x_auth_token: Annotated[str | None, Header(description="A token from `guestwall token create`")] = None,
) -> Caller:
    """The authenticated caller, or 401. Tokens are looked up hashed (services.tokens)."""
    if not x_auth_token:
        raise ApiError(401, "authentication required: send a token in the X-Auth-Token header")
    info = authenticate(request.app.state.api.store, x_auth_token)
    if info is None:
        raise ApiError(401, "the X-Auth-Token is unknown or revoked")
    return Caller(info.project, info.role, info.id)


def writer(who: Annotated[Caller, Depends(caller)]) -> Caller:
    """A caller that may change things (admin or member)."""
    if who.role is Role.READER:
        raise ApiError(403, "a reader token cannot change anything")
    return who


def admin(who: Annotated[Caller, Depends(caller)]) -> Caller:
    """Only administrators: provider blocks, filters, bindings, hosts."""
    if not who.is_admin:
        raise ApiError(403, "this resource needs an admin token")
    return who


CallerDep = Annotated[Caller, Depends(caller)]
WriterDep = Annotated[Caller, Depends(writer)]
AdminDep = Annotated[Caller, Depends(admin)]


def visible(who: Caller, what: str, ident: str, project: str, shared: bool = False) -> None:
    """404 for an object the caller may not see."""
    if not who.can_see(project, shared):
        raise not_found(what, ident)


def changeable(who: Caller, what: str, ident: str, project: str, shared: bool = False) -> None:
    """404 if the caller cannot see the object, 403 if it can (shared) but it is another project's."""
    visible(who, what, ident, project, shared)
    if not who.owns(project):
        raise ApiError(403, f"{what} {ident} belongs to another project: it can be used, not changed")


def project_for(who: Caller, requested: str | None, tenant: str | None = None) -> str:
    """The project a new object goes to: the caller's; only admins may name another one."""
    if requested and tenant and requested != tenant:
        raise ApiError(400, "project_id and tenant_id differ")
    wanted = requested or tenant or who.project
    if wanted != who.project and not who.is_admin:
        raise ApiError(403, "only admins may create objects for another project")
    return wanted
