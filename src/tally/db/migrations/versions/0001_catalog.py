"""catalog

Revision ID: 0001
Revises:
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import tally.db.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


# Built-in fiat credit types, frozen here as data (migrations never import application code). USD is
# "USD (cents)" with Metronome's own id; the others count whole units; ids match tally.credit_types.builtin.
_FIAT = [
    ("2714e483-4ff1-48e4-9e25-ac732e8f24f2", "USD", "USD (cents)"),
    ("e396a521-ca15-529d-b24f-40a9c5147557", "AUD", "AUD"),
    ("2abed695-f407-524d-b52b-7872d831b0c1", "BRL", "BRL"),
    ("559ea249-8939-5681-8c24-733ddbff6136", "CAD", "CAD"),
    ("69e7b85c-3bc4-564e-bc0c-7674672fa61e", "CHF", "CHF"),
    ("e1c1c145-09ec-55b0-913c-fb89d87ac447", "CZK", "CZK"),
    ("d65c0f88-32fc-507c-a789-8bf63d71828a", "EUR", "EUR"),
    ("20ab516a-ab8a-594a-9576-6a89b036c94c", "GBP", "GBP"),
    ("eb28acd4-db1d-5c69-aed3-cac97c2a43a9", "INR", "INR"),
    ("6f21c30d-deed-5e0b-9db1-1b98ef932f80", "MXN", "MXN"),
    ("7027221f-17e2-51ad-9050-e51cc47a3d94", "NGN", "NGN"),
    ("243e7256-9d25-5f5b-b206-a76069049275", "NOK", "NOK"),
    ("c9c44194-3864-51ad-bd58-51f7e63077af", "PLN", "PLN"),
    ("6f157474-663f-5f4a-8178-93559b061c01", "SEK", "SEK"),
    ("e00c4523-bc76-5b00-8dcd-d1668b272bee", "TRY", "TRY"),
    ("bb3c1241-2b3b-5936-8e8b-c72b5f7d1a89", "ZAR", "ZAR"),
    ("21d638b6-1dba-54c1-92e8-7cee06c3eba9", "NZD", "NZD"),
    ("186eca82-0456-54ac-b2b4-e62fb9abcfff", "SGD", "SGD"),
]
_SEEDED_AT = datetime(2024, 1, 1, tzinfo=UTC)


def upgrade() -> None:

    op.create_table(
        "tenants",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("settings", tally.db.types.JsonDoc(), nullable=False),
        sa.Column("created_at", tally.db.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenants")),
        sa.UniqueConstraint("name", name=op.f("uq_tenants_name")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_at", tally.db.types.UtcDateTime(), nullable=False),
        sa.Column("revoked_at", tally.db.types.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_api_tokens_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index("ix_api_tokens_tenant", ["tenant_id"], unique=False)

    op.create_table(
        "billable_metrics",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("aggregation_type", sa.String(length=16), nullable=True),
        sa.Column("aggregation_key", sa.String(length=255), nullable=True),
        sa.Column("event_type_filter", tally.db.types.JsonDoc(), nullable=True),
        sa.Column("property_filters", tally.db.types.JsonDoc(), nullable=False),
        sa.Column("group_keys", tally.db.types.JsonDoc(), nullable=False),
        sa.Column("sql", sa.Text(), nullable=True),
        sa.Column("created_at", tally.db.types.UtcDateTime(), nullable=False),
        sa.Column("archived_at", tally.db.types.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_billable_metrics_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billable_metrics")),
    )
    with op.batch_alter_table("billable_metrics", schema=None) as batch_op:
        batch_op.create_index("ix_billable_metrics_tenant", ["tenant_id", "id"], unique=False)

    op.create_table(
        "credit_types",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("is_currency", sa.Boolean(), nullable=False),
        sa.Column("currency_code", sa.String(length=3), nullable=True),
        sa.Column("created_at", tally.db.types.UtcDateTime(), nullable=False),
        sa.Column("archived_at", tally.db.types.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_credit_types_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_types")),
    )
    with op.batch_alter_table("credit_types", schema=None) as batch_op:
        batch_op.create_index("ix_credit_types_tenant", ["tenant_id", "id"], unique=False)

    op.create_table(
        "custom_field_keys",
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("enforce_uniqueness", sa.Boolean(), nullable=False),
        sa.Column("created_at", tally.db.types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_custom_field_keys_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "entity", "key", name=op.f("pk_custom_field_keys")),
    )
    op.create_table(
        "custom_field_values",
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_custom_field_values_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "entity", "entity_id", "key", name=op.f("pk_custom_field_values")
        ),
    )
    with op.batch_alter_table("custom_field_values", schema=None) as batch_op:
        batch_op.create_index(
            "ix_custom_field_values_lookup", ["tenant_id", "entity", "key", "value"], unique=False
        )

    op.create_table(
        "named_schedules",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("owner_type", sa.String(length=16), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("schedule_name", sa.String(length=255), nullable=False),
        sa.Column("segments", tally.db.types.JsonDoc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_named_schedules_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_named_schedules")),
    )
    with op.batch_alter_table("named_schedules", schema=None) as batch_op:
        batch_op.create_index(
            "uq_named_schedules_owner", ["tenant_id", "owner_type", "owner_id", "schedule_name"], unique=True
        )

    op.create_table(
        "products",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("created_at", tally.db.types.UtcDateTime(), nullable=False),
        sa.Column("archived_at", tally.db.types.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_products_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
    )
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.create_index("ix_products_tenant", ["tenant_id", "id"], unique=False)

    op.create_table(
        "rate_cards",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("fiat_credit_type_id", sa.String(length=36), nullable=False),
        sa.Column("credit_type_conversions", tally.db.types.JsonDoc(), nullable=False),
        sa.Column("product_order", tally.db.types.JsonDoc(), nullable=False),
        sa.Column("created_at", tally.db.types.UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("archived_at", tally.db.types.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_rate_cards_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_cards")),
    )
    with op.batch_alter_table("rate_cards", schema=None) as batch_op:
        batch_op.create_index("ix_rate_cards_tenant", ["tenant_id", "id"], unique=False)

    op.create_table(
        "uniqueness_keys",
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("object_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", tally.db.types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_uniqueness_keys_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "scope", "key", name=op.f("pk_uniqueness_keys")),
    )
    op.create_table(
        "product_versions",
        sa.Column("product_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("starting_at", tally.db.types.UtcDateTime(), nullable=False),
        sa.Column("spec", tally.db.types.JsonDoc(), nullable=False),
        sa.Column("changes", tally.db.types.JsonDoc(), nullable=False),
        sa.Column("created_at", tally.db.types.UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_product_versions_product_id_products")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_product_versions_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("product_id", "seq", name=op.f("pk_product_versions")),
    )
    op.create_table(
        "rate_card_aliases",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("rate_card_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("starting_at", tally.db.types.UtcDateTime(), nullable=True),
        sa.Column("ending_before", tally.db.types.UtcDateTime(), nullable=True),
        sa.Column("created_at", tally.db.types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["rate_card_id"], ["rate_cards.id"], name=op.f("fk_rate_card_aliases_rate_card_id_rate_cards")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_rate_card_aliases_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_card_aliases")),
    )
    with op.batch_alter_table("rate_card_aliases", schema=None) as batch_op:
        batch_op.create_index("ix_rate_card_aliases_card", ["rate_card_id"], unique=False)
        batch_op.create_index("ix_rate_card_aliases_name", ["tenant_id", "name"], unique=False)

    op.create_table(
        "rates",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("rate_card_id", sa.String(length=36), nullable=False),
        sa.Column("product_id", sa.String(length=36), nullable=False),
        sa.Column("starting_at", tally.db.types.UtcDateTime(), nullable=False),
        sa.Column("ending_before", tally.db.types.UtcDateTime(), nullable=True),
        sa.Column("entitled", sa.Boolean(), nullable=False),
        sa.Column("rate_type", sa.String(length=32), nullable=False),
        sa.Column("price", tally.db.types.ExactDecimal(), nullable=True),
        sa.Column("quantity", tally.db.types.ExactDecimal(), nullable=True),
        sa.Column("tiers", tally.db.types.JsonDoc(), nullable=True),
        sa.Column("is_prorated", sa.Boolean(), nullable=True),
        sa.Column("billing_frequency", sa.String(length=16), nullable=True),
        sa.Column("pricing_group_values", tally.db.types.JsonDoc(), nullable=True),
        sa.Column("credit_type_id", sa.String(length=36), nullable=False),
        sa.Column("commit_rate", tally.db.types.JsonDoc(), nullable=True),
        sa.Column("custom_rate", tally.db.types.JsonDoc(), nullable=True),
        sa.Column("created_at", tally.db.types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], name=op.f("fk_rates_product_id_products")),
        sa.ForeignKeyConstraint(
            ["rate_card_id"], ["rate_cards.id"], name=op.f("fk_rates_rate_card_id_rate_cards")
        ),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_rates_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rates")),
    )
    with op.batch_alter_table("rates", schema=None) as batch_op:
        batch_op.create_index(
            "ix_rates_card_product", ["rate_card_id", "product_id", "starting_at"], unique=False
        )

    op.bulk_insert(
        sa.table(
            "credit_types",
            sa.column("id", sa.String),
            sa.column("tenant_id", sa.String),
            sa.column("name", sa.String),
            sa.column("is_currency", sa.Boolean),
            sa.column("currency_code", sa.String),
            sa.column("created_at", tally.db.types.UtcDateTime()),
        ),
        [
            {
                "id": fid,
                "tenant_id": None,
                "name": name,
                "is_currency": True,
                "currency_code": code,
                "created_at": _SEEDED_AT,
            }
            for fid, code, name in _FIAT
        ],
    )


def downgrade() -> None:

    with op.batch_alter_table("rates", schema=None) as batch_op:
        batch_op.drop_index("ix_rates_card_product")

    op.drop_table("rates")
    with op.batch_alter_table("rate_card_aliases", schema=None) as batch_op:
        batch_op.drop_index("ix_rate_card_aliases_name")
        batch_op.drop_index("ix_rate_card_aliases_card")

    op.drop_table("rate_card_aliases")
    op.drop_table("product_versions")
    op.drop_table("uniqueness_keys")
    with op.batch_alter_table("rate_cards", schema=None) as batch_op:
        batch_op.drop_index("ix_rate_cards_tenant")

    op.drop_table("rate_cards")
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_index("ix_products_tenant")

    op.drop_table("products")
    with op.batch_alter_table("named_schedules", schema=None) as batch_op:
        batch_op.drop_index("uq_named_schedules_owner")

    op.drop_table("named_schedules")
    with op.batch_alter_table("custom_field_values", schema=None) as batch_op:
        batch_op.drop_index("ix_custom_field_values_lookup")

    op.drop_table("custom_field_values")
    op.drop_table("custom_field_keys")
    with op.batch_alter_table("credit_types", schema=None) as batch_op:
        batch_op.drop_index("ix_credit_types_tenant")

    op.drop_table("credit_types")
    with op.batch_alter_table("billable_metrics", schema=None) as batch_op:
        batch_op.drop_index("ix_billable_metrics_tenant")

    op.drop_table("billable_metrics")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index("ix_api_tokens_tenant")

    op.drop_table("api_tokens")
    op.drop_table("tenants")
