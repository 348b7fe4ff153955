"""alerts, customer alert status and the alert evaluator's change-feed indexes

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

import tally.db.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("alert_type", sa.String(length=64), nullable=False),
        sa.Column("threshold", tally.db.types.ExactDecimal(), nullable=False),
        sa.Column("credit_type_id", sa.String(length=36), nullable=True),
        sa.Column("customer_id", sa.String(length=36), nullable=True),
        sa.Column("billable_metric_id", sa.String(length=36), nullable=True),
        sa.Column("filters", tally.db.types.JsonDoc(), nullable=False),
        sa.Column("evaluate_on_create", sa.Boolean(), nullable=False),
        sa.Column("uniqueness_key", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("sweep_pending", sa.Boolean(), nullable=False),
        sa.Column("sweep_after", sa.String(length=36), nullable=True),
        sa.Column("created_at", tally.db.types.UtcDateTime(), nullable=False),
        sa.Column("archived_at", tally.db.types.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_alerts_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index("ix_alerts_customer", ["tenant_id", "customer_id"], unique=False)
        batch_op.create_index("ix_alerts_tenant", ["tenant_id", "status", "id"], unique=False)
        batch_op.create_index("uq_alerts_uniqueness_key", ["tenant_id", "uniqueness_key"], unique=True)

    op.create_table(
        "alert_states",
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("alert_id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("triggered_by", sa.String(length=64), nullable=True),
        sa.Column("figure", tally.db.types.ExactDecimal(), nullable=True),
        sa.Column("detail", tally.db.types.JsonDoc(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", tally.db.types.UtcDateTime(), nullable=False),
        sa.Column("evaluated_at", tally.db.types.UtcDateTime(), nullable=False),
        sa.Column("next_check_at", tally.db.types.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], name=op.f("fk_alert_states_alert_id_alerts")),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_alert_states_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("alert_id", "customer_id", name=op.f("pk_alert_states")),
    )
    with op.batch_alter_table("alert_states", schema=None) as batch_op:
        batch_op.create_index("ix_alert_states_customer", ["tenant_id", "customer_id"], unique=False)
        batch_op.create_index("ix_alert_states_due", ["next_check_at"], unique=False)

    op.create_table(
        "alert_watermarks",
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("checked_at", tally.db.types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_alert_watermarks_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_alert_watermarks")),
    )

    # The evaluator's change feed on other domains' tables (models/alerts.py).
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_received", ["tenant_id", "received_at"], unique=False)
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_entries_created", ["tenant_id", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_entries_created")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_received")
    op.drop_table("alert_watermarks")
    with op.batch_alter_table("alert_states", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_states_due")
        batch_op.drop_index("ix_alert_states_customer")
    op.drop_table("alert_states")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("uq_alerts_uniqueness_key")
        batch_op.drop_index("ix_alerts_tenant")
        batch_op.drop_index("ix_alerts_customer")
    op.drop_table("alerts")
