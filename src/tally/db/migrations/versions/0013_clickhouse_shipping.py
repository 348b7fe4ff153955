"""ClickHouse event store: how far the event log has been shipped (usage.clickhouse)

Revision ID: 0013_clickhouse_shipping
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_clickhouse_shipping"
down_revision = "0013_packages"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "clickhouse_shipping",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clickhouse_shipping")),
    )


def downgrade() -> None:
    op.drop_table("clickhouse_shipping")
