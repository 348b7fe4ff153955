"""Operator console (tally.console): operator accounts and server-side sessions."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, String, Table

from tally.db.types import UtcDateTime
from tally.models.base import metadata

console_users = Table(
    "console_users",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id"), nullable=False),
    # Lower-cased; one account per address across the installation (the sign-in form names no tenant).
    Column("email", String(320), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),  # argon2id, PHC string
    Column("role", String(16), nullable=False),  # admin | viewer
    Column("created_at", UtcDateTime, nullable=False),
    Column("disabled_at", UtcDateTime, nullable=True),
)
Index("ix_console_users_tenant", console_users.c.tenant_id)

console_sessions = Table(
    "console_sessions",
    metadata,
    # SHA-256 of the random session id the cookie carries: a database read does not yield live cookies.
    Column("id_hash", String(64), primary_key=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id"), nullable=False),
    Column("user_id", String(36), ForeignKey("console_users.id"), nullable=True),
    Column("token_hash", String(64), nullable=True),  # signed in with an API token
    Column("role", String(16), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
)
