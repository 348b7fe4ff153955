"""invoices, billing state, test clock

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

import tally.db.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Once an invoice has left DRAFT its snapshot and hash never change (a FINALIZED row may only become
# VOID). Enforced in the database so no code path can rewrite an issued invoice.
_PG_GUARD = """
CREATE FUNCTION tally_invoice_guard() RETURNS trigger AS $$
BEGIN
  IF OLD.status <> 'DRAFT' AND (
       NEW.snapshot IS DISTINCT FROM OLD.snapshot
    OR NEW.content_hash IS DISTINCT FROM OLD.content_hash
    OR NEW.period_start IS DISTINCT FROM OLD.period_start
    OR NEW.period_end IS DISTINCT FROM OLD.period_end
    OR NEW.contract_id IS DISTINCT FROM OLD.contract_id
    OR (OLD.status = 'VOID' AND NEW.status <> 'VOID')
    OR (OLD.status = 'FINALIZED' AND NEW.status NOT IN ('FINALIZED', 'VOID'))) THEN
    RAISE EXCEPTION 'issued invoices are immutable';
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER invoices_immutable BEFORE UPDATE ON invoices
  FOR EACH ROW EXECUTE FUNCTION tally_invoice_guard();
CREATE FUNCTION tally_invoice_no_delete() RETURNS trigger AS $$
BEGIN
  IF OLD.status <> 'DRAFT' THEN RAISE EXCEPTION 'issued invoices are immutable'; END IF;
  RETURN OLD;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER invoices_no_delete BEFORE DELETE ON invoices
  FOR EACH ROW EXECUTE FUNCTION tally_invoice_no_delete();
"""

_SQLITE_GUARD = [
    """
CREATE TRIGGER invoices_immutable BEFORE UPDATE ON invoices
WHEN OLD.status <> 'DRAFT' AND (
     NEW.snapshot IS NOT OLD.snapshot
  OR NEW.content_hash IS NOT OLD.content_hash
  OR NEW.period_start IS NOT OLD.period_start
  OR NEW.period_end IS NOT OLD.period_end
  OR NEW.contract_id IS NOT OLD.contract_id
  OR (OLD.status = 'VOID' AND NEW.status <> 'VOID')
  OR (OLD.status = 'FINALIZED' AND NEW.status NOT IN ('FINALIZED', 'VOID')))
BEGIN
  SELECT RAISE(ABORT, 'issued invoices are immutable');
END
""",
    """
CREATE TRIGGER invoices_no_delete BEFORE DELETE ON invoices
WHEN OLD.status <> 'DRAFT'
BEGIN
  SELECT RAISE(ABORT, 'issued invoices are immutable');
END
""",
]


def upgrade() -> None:
    op.create_table(
        "invoices",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("contract_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("period_start", tally.db.types.UtcDateTime(), nullable=False),
        sa.Column("period_end", tally.db.types.UtcDateTime(), nullable=False),
        sa.Column("void_seq", sa.Integer(), nullable=False),
        sa.Column("regenerated_from_invoice_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", tally.db.types.UtcDateTime(), nullable=False),
        sa.Column("finalized_at", tally.db.types.UtcDateTime(), nullable=True),
        sa.Column("voided_at", tally.db.types.UtcDateTime(), nullable=True),
        sa.Column("snapshot", sa.Text(), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_invoices_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
    )
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.create_index(
            "uq_invoices_key",
            ["tenant_id", "contract_id", "kind", "period_start", "period_end", "void_seq"],
            unique=True,
        )
        batch_op.create_index(
            "ix_invoices_customer", ["tenant_id", "customer_id", "period_start"], unique=False
        )
    op.create_table(
        "billing_state",
        sa.Column("contract_id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("next_due_at", tally.db.types.UtcDateTime(), nullable=True),
        sa.Column("synced_seq", sa.Integer(), nullable=False),
        sa.Column("updated_at", tally.db.types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_billing_state_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("contract_id", name=op.f("pk_billing_state")),
    )
    with op.batch_alter_table("billing_state", schema=None) as batch_op:
        batch_op.create_index("ix_billing_state_due", ["next_due_at"], unique=False)
    op.create_table(
        "test_clock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("now", tally.db.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_test_clock")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_GUARD)
    else:
        for stmt in _SQLITE_GUARD:
            op.execute(stmt)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS invoices_immutable ON invoices")
        op.execute("DROP TRIGGER IF EXISTS invoices_no_delete ON invoices")
        op.execute("DROP FUNCTION IF EXISTS tally_invoice_guard()")
        op.execute("DROP FUNCTION IF EXISTS tally_invoice_no_delete()")
    op.drop_table("test_clock")
    with op.batch_alter_table("billing_state", schema=None) as batch_op:
        batch_op.drop_index("ix_billing_state_due")
    op.drop_table("billing_state")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_index("ix_invoices_customer")
        batch_op.drop_index("uq_invoices_key")
    op.drop_table("invoices")
