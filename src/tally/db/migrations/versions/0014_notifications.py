"""notifications (issue 12 §6: v2.notifications.*, lifecycle webhook events, outbox idempotency keys)

Revision ID: 0014_notifications
Revises: 0014_contract_package
"""

import sqlalchemy as sa
from alembic import op

from tally.db.types import JsonDoc, UtcDateTime

revision = "0014_notifications"
down_revision = "0014_contract_package"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notification_configs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("offset", sa.String(64), nullable=False),
        sa.Column("uniqueness_key", sa.String(128), nullable=True),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("archived_at", UtcDateTime(), nullable=True),
        sa.UniqueConstraint("tenant_id", "uniqueness_key", name="uq_notification_configs_key"),
    )
    op.create_index("ix_notification_configs_tenant", "notification_configs", ["tenant_id", "id"])
    op.create_table(
        "system_notification_settings",
        sa.Column("tenant_id", sa.String(36), sa.ForeignKey("tenants.id"), primary_key=True),
        sa.Column("event_type", sa.String(64), primary_key=True),
        sa.Column("is_enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "lifecycle_schedule",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("contract_id", sa.String(36), nullable=True),
        sa.Column("balance_id", sa.String(36), nullable=True),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("offset_id", sa.String(36), nullable=True),
        sa.Column("moment", UtcDateTime(), nullable=False),
        sa.Column("fire_at", UtcDateTime(), nullable=False),
        sa.Column("payload", JsonDoc(), nullable=False),
        sa.Column("fired_at", UtcDateTime(), nullable=True),
        sa.UniqueConstraint("tenant_id", "key", name="uq_lifecycle_schedule_key"),
    )
    op.create_index("ix_lifecycle_schedule_due", "lifecycle_schedule", ["fired_at", "fire_at"])
    op.create_index("ix_lifecycle_schedule_contract", "lifecycle_schedule", ["tenant_id", "contract_id"])
    op.create_index("ix_lifecycle_schedule_balance", "lifecycle_schedule", ["tenant_id", "balance_id"])
    with op.batch_alter_table("webhook_events") as batch:
        batch.add_column(sa.Column("idempotency_key", sa.String(255), nullable=True))
        batch.create_unique_constraint("uq_webhook_events_idempotency_key", ["tenant_id", "idempotency_key"])


def downgrade() -> None:
    with op.batch_alter_table("webhook_events") as batch:
        batch.drop_constraint("uq_webhook_events_idempotency_key", type_="unique")
        batch.drop_column("idempotency_key")
    op.drop_index("ix_lifecycle_schedule_balance", "lifecycle_schedule")
    op.drop_index("ix_lifecycle_schedule_contract", "lifecycle_schedule")
    op.drop_index("ix_lifecycle_schedule_due", "lifecycle_schedule")
    op.drop_table("lifecycle_schedule")
    op.drop_table("system_notification_settings")
    op.drop_index("ix_notification_configs_tenant", "notification_configs")
    op.drop_table("notification_configs")
