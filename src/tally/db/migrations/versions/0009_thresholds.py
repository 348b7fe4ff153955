"""spend-threshold and prepaid-balance recharge state

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

import tally.db.types

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "threshold_state",
        sa.Column("contract_id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("synced_seq", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("evaluated_at", tally.db.types.UtcDateTime(), nullable=True),
        sa.Column("updated_at", tally.db.types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_threshold_state_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("contract_id", name=op.f("pk_threshold_state")),
    )
    with op.batch_alter_table("threshold_state", schema=None) as batch_op:
        batch_op.create_index("ix_threshold_state_enabled", ["enabled"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("threshold_state", schema=None) as batch_op:
        batch_op.drop_index("ix_threshold_state_enabled")
    op.drop_table("threshold_state")
