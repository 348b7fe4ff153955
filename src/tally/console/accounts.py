"""Operator accounts (argon2id password hashes) and server-side console sessions.

A session is a random id held in an HttpOnly cookie; the database keeps only its SHA-256, with the tenant,
the role and the session's CSRF token. Signing in with an API token makes an admin session bound to that
token: revoking the token ends the session.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, delete, insert, select

from tally.auth.service import Tenant, hash_token, tenant_for_token
from tally.errors import BadRequest, Conflict
from tally.ids import new_id
from tally.models.console import console_sessions, console_users
from tally.models.tenants import api_tokens, tenants

ROLES = ("admin", "viewer")
SESSION_TTL = timedelta(hours=12)
MIN_PASSWORD = 12

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified when an e-mail is unknown, so a wrong address costs the same time as a wrong password.
_DUMMY_HASH = _hasher.hash("tally-console-no-such-user")


@dataclass(frozen=True)
class Session:
    tenant: Tenant
    role: str
    csrf: str
    user_id: str | None
    token_hash: str | None
    actor_name: str

    @property
    def can_act(self) -> bool:
        return self.role == "admin"


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def create_user(conn: Connection, tenant: Tenant, email: str, password: str, role: str, now: datetime) -> str:
    email = email.strip().lower()
    if "@" not in email or len(email) > 320:
        raise BadRequest("email: must be an e-mail address")
    if role not in ROLES:
        raise BadRequest(f"role: must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise BadRequest(f"password: must be at least {MIN_PASSWORD} characters")
    if conn.execute(select(console_users.c.id).where(console_users.c.email == email)).first():
        raise Conflict(f"a console user {email} already exists")
    user_id = new_id()
    conn.execute(
        insert(console_users).values(
            id=user_id,
            tenant_id=tenant.id,
            email=email,
            password_hash=_hasher.hash(password),
            role=role,
            created_at=now,
        )
    )
    return user_id


def _start(
    conn: Connection, tenant_id: str, role: str, now: datetime, *, user_id: str | None, token_hash: str | None
) -> str:
    session_id = secrets.token_urlsafe(32)
    conn.execute(
        insert(console_sessions).values(
            id_hash=_digest(session_id),
            tenant_id=tenant_id,
            user_id=user_id,
            token_hash=token_hash,
            role=role,
            csrf=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + SESSION_TTL,
        )
    )
    return session_id


def sign_in_with_password(conn: Connection, email: str, password: str, now: datetime) -> str | None:
    """A new session id, or None when the e-mail or the password is wrong (the caller says which neither)."""
    row = conn.execute(
        select(console_users).where(
            console_users.c.email == email.strip().lower(), console_users.c.disabled_at.is_(None)
        )
    ).first()
    try:
        _hasher.verify(row.password_hash if row else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None:
        return None
    return _start(conn, row.tenant_id, row.role, now, user_id=row.id, token_hash=None)


def sign_in_with_token(conn: Connection, token: str, now: datetime) -> str | None:
    tenant = tenant_for_token(conn, token.strip())
    if tenant is None:
        return None
    return _start(conn, tenant.id, "admin", now, user_id=None, token_hash=hash_token(token.strip()))


def load(conn: Connection, session_id: str, now: datetime) -> Session | None:
    """The live session a cookie names, or None (unknown, expired, its user disabled, its token revoked)."""
    s = console_sessions
    row = conn.execute(
        select(s, tenants.c.name.label("tenant_name"))
        .join(tenants, tenants.c.id == s.c.tenant_id)
        .where(s.c.id_hash == _digest(session_id), s.c.expires_at > now)
    ).first()
    if row is None:
        return None
    if row.user_id is not None:
        user = conn.execute(
            select(console_users.c.email).where(
                console_users.c.id == row.user_id,
                console_users.c.tenant_id == row.tenant_id,
                console_users.c.disabled_at.is_(None),
            )
        ).first()
        if user is None:
            return None
        actor = str(user.email)
    else:
        token = conn.execute(
            select(api_tokens.c.name).where(
                api_tokens.c.token_hash == row.token_hash,
                api_tokens.c.tenant_id == row.tenant_id,
                api_tokens.c.revoked_at.is_(None),
            )
        ).first()
        if token is None:
            return None
        actor = f"token {token.name}"
    return Session(
        tenant=Tenant(row.tenant_id, row.tenant_name),
        role=row.role,
        csrf=row.csrf,
        user_id=row.user_id,
        token_hash=row.token_hash,
        actor_name=actor,
    )


def end(conn: Connection, session_id: str) -> None:
    conn.execute(delete(console_sessions).where(console_sessions.c.id_hash == _digest(session_id)))
