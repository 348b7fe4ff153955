"""invoice documents: sequential numbers, frozen issuer/bill-to, bill-to details, logos, PDF cache

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

from tally.db.types import JsonDoc, UtcDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# A number, once given, never changes (the invoice guard of 0012 is left as it is; this trigger is its own).
_PG_NUMBER_GUARD = """
CREATE OR REPLACE FUNCTION tally_invoice_number_guard() RETURNS trigger AS $$
BEGIN
  IF OLD.number IS NOT NULL AND (NEW.number IS DISTINCT FROM OLD.number
                                 OR NEW.document IS DISTINCT FROM OLD.document) THEN
    RAISE EXCEPTION 'invoice numbers are never changed';
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER invoices_number_immutable BEFORE UPDATE ON invoices
FOR EACH ROW EXECUTE FUNCTION tally_invoice_number_guard();
"""
_SQLITE_NUMBER_GUARD = """
CREATE TRIGGER invoices_number_immutable BEFORE UPDATE ON invoices
WHEN OLD.number IS NOT NULL AND (NEW.number IS NOT OLD.number OR NEW.document IS NOT OLD.document)
BEGIN
  SELECT RAISE(ABORT, 'invoice numbers are never changed');
END
"""


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    # Plain ALTER TABLE (no batch copy), so the invoices table keeps its triggers on SQLite.
    op.add_column("invoices", sa.Column("number", sa.String(64), nullable=True))
    op.add_column("invoices", sa.Column("document", JsonDoc(), nullable=True))
    op.create_index("uq_invoices_number", "invoices", ["tenant_id", "number"], unique=True)
    op.execute(_PG_NUMBER_GUARD if postgres else _SQLITE_NUMBER_GUARD)
    op.create_table(
        "invoice_number_counters",
        sa.Column("tenant_id", sa.String(36), sa.ForeignKey("tenants.id"), primary_key=True),
        sa.Column("last_number", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "customer_billing_details",
        sa.Column("tenant_id", sa.String(36), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("customer_id", sa.String(36), sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("details", JsonDoc(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "customer_id"),
    )
    op.create_table(
        "invoice_logos",
        sa.Column("tenant_id", sa.String(36), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("media_type", sa.String(32), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "sha256"),
    )
    op.create_table(
        "invoice_pdfs",
        sa.Column("tenant_id", sa.String(36), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("invoice_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "invoice_id", "status"),
    )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.drop_table("invoice_pdfs")
    op.drop_table("invoice_logos")
    op.drop_table("customer_billing_details")
    op.drop_table("invoice_number_counters")
    op.execute("DROP TRIGGER IF EXISTS invoices_number_immutable" + (" ON invoices" if postgres else ""))
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS tally_invoice_number_guard()")
    op.drop_index("uq_invoices_number", "invoices")
    op.drop_column("invoices", "document")
    op.drop_column("invoices", "number")
