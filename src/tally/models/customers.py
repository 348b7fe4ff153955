"""Customers and their ingest aliases. Aliases are unique per tenant (SPEC §1.4)."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, PrimaryKeyConstraint, String, Table

from tally.db.types import JsonDoc, UtcDateTime
from tally.models.base import metadata

customers = Table(
    "customers",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("external_id", String(255), nullable=True),
    Column("customer_config", JsonDoc, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("archived_at", UtcDateTime, nullable=True),
)
Index("ix_customers_tenant", customers.c.tenant_id, customers.c.id)

customer_aliases = Table(
    "customer_aliases",
    metadata,
    Column("tenant_id", String(36), ForeignKey("tenants.id"), nullable=False),
    Column("alias", String(255), nullable=False),
    Column("customer_id", String(36), ForeignKey("customers.id"), nullable=False),
    PrimaryKeyConstraint("tenant_id", "alias"),
)
Index("ix_customer_aliases_customer", customer_aliases.c.customer_id)
