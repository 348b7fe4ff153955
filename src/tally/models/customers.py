"""Customers and their ingest aliases. Aliases are unique per tenant (SPEC §1.4)."""

from __future__ import annotations

from sqlalchemy import Column, Index, PrimaryKeyConstraint, String, Table

from tally.models.base import at, doc, key, metadata, ref, tenant_index, tenant_ref

customers = Table(
    "customers",
    metadata,
    key(),
    tenant_ref(),
    Column("name", String(255), nullable=False),
    Column("external_id", String(255), nullable=True),
    doc("customer_config"),
    at("created_at"),
    at("updated_at"),
    at("archived_at", nullable=True),
)
tenant_index(customers)

customer_aliases = Table(
    "customer_aliases",
    metadata,
    tenant_ref(),
    Column("alias", String(255), nullable=False),
    ref("customer_id", "customers"),
    PrimaryKeyConstraint("tenant_id", "alias"),
)
Index("ix_customer_aliases_customer", customer_aliases.c.customer_id)
