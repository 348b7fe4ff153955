"""customers_events

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

import tally.db.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "customers",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("customer_config", tally.db.types.JsonDoc(), nullable=False),
        sa.Column("created_at", tally.db.types.UtcDateTime(), nullable=False),
        sa.Column("updated_at", tally.db.types.UtcDateTime(), nullable=False),
        sa.Column("archived_at", tally.db.types.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_customers_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
    )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.create_index("ix_customers_tenant", ["tenant_id", "id"], unique=False)

    op.create_table(
        "events",
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("transaction_id", sa.String(length=255), nullable=False),
        sa.Column("customer_id", sa.String(length=255), nullable=False),
        sa.Column("event_type", sa.String(length=255), nullable=False),
        sa.Column("timestamp", tally.db.types.UtcDateTime(), nullable=False),
        sa.Column("properties", tally.db.types.JsonDoc(), nullable=False),
        sa.Column("received_at", tally.db.types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_events_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("tenant_id", "transaction_id", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_events_customer_time", ["tenant_id", "customer_id", "timestamp"], unique=False
        )

    op.create_table(
        "customer_aliases",
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("alias", sa.String(length=255), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_customer_aliases_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_customer_aliases_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "alias", name=op.f("pk_customer_aliases")),
    )
    with op.batch_alter_table("customer_aliases", schema=None) as batch_op:
        batch_op.create_index("ix_customer_aliases_customer", ["customer_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("customer_aliases", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_aliases_customer")

    op.drop_table("customer_aliases")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_customer_time")

    op.drop_table("events")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index("ix_customers_tenant")

    op.drop_table("customers")
