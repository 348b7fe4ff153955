"""packages (issue 12: v1.packages.*, contracts created from a package)

Revision ID: 0013_packages
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

from tally.db.types import JsonDoc, UtcDateTime

revision = "0013_packages"
down_revision = "0013_stripe"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "packages",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("doc", JsonDoc(), nullable=False),
        sa.Column("aliases", JsonDoc(), nullable=False),
        sa.Column("uniqueness_key", sa.String(255), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("archived_at", UtcDateTime(), nullable=True),
    )
    op.create_index("ix_packages_tenant", "packages", ["tenant_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_packages_tenant", "packages")
    op.drop_table("packages")
