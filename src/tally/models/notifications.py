"""Lifecycle notifications (Metronome's `v2.notifications.*`): offset configurations, the tenant's system
notification switches, and the schedule of time-based lifecycle moments still to fire.

Write-time events (contract.create, commit.edit, ...) go straight to the webhook outbox in the transaction
of the change. Time-based ones (contract.start, commit.segment.end, and every offset delivery) are rows of
`lifecycle_schedule`, recomputed in the transaction of each change and fired by the worker when the clock
reaches `fire_at`. Each fired moment carries an idempotency key that is unique in `webhook_events`, so a
replayed or repeated firing is never delivered twice.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, String, Table, UniqueConstraint

from tally.models.base import at, doc, key, metadata, ref, tenant_index, tenant_ref

notification_configs = Table(
    "notification_configs",
    metadata,
    key(),
    tenant_ref(),
    Column("name", String(255), nullable=False),
    # The lifecycle event the offset is relative to, e.g. "contract.end".
    Column("event_type", String(64), nullable=False),
    # The ISO-8601 duration as given ("-P7D"); parsed by notifications.durations.
    Column("offset", String(64), nullable=False),
    Column("uniqueness_key", String(128), nullable=True),
    Column("created_by", String(255), nullable=False),
    at("created_at"),
    at("archived_at", nullable=True),
    UniqueConstraint("tenant_id", "uniqueness_key", name="uq_notification_configs_key"),
)
tenant_index(notification_configs)

# Only switches that differ from the default (every system notification is on) are stored.
system_notification_settings = Table(
    "system_notification_settings",
    metadata,
    tenant_ref(primary_key=True),
    Column("event_type", String(64), primary_key=True),
    Column("is_enabled", Boolean, nullable=False),
    at("updated_at"),
)

lifecycle_schedule = Table(
    "lifecycle_schedule",
    metadata,
    key(),
    tenant_ref(),
    # The contract the moment belongs to (NULL for a customer-level commit or credit).
    ref("contract_id", nullable=True),
    # The commit or credit, for commit.* / credit.* moments.
    ref("balance_id", nullable=True),
    # The outbox idempotency key of this delivery; see notifications.lifecycle.moment_key.
    Column("key", String(255), nullable=False),
    Column("event_type", String(64), nullable=False),
    # NULL for the system notification itself; else the offset configuration it fires for.
    ref("offset_id", nullable=True),
    # When the lifecycle event happens (the payload's `timestamp`).
    at("moment"),
    # moment + offset: when the worker sends it.
    at("fire_at"),
    # The envelope without its id: everything but the custom fields, which are read when it fires.
    doc("payload"),
    at("fired_at", nullable=True),
    UniqueConstraint("tenant_id", "key", name="uq_lifecycle_schedule_key"),
)
Index("ix_lifecycle_schedule_due", lifecycle_schedule.c.fired_at, lifecycle_schedule.c.fire_at)
Index("ix_lifecycle_schedule_contract", lifecycle_schedule.c.tenant_id, lifecycle_schedule.c.contract_id)
Index("ix_lifecycle_schedule_balance", lifecycle_schedule.c.tenant_id, lifecycle_schedule.c.balance_id)
