"""Tenants (Metronome's "client") and API tokens. Tokens are stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select

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
