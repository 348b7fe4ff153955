"""Tenants (Metronome's "client") and API tokens. Tokens are stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from tally.ids import new_id
from tally.models.tenants import api_tokens, tenants

TOKEN_PREFIX = "tly_"


@dataclass(frozen=True)
class Tenant:
    id: str
    name: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def get_or_create_tenant(conn: Connection, name: str, now: datetime) -> Tenant:
    row = conn.execute(select(tenants.c.id, tenants.c.name).where(tenants.c.name == name)).first()
    if row:
        return Tenant(row.id, row.name)
    tenant = Tenant(new_id(), name)
    conn.execute(insert(tenants).values(id=tenant.id, name=name, settings={}, created_at=now))
    return tenant


def any_tenant_exists(conn: Connection) -> bool:
    return conn.execute(select(tenants.c.id).limit(1)).first() is not None


def create_token(conn: Connection, tenant: Tenant, now: datetime, name: str = "default") -> str:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    conn.execute(
        insert(api_tokens).values(
            id=new_id(), tenant_id=tenant.id, token_hash=hash_token(token), name=name, created_at=now
        )
    )
    return token


def tenant_for_token(conn: Connection, token: str) -> Tenant | None:
    row = conn.execute(
        select(tenants.c.id, tenants.c.name)
        .join(api_tokens, api_tokens.c.tenant_id == tenants.c.id)
        .where(api_tokens.c.token_hash == hash_token(token), api_tokens.c.revoked_at.is_(None))
    ).first()
    return Tenant(row.id, row.name) if row else None


@dataclass(frozen=True)
class TokenInfo:
    id: str
    tenant: str
    name: str
    created_at: datetime
    revoked_at: datetime | None


def list_tokens(conn: Connection, tenant: str | None = None) -> list[TokenInfo]:
    """Every token (never its secret), oldest first; `tenant` narrows to one tenant by name."""
    q = (
        select(api_tokens.c.id, tenants.c.name, api_tokens.c.name.label("label"), api_tokens.c.created_at)
        .add_columns(api_tokens.c.revoked_at)
        .join(tenants, tenants.c.id == api_tokens.c.tenant_id)
        .order_by(api_tokens.c.created_at, api_tokens.c.id)
    )
    if tenant is not None:
        q = q.where(tenants.c.name == tenant)
    return [TokenInfo(r.id, r.name, r.label, r.created_at, r.revoked_at) for r in conn.execute(q)]


class TokenMatchError(Exception):
    """No token, or more than one, matches what was given."""


MIN_PREFIX = 6


def find_token(conn: Connection, ref: str) -> TokenInfo:
    """The one token `ref` names: its id, an unambiguous id prefix (at least MIN_PREFIX characters), or
    the token itself (a leaked secret can be revoked without knowing its id)."""
    ref = ref.strip()
    tokens = list_tokens(conn)
    if ref.startswith(TOKEN_PREFIX):
        row = conn.execute(select(api_tokens.c.id).where(api_tokens.c.token_hash == hash_token(ref))).first()
        found = [t for t in tokens if row is not None and t.id == row.id]
    elif len(ref) < MIN_PREFIX:
        raise TokenMatchError(f"give a token id, at least {MIN_PREFIX} characters of one, or the token")
    else:
        found = [t for t in tokens if t.id == ref] or [t for t in tokens if t.id.startswith(ref)]
    if not found:
        raise TokenMatchError(f"no token matches {_shown(ref)}")
    if len(found) > 1:
        raise TokenMatchError(f"{len(found)} tokens match {_shown(ref)}; give more of the id")
    return found[0]


def _shown(ref: str) -> str:
    return f"{ref[:8]}..." if ref.startswith(TOKEN_PREFIX) else repr(ref)


def revoke_token(conn: Connection, token_id: str, now: datetime) -> bool:
    """Revoke a token; False when it was already revoked (the first revocation time is kept)."""
    done = conn.execute(
        update(api_tokens)
        .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return done.rowcount == 1


def tenant_tokens(conn: Connection, tenant_id: str) -> list[TokenInfo]:
    """One tenant's tokens (never their secrets), newest first (the console's settings page)."""
    q = (
        select(api_tokens.c.id, tenants.c.name, api_tokens.c.name.label("label"), api_tokens.c.created_at)
        .add_columns(api_tokens.c.revoked_at)
        .join(tenants, tenants.c.id == api_tokens.c.tenant_id)
        .where(api_tokens.c.tenant_id == tenant_id)
        .order_by(api_tokens.c.created_at.desc(), api_tokens.c.id.desc())
    )
    return [TokenInfo(r.id, r.name, r.label, r.created_at, r.revoked_at) for r in conn.execute(q)]


def revoke_tenant_token(conn: Connection, tenant_id: str, token_id: str, now: datetime) -> bool | None:
    """`revoke_token` for a token of this tenant only: None when the tenant has no such token."""
    owned = conn.execute(
        select(api_tokens.c.id).where(api_tokens.c.tenant_id == tenant_id, api_tokens.c.id == token_id)
    ).first()
    if owned is None:
        return None
    return revoke_token(conn, token_id, now)
