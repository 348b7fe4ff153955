"""Operator console, events / webhooks / audit pages (issue 14 §3): indexes for their listings

- events (tenant_id, event_type, customer_id, timestamp): the event types of a tenant (loose index scan)
  and, per event type no billable metric admits, the customer keys with counts and first/last seen.
- webhook_deliveries (tenant_id, status, created_at, id): recent deliveries, and the failed ones, newest
  first.
- audit_logs (tenant_id, actor_name, created_at, id) and (tenant_id, action, created_at, id): the audit
  log filtered by actor or by action, newest first.

Revision ID: 0015_console_ops_indexes
Revises: 0014_console_users
"""

from alembic import op

revision = "0015_console_ops_indexes"
down_revision = "0014_console_users"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_events_type_customer", "events", ["tenant_id", "event_type", "customer_id", "timestamp"]
    )
    op.create_index(
        "ix_webhook_deliveries_tenant",
        "webhook_deliveries",
        ["tenant_id", "status", "created_at", "id"],
    )
    op.create_index(
        "ix_webhook_deliveries_tenant_time", "webhook_deliveries", ["tenant_id", "created_at", "id"]
    )
    op.create_index("ix_audit_logs_actor", "audit_logs", ["tenant_id", "actor_name", "created_at", "id"])
    op.create_index("ix_audit_logs_action", "audit_logs", ["tenant_id", "action", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_audit_logs_action", "audit_logs")
    op.drop_index("ix_audit_logs_actor", "audit_logs")
    op.drop_index("ix_webhook_deliveries_tenant_time", "webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_tenant", "webhook_deliveries")
    op.drop_index("ix_events_type_customer", "events")
