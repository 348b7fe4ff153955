"""The product catalog: credit types, billable metrics, products (versioned), rate cards, rates,
named schedules, custom fields and uniqueness keys."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, PrimaryKeyConstraint, String, Table, Text

from tally.db.types import ExactDecimal
from tally.models.base import at, doc, key, metadata, ref, tenant_index, tenant_ref


def _tenant() -> Column[str]:
    return tenant_ref()


credit_types = Table(
    "credit_types",
    metadata,
    key(),
    # NULL tenant: a built-in fiat currency visible to every tenant (USD cents, EUR, ...).
    tenant_ref(nullable=True),
    Column("name", String(255), nullable=False),
    Column("is_currency", Boolean, nullable=False),
    Column("currency_code", String(3), nullable=True),
    at("created_at"),
    at("archived_at", nullable=True),
)
tenant_index(credit_types)

billable_metrics = Table(
    "billable_metrics",
    metadata,
    key(),
    tenant_ref(),
    Column("name", String(255), nullable=False),
    Column("aggregation_type", String(16), nullable=True),
    Column("aggregation_key", String(255), nullable=True),
    doc("event_type_filter", nullable=True),
    doc("property_filters"),
    doc("group_keys"),
    Column("sql", Text, nullable=True),
    at("created_at"),
    at("archived_at", nullable=True),
)
tenant_index(billable_metrics)

products = Table(
    "products",
    metadata,
    key(),
    tenant_ref(),
    Column("type", String(32), nullable=False),
    at("created_at"),
    at("archived_at", nullable=True),
)
tenant_index(products)

# Every state a product has had or will have: seq 0 is `initial`, later rows are `updates`. `spec` is
# the full product state from `starting_at` on; `changes` holds only the fields that update set.
product_versions = Table(
    "product_versions",
    metadata,
    ref("product_id", "products"),
    Column("seq", Integer, nullable=False),
    tenant_ref(),
    at("starting_at"),
    doc("spec"),
    doc("changes"),
    at("created_at"),
    Column("created_by", String(255), nullable=False),
    PrimaryKeyConstraint("product_id", "seq"),
)

rate_cards = Table(
    "rate_cards",
    metadata,
    key(),
    tenant_ref(),
    Column("name", String(255), nullable=False),
    Column("description", Text, nullable=True),
    ref("fiat_credit_type_id"),
    doc("credit_type_conversions"),
    doc("product_order"),
    at("created_at"),
    Column("created_by", String(255), nullable=False),
    at("archived_at", nullable=True),
)
tenant_index(rate_cards)

rate_card_aliases = Table(
    "rate_card_aliases",
    metadata,
    key(),
    tenant_ref(),
    ref("rate_card_id", "rate_cards"),
    Column("name", String(255), nullable=False),
    at("starting_at", nullable=True),
    at("ending_before", nullable=True),
    at("created_at"),
)
Index("ix_rate_card_aliases_name", rate_card_aliases.c.tenant_id, rate_card_aliases.c.name)
Index("ix_rate_card_aliases_card", rate_card_aliases.c.rate_card_id)

rates = Table(
    "rates",
    metadata,
    key(),
    tenant_ref(),
    ref("rate_card_id", "rate_cards"),
    ref("product_id", "products"),
    at("starting_at"),
    at("ending_before", nullable=True),
    Column("entitled", Boolean, nullable=False),
    Column("rate_type", String(32), nullable=False),
    Column("price", ExactDecimal, nullable=True),
    Column("quantity", ExactDecimal, nullable=True),
    doc("tiers", nullable=True),
    Column("is_prorated", Boolean, nullable=True),
    Column("billing_frequency", String(16), nullable=True),
    doc("pricing_group_values", nullable=True),
    ref("credit_type_id"),
    doc("commit_rate", nullable=True),
    doc("custom_rate", nullable=True),
    at("created_at"),
)
Index("ix_rates_card_product", rates.c.rate_card_id, rates.c.product_id, rates.c.starting_at)

named_schedules = Table(
    "named_schedules",
    metadata,
    key(),
    tenant_ref(),
    # rate_card | contract | customer
    Column("owner_type", String(16), nullable=False),
    ref("owner_id"),
    Column("schedule_name", String(255), nullable=False),
    doc("segments"),
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
    tenant_ref(),
    Column("entity", String(32), nullable=False),
    Column("key", String(255), nullable=False),
    Column("enforce_uniqueness", Boolean, nullable=False),
    at("created_at"),
    PrimaryKeyConstraint("tenant_id", "entity", "key"),
)

custom_field_values = Table(
    "custom_field_values",
    metadata,
    tenant_ref(),
    Column("entity", String(32), nullable=False),
    ref("entity_id"),
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
    tenant_ref(),
    Column("scope", String(64), nullable=False),
    Column("key", String(255), nullable=False),
    ref("object_id"),
    at("created_at"),
    PrimaryKeyConstraint("tenant_id", "scope", "key"),
)
