"""API tokens: created at random, shown once, stored as their SHA-256 digest, bound to a project and a role.

``guestwall token create|list|revoke`` and the REST API's authentication (guestwall.api.auth) use these.
A token is 32 random bytes (URL-safe base64, prefixed ``gw_``): a plain digest suffices to store it, as
for any high-entropy secret (no password stretching needed), and a lookup is one indexed query.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import uuid4

from sqlalchemy import select

from guestwall.errors import CloudError, NotFoundError
from guestwall.store.cloudtables import TokenRow
from guestwall.store.records import Store
from guestwall.store.sqlstore import SqlReader

TOKEN_PREFIX = "gw_"


class Role(enum.StrEnum):
    """What a token may do: ``admin`` everything, ``member`` its project's objects, ``reader`` only read."""

    ADMIN = "admin"
    MEMBER = "member"
    READER = "reader"


@dataclass(frozen=True)
class TokenInfo:
    """A stored token without its secret."""

    id: str
    project: str
    role: Role
    description: str
    created_at: datetime


@dataclass(frozen=True)
class NewToken:
    info: TokenInfo
    secret: str  # shown once; only its digest is stored


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _info(row: TokenRow) -> TokenInfo:
    return TokenInfo(row.id, row.project, Role(row.role), row.description, row.created_at)


def _session(reader: object) -> SqlReader:
    if not isinstance(reader, SqlReader):
        raise CloudError("tokens need the SQL store (open it with guestwall.store.open_store)")
    return reader


def role(text: str) -> Role:
    try:
        return Role(text.strip().lower())
    except ValueError:
        raise CloudError(f"invalid role '{text}': expected admin, member or reader") from None


def create_token(store: Store, project: str, token_role: Role, description: str = "") -> NewToken:
    if not project.strip():
        raise CloudError("a token needs a project")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = TokenRow(
        id=str(uuid4()),
        digest=digest(secret),
        project=project,
        role=token_role.value,
        description=description,
        created_at=datetime.now(UTC),
    )
    with store.write() as writer:
        session = _session(writer).session
        session.add(row)
        session.flush()
        info = _info(row)
    return NewToken(info, secret)


def list_tokens(store: Store, project: str | None = None) -> list[TokenInfo]:
    with store.read() as reader:
        query = select(TokenRow).order_by(TokenRow.project, TokenRow.created_at, TokenRow.id)
        if project is not None:
            query = query.where(TokenRow.project == project)
        return [_info(row) for row in _session(reader).session.scalars(query)]


def revoke_token(store: Store, ref: str) -> TokenInfo:
    """Remove a token by its id or a unique start of it (4 characters or more); it stops working at once."""
    with store.write() as writer:
        session = _session(writer).session
        rows = [r for r in session.scalars(select(TokenRow)) if r.id == ref] or (
            [r for r in session.scalars(select(TokenRow)) if r.id.startswith(ref)] if len(ref) >= 4 else []
        )
        if len(rows) != 1:
            raise NotFoundError(f"no token '{ref}'" if not rows else f"token id start '{ref}' is ambiguous")
        info = _info(rows[0])
        session.delete(rows[0])
        session.flush()
        return info


def authenticate(store: Store, secret: str) -> TokenInfo | None:
    """The token a secret belongs to, or None."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    with store.read() as reader:
        row = (
            _session(reader)
            .session.scalars(select(TokenRow).where(TokenRow.digest == digest(secret)))
            .one_or_none()
        )
        return None if row is None else _info(row)
