"""Stripe collection: the tenant's Stripe connection, billing-provider settings, customer billing
configurations, the Stripe invoice sync outbox and applied Stripe webhook events (issue 16)

Revision ID: 0013_stripe
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

import tally.db.types

revision = "0013_stripe"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stripe_connections",
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("salt", sa.String(length=64), nullable=False),
        sa.Column("secret_key_sealed", sa.Text(), nullable=False),
        sa.Column("webhook_secret_sealed", sa.Text(), nullable=True),
        sa.Column("account_id", sa.String(length=255), nullable=True),
        sa.Column("api_base", sa.String(length=2048), nullable=True),
        sa.Column("created_at", tally.db.types.UtcDateTime(), nullable=False),
        sa.Column("updated_at", tally.db.types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_stripe_connections_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_stripe_connections")),
    )
    op.create_table(
        "billing_provider_settings",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("billing_provider", sa.String(length=32), nullable=False),
        sa.Column("delivery_method", sa.String(length=32), nullable=False),
        sa.Column("configuration", tally.db.types.JsonDoc(), nullable=False),
        sa.Column("created_at", tally.db.types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_billing_provider_settings_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_provider_settings")),
    )
    with op.batch_alter_table("billing_provider_settings", schema=None) as batch_op:
        batch_op.create_index("ix_billing_provider_settings_tenant", ["tenant_id", "id"], unique=False)
    op.create_table(
        "customer_billing_configurations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("billing_provider", sa.String(length=32), nullable=False),
        sa.Column("delivery_method", sa.String(length=32), nullable=False),
        sa.Column("delivery_method_id", sa.String(length=36), nullable=False),
        sa.Column("configuration", tally.db.types.JsonDoc(), nullable=False),
        sa.Column("tax_provider", sa.String(length=16), nullable=True),
        sa.Column("created_at", tally.db.types.UtcDateTime(), nullable=False),
        sa.Column("archived_at", tally.db.types.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_customer_billing_configurations_tenant_id_tenants")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_billing_configurations_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_billing_configurations")),
    )
    with op.batch_alter_table("customer_billing_configurations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_customer_billing_configurations_customer", ["tenant_id", "customer_id"], unique=False
        )
    op.create_table(
        "stripe_invoice_syncs",
        sa.Column("invoice_id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("configuration_id", sa.String(length=36), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("void_requested", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", tally.db.types.UtcDateTime(), nullable=True),
        sa.Column("lease", sa.String(length=36), nullable=True),
        sa.Column("stripe_invoice_id", sa.String(length=255), nullable=True),
        sa.Column("external_status", sa.String(length=32), nullable=False),
        sa.Column("external_payment_id", sa.String(length=255), nullable=True),
        sa.Column("invoiced_total", tally.db.types.ExactDecimal(), nullable=True),
        sa.Column("issued_at", tally.db.types.UtcDateTime(), nullable=True),
        sa.Column("pdf_url", sa.String(length=2048), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("reconcile_at", tally.db.types.UtcDateTime(), nullable=True),
        sa.Column("created_at", tally.db.types.UtcDateTime(), nullable=False),
        sa.Column("updated_at", tally.db.types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_stripe_invoice_syncs_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("invoice_id", name=op.f("pk_stripe_invoice_syncs")),
    )
    with op.batch_alter_table("stripe_invoice_syncs", schema=None) as batch_op:
        batch_op.create_index("ix_stripe_invoice_syncs_due", ["state", "next_attempt_at"], unique=False)
        batch_op.create_index("ix_stripe_invoice_syncs_reconcile", ["reconcile_at"], unique=False)
        batch_op.create_index(
            "ix_stripe_invoice_syncs_stripe_id", ["tenant_id", "stripe_invoice_id"], unique=False
        )
    op.create_table(
        "stripe_webhook_events",
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("received_at", tally.db.types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_stripe_webhook_events_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "event_id", name=op.f("pk_stripe_webhook_events")),
    )


def downgrade() -> None:
    op.drop_table("stripe_webhook_events")
    op.drop_table("stripe_invoice_syncs")
    op.drop_table("customer_billing_configurations")
    op.drop_table("billing_provider_settings")
    op.drop_table("stripe_connections")
