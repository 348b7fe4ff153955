"""audit log of API mutations

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import tally.db.types  # noqa: F401

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
