"""Webhook endpoints and the webhook outbox.

An event is written to `webhook_events` in the same transaction as the change it reports (Stripe's
transactionally staged outbox), so a rolled-back change never notifies anyone and a committed one always
does. Delivery reads the outbox after commit; `webhook_deliveries` tracks one row per (event, endpoint).
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, String, Table

from tally.db.types import JsonDoc, UtcDateTime
from tally.models.base import metadata

webhook_events = Table(
    "webhook_events",
    metadata,
    # The envelope id receivers dedupe on; stable across retries.
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id"), nullable=False),
    Column("type", String(128), nullable=False),
    # The envelope's `properties` object.
    Column("properties", JsonDoc, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)
Index("ix_webhook_events_tenant", webhook_events.c.tenant_id, webhook_events.c.created_at)
