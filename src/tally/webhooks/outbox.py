"""Enqueue a webhook event in the caller's transaction. Delivery happens after commit (webhooks.delivery)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from tally.db import uow
from tally.db.upsert import insert_ignore
from tally.ids import new_id
from tally.models.webhooks import webhook_deliveries, webhook_endpoints, webhook_events

PENDING = "pending"
# Lifecycle notifications (Metronome's system and offset notifications) have no `properties` object: their
# fields sit at the top level of the envelope, next to `id` and `type` (webhooks.delivery.envelope_bytes).
FLAT_PREFIXES = ("contract.", "commit.", "credit.")


def is_flat(event_type: str) -> bool:
    return event_type.startswith(FLAT_PREFIXES)


def enqueue(
    conn: Connection,
    tenant_id: str,
    event_type: str,
    properties: dict[str, Any],
    now: datetime,
) -> str:
    """Stage one event, e.g. `enqueue(conn, t, "alerts.spend_threshold_reached", {...}, now)`. The
    properties must be JSON-able by tally's codec (Decimal, datetime and str values are fine). Returns the
    envelope id.

    The event goes to the tenant's endpoints that exist (and are not archived) in this transaction: one
    pending delivery each, due at `now`. If the transaction rolls back, neither the event nor its
    deliveries exist, so nothing is ever sent for it."""
    event_id = _stage(conn, tenant_id, event_type, properties, now, None)
    assert event_id is not None
    return event_id


def enqueue_once(
    conn: Connection,
    tenant_id: str,
    event_type: str,
    properties: dict[str, Any],
    now: datetime,
    key: str,
) -> str | None:
    """`enqueue`, at most once per tenant and `key`: if an event with this key was already staged (and
    committed, or staged earlier in this transaction) this stages nothing and returns None. The unique
    index on (tenant_id, idempotency_key) decides, so two workers racing on the same key send it once."""
    return _stage(conn, tenant_id, event_type, properties, now, key)


def _stage(
    conn: Connection,
    tenant_id: str,
    event_type: str,
    properties: dict[str, Any],
    now: datetime,
    key: str | None,
) -> str | None:
    event_id = new_id()
    values = {
        "id": event_id,
        "tenant_id": tenant_id,
        "type": event_type,
        "properties": properties,
        "created_at": now,
        "idempotency_key": key,
    }
    if key is None:
        conn.execute(insert(webhook_events).values(**values))
    elif not insert_ignore(conn, webhook_events, values):
        return None
    endpoint_ids = _endpoints(conn, tenant_id)
    rows = [
        {
            "id": new_id(),
            "tenant_id": tenant_id,
            "event_id": event_id,
            "endpoint_id": endpoint_id,
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for endpoint_id in endpoint_ids
    ]
    if rows:
        conn.execute(insert(webhook_deliveries), rows)
    return event_id


def _endpoints(conn: Connection, tenant_id: str) -> list[str]:
    """The tenant's active endpoints, read once per transaction (a worker pass finalizing thousands of
    invoices enqueues thousands of events): the transaction's view of "endpoints that exist now"."""
    query = select(webhook_endpoints.c.id).where(
        webhook_endpoints.c.tenant_id == tenant_id, webhook_endpoints.c.archived_at.is_(None)
    )
    return uow.per_transaction(
        conn, "webhook_endpoints", tenant_id, lambda: list(conn.execute(query).scalars())
    )
