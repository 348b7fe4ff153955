"""professional-services and historical invoices

Revision ID: 0010
Revises: 0009

Invoices issued by a request (PRO_SERVICES, HISTORICAL) get `issue_ref` (part of the invoice key, so
several pro-services invoices may share an issue date) and `inputs` (what they were computed from). The
immutability guard of 0005 is extended to both columns.
"""

import sqlalchemy as sa
from alembic import op

import tally.db.types
from tally.db.invoice_guard import pg_guard, sqlite_guard

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_OLD_KEY = ["tenant_id", "contract_id", "kind", "period_start", "period_end", "void_seq"]
_NEW_KEY = ["tenant_id", "contract_id", "kind", "period_start", "period_end", "issue_ref", "void_seq"]

_IMMUTABLE = ["snapshot", "content_hash", "period_start", "period_end", "contract_id"]


def upgrade() -> None:
    # Plain ALTER TABLE ADD COLUMN and index statements: the table is not recreated, so its triggers stay.
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("issue_ref", sa.String(length=36), server_default="", nullable=False))
        batch_op.add_column(sa.Column("inputs", tally.db.types.JsonDoc(), nullable=True))
        batch_op.drop_index("uq_invoices_key")
        batch_op.create_index("uq_invoices_key", _NEW_KEY, unique=True)
    guarded = [*_IMMUTABLE, "issue_ref", "inputs"]
    if op.get_bind().dialect.name == "postgresql":
        op.execute(pg_guard(guarded))
    else:
        op.execute("DROP TRIGGER IF EXISTS invoices_immutable")
        op.execute(sqlite_guard(guarded))


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute(pg_guard(_IMMUTABLE))
    else:
        # Dropping columns recreates the table on SQLite: its triggers are made again afterwards.
        op.execute("DROP TRIGGER IF EXISTS invoices_immutable")
        op.execute("DROP TRIGGER IF EXISTS invoices_no_delete")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_index("uq_invoices_key")
        batch_op.create_index("uq_invoices_key", _OLD_KEY, unique=True)
        batch_op.drop_column("inputs")
        batch_op.drop_column("issue_ref")
    if not postgres:
        op.execute(sqlite_guard(_IMMUTABLE))
        op.execute(
            "CREATE TRIGGER invoices_no_delete BEFORE DELETE ON invoices\n"
            "WHEN OLD.status <> 'DRAFT'\n"
            "BEGIN\n  SELECT RAISE(ABORT, 'issued invoices are immutable');\nEND"
        )
