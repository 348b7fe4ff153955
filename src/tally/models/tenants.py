from __future__ import annotations

from sqlalchemy import Column, Index, String, Table

from tally.models.base import at, doc, key, metadata, tenant_ref

tenants = Table(
    "tenants",
    metadata,
    key(),
    Column("name", String(255), nullable=False, unique=True),
    doc("settings"),
    at("created_at"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    key(),
    tenant_ref(),
    # SHA-256 of the token; the token itself is shown once and never stored.
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("name", String(255), nullable=False),
    at("created_at"),
    at("revoked_at", nullable=True),
)
Index("ix_api_tokens_tenant", api_tokens.c.tenant_id)
