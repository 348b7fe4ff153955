"""Webhook endpoints, the webhook outbox and per-endpoint deliveries.

An event is written to `webhook_events` in the same transaction as the change it reports (Stripe's
transactionally staged outbox), so a rolled-back change never notifies anyone and a committed one always
does. The same transaction adds one `webhook_deliveries` row per active endpoint of the tenant; the
delivery worker reads them after commit and owns their retry state.

Signing secrets are not stored: an endpoint keeps a random salt, and the secret is
HMAC-SHA256(server key, salt), the server key living outside the database (webhooks/secrets.py).
"""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, String, Table, Text, UniqueConstraint

from tally.models.base import at, doc, key, metadata, ref, tenant_index, tenant_ref

webhook_events = Table(
    "webhook_events",
    metadata,
    # The envelope id receivers dedupe on; stable across retries.
    key(),
    tenant_ref(),
    Column("type", String(128), nullable=False),
    # The envelope's `properties` object.
    doc("properties"),
    at("created_at"),
    # Set when the event must exist at most once (a lifecycle moment): a second enqueue with the same key
    # is a no-op, so a replayed worker pass or a restart never sends it twice.
    Column("idempotency_key", String(255), nullable=True),
    UniqueConstraint("tenant_id", "idempotency_key", name="uq_webhook_events_idempotency_key"),
)
Index("ix_webhook_events_tenant", webhook_events.c.tenant_id, webhook_events.c.created_at)

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    key(),
    tenant_ref(),
    Column("url", String(2048), nullable=False),
    Column("description", Text, nullable=True),
    # The signing secret is derived from this salt and the server key; the secret itself is never stored.
    Column("secret_salt", String(64), nullable=False),
    # After rotateSecret: the previous salt, still signing (second header) until it expires.
    Column("previous_secret_salt", String(64), nullable=True),
    at("previous_secret_expires_at", nullable=True),
    at("created_at"),
    at("secret_rotated_at", nullable=True),
    at("archived_at", nullable=True),
)
tenant_index(webhook_endpoints)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    key(),
    tenant_ref(),
    ref("event_id", "webhook_events"),
    ref("endpoint_id", "webhook_endpoints"),
    # pending -> delivered | failed (retries exhausted) | canceled (endpoint archived)
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    # When the next attempt may start; while an attempt is in flight, the end of its lease.
    at("next_attempt_at", nullable=True),
    # Set by each claim; the outcome is recorded only by the claim that still holds it.
    ref("lease", nullable=True),
    at("first_attempted_at", nullable=True),
    at("last_attempted_at", nullable=True),
    at("delivered_at", nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", String(255), nullable=True),
    at("created_at"),
    UniqueConstraint("event_id", "endpoint_id"),
)
Index("ix_webhook_deliveries_due", webhook_deliveries.c.status, webhook_deliveries.c.next_attempt_at)
Index("ix_webhook_deliveries_endpoint", webhook_deliveries.c.endpoint_id, webhook_deliveries.c.status)
# The console's deliveries list (webhooks.service.deliveries_page): newest first, all or by status.
Index(
    "ix_webhook_deliveries_tenant",
    webhook_deliveries.c.tenant_id,
    webhook_deliveries.c.status,
    webhook_deliveries.c.created_at,
    webhook_deliveries.c.id,
)
Index(
    "ix_webhook_deliveries_tenant_time",
    webhook_deliveries.c.tenant_id,
    webhook_deliveries.c.created_at,
    webhook_deliveries.c.id,
)
