"""Operator console (tally.console): operator accounts and server-side sessions."""

from __future__ import annotations

from sqlalchemy import Column, Index, String, Table

from tally.models.base import at, key, metadata, ref, tenant_ref

console_users = Table(
    "console_users",
    metadata,
    key(),
    tenant_ref(),
    # Lower-cased; one account per address across the installation (the sign-in form names no tenant).
    Column("email", String(320), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),  # argon2id, PHC string
    Column("role", String(16), nullable=False),  # admin | viewer
    at("created_at"),
    at("disabled_at", nullable=True),
)
Index("ix_console_users_tenant", console_users.c.tenant_id)

console_sessions = Table(
    "console_sessions",
    metadata,
    # SHA-256 of the random session id the cookie carries: a database read does not yield live cookies.
    Column("id_hash", String(64), primary_key=True),
    tenant_ref(),
    ref("user_id", "console_users", nullable=True),
    Column("token_hash", String(64), nullable=True),  # signed in with an API token
    Column("role", String(16), nullable=False),
    Column("csrf", String(64), nullable=False),
    at("created_at"),
    at("expires_at"),
)
