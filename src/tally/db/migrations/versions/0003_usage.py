"""usage rollups

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

import tally.db.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "usage_rollups",
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("metric_id", sa.String(length=36), nullable=False),
        sa.Column("customer_key", sa.String(length=255), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("group_key", sa.String(length=512), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("total", tally.db.types.ExactDecimal(), nullable=True),
        sa.Column("maximum", tally.db.types.ExactDecimal(), nullable=True),
        sa.Column("latest_ts", tally.db.types.UtcDateTime(), nullable=True),
        sa.Column("latest_txn", sa.String(length=255), nullable=True),
        sa.Column("latest_value", tally.db.types.ExactDecimal(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_usage_rollups_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "metric_id", "customer_key", "hour", "group_key", name=op.f("pk_usage_rollups")
        ),
    )
    with op.batch_alter_table("usage_rollups", schema=None) as batch_op:
        batch_op.create_index(
            "ix_usage_rollups_time", ["tenant_id", "metric_id", "hour", "customer_key"], unique=False
        )
    op.create_table(
        "usage_uniques",
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("metric_id", sa.String(length=36), nullable=False),
        sa.Column("slice", sa.Integer(), nullable=False),
        sa.Column("customer_key", sa.String(length=255), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("group_key", sa.String(length=512), nullable=False),
        sa.Column("value", sa.String(length=512), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_usage_uniques_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id",
            "metric_id",
            "slice",
            "customer_key",
            "hour",
            "group_key",
            "value",
            name=op.f("pk_usage_uniques"),
        ),
    )
    op.create_table(
        "usage_group_values",
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("group_key", sa.String(length=512), nullable=False),
        sa.Column("group_values", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_usage_group_values_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "group_key", name=op.f("pk_usage_group_values")),
    )


def downgrade() -> None:
    op.drop_table("usage_group_values")
    op.drop_table("usage_uniques")
    with op.batch_alter_table("usage_rollups", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_rollups_time")
    op.drop_table("usage_rollups")
