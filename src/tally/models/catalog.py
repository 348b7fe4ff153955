"""The product catalog: credit types, billable metrics, products (versioned), rate cards, rates,
named schedules, custom fields and uniqueness keys."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, PrimaryKeyConstraint, String, Table, Text

from tally.db.types import ExactDecimal, JsonDoc, UtcDateTime
from tally.models.base import metadata


def _tenant() -> Column[str]:
    return Column("tenant_id", String(36), ForeignKey("tenants.id"), nullable=False)


credit_types = Table(
    "credit_types",
    metadata,
    Column("id", String(36), primary_key=True),
    # NULL tenant: a built-in fiat currency visible to every tenant (USD cents, EUR, ...).
    Column("tenant_id", String(36), ForeignKey("tenants.id"), nullable=True),
    Column("name", String(255), nullable=False),
    Column("is_currency", Boolean, nullable=False),
    Column("currency_code", String(3), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("archived_at", UtcDateTime, nullable=True),
)
Index("ix_credit_types_tenant", credit_types.c.tenant_id, credit_types.c.id)

billable_metrics = Table(
    "billable_metrics",
    metadata,
    Column("id", String(36), primary_key=True),
    _tenant(),
    Column("name", String(255), nullable=False),
    Column("aggregation_type", String(16), nullable=True),
    Column("aggregation_key", String(255), nullable=True),
    Column("event_type_filter", JsonDoc, nullable=True),
    Column("property_filters", JsonDoc, nullable=False),
    Column("group_keys", JsonDoc, nullable=False),
    Column("sql", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("archived_at", UtcDateTime, nullable=True),
)
Index("ix_billable_metrics_tenant", billable_metrics.c.tenant_id, billable_metrics.c.id)

products = Table(
    "products",
    metadata,
    Column("id", String(36), primary_key=True),
    _tenant(),
    Column("type", String(32), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("archived_at", UtcDateTime, nullable=True),
)
Index("ix_products_tenant", products.c.tenant_id, products.c.id)

# Every state a product has had or will have: seq 0 is `initial`, later rows are `updates`. `spec` is
# the full product state from `starting_at` on; `changes` holds only the fields that update set.
product_versions = Table(
    "product_versions",
    metadata,
    Column("product_id", String(36), ForeignKey("products.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    _tenant(),
    Column("starting_at", UtcDateTime, nullable=False),
    Column("spec", JsonDoc, nullable=False),
    Column("changes", JsonDoc, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(255), nullable=False),
    PrimaryKeyConstraint("product_id", "seq"),
)

rate_cards = Table(
    "rate_cards",
    metadata,
    Column("id", String(36), primary_key=True),
    _tenant(),
    Column("name", String(255), nullable=False),
    Column("description", Text, nullable=True),
    Column("fiat_credit_type_id", String(36), nullable=False),
    Column("credit_type_conversions", JsonDoc, nullable=False),
    Column("product_order", JsonDoc, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(255), nullable=False),
    Column("archived_at", UtcDateTime, nullable=True),
)
Index("ix_rate_cards_tenant", rate_cards.c.tenant_id, rate_cards.c.id)

rate_card_aliases = Table(
    "rate_card_aliases",
    metadata,
    Column("id", String(36), primary_key=True),
    _tenant(),
    Column("rate_card_id", String(36), ForeignKey("rate_cards.id"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("starting_at", UtcDateTime, nullable=True),
    Column("ending_before", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
)
Index("ix_rate_card_aliases_name", rate_card_aliases.c.tenant_id, rate_card_aliases.c.name)
Index("ix_rate_card_aliases_card", rate_card_aliases.c.rate_card_id)

rates = Table(
    "rates",
    metadata,
    Column("id", String(36), primary_key=True),
    _tenant(),
    Column("rate_card_id", String(36), ForeignKey("rate_cards.id"), nullable=False),
    Column("product_id", String(36), ForeignKey("products.id"), nullable=False),
    Column("starting_at", UtcDateTime, nullable=False),
    Column("ending_before", UtcDateTime, nullable=True),
    Column("entitled", Boolean, nullable=False),
    Column("rate_type", String(32), nullable=False),
    Column("price", ExactDecimal, nullable=True),
    Column("quantity", ExactDecimal, nullable=True),
    Column("tiers", JsonDoc, nullable=True),
    Column("is_prorated", Boolean, nullable=True),
    Column("billing_frequency", String(16), nullable=True),
    Column("pricing_group_values", JsonDoc, nullable=True),
    Column("credit_type_id", String(36), nullable=False),
    Column("commit_rate", JsonDoc, nullable=True),
    Column("custom_rate", JsonDoc, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
)
Index("ix_rates_card_product", rates.c.rate_card_id, rates.c.product_id, rates.c.starting_at)

named_schedules = Table(
    "named_schedules",
    metadata,
    Column("id", String(36), primary_key=True),
    _tenant(),
    # rate_card | contract | customer
    Column("owner_type", String(16), nullable=False),
    Column("owner_id", String(36), nullable=False),
    Column("schedule_name", String(255), nullable=False),
    Column("segments", JsonDoc, nullable=False),
)
Index(
    "uq_named_schedules_owner",
    named_schedules.c.tenant_id,
    named_schedules.c.owner_type,
    named_schedules.c.owner_id,
    named_schedules.c.schedule_name,
    unique=True,
)

custom_field_keys = Table(
    "custom_field_keys",
    metadata,
    _tenant(),
    Column("entity", String(32), nullable=False),
    Column("key", String(255), nullable=False),
    Column("enforce_uniqueness", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("tenant_id", "entity", "key"),
)

custom_field_values = Table(
    "custom_field_values",
    metadata,
    _tenant(),
    Column("entity", String(32), nullable=False),
    Column("entity_id", String(36), nullable=False),
    Column("key", String(255), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("tenant_id", "entity", "entity_id", "key"),
)
Index(
    "ix_custom_field_values_lookup",
    custom_field_values.c.tenant_id,
    custom_field_values.c.entity,
    custom_field_values.c.key,
    custom_field_values.c.value,
)

# `uniqueness_key` reservations for any create endpoint that takes one (contracts, commits, ...).
uniqueness_keys = Table(
    "uniqueness_keys",
    metadata,
    _tenant(),
    Column("scope", String(64), nullable=False),
    Column("key", String(255), nullable=False),
    Column("object_id", String(36), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("tenant_id", "scope", "key"),
)
