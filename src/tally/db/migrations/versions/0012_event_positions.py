"""event log positions and finalized invoices' events watermark (usage.late_gate)

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

from tally.db.invoice_guard import pg_guard, sqlite_guard

# The guarded columns as of 0010, plus the watermark: which events an issued invoice billed never changes.
_GUARDED_0010 = [
    "snapshot",
    "content_hash",
    "period_start",
    "period_end",
    "contract_id",
    "issue_ref",
    "inputs",
]

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("CREATE SEQUENCE events_seq")
    # Plain ALTER TABLE (no batch copy), so the invoices table keeps its immutability triggers on SQLite.
    op.add_column(
        "events",
        sa.Column(
            "seq",
            sa.BigInteger(),
            nullable=True,
            server_default=sa.text("nextval('events_seq')") if postgres else None,
        ),
    )
    if postgres:
        op.execute("ALTER SEQUENCE events_seq OWNED BY events.seq")
    op.add_column("invoices", sa.Column("events_watermark", sa.BigInteger(), nullable=True))
    _guard([*_GUARDED_0010, "events_watermark"])


def _guard(columns: list[str]) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(pg_guard(columns))
    else:
        op.execute("DROP TRIGGER IF EXISTS invoices_immutable")
        op.execute(sqlite_guard(columns))


def downgrade() -> None:
    _guard(_GUARDED_0010)
    op.drop_column("invoices", "events_watermark")  # SQLite >= 3.35 drops columns in place
    op.drop_column("events", "seq")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SEQUENCE IF EXISTS events_seq")
