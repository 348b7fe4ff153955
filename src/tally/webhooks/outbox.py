"""Enqueue a webhook event in the caller's transaction. Delivery happens after commit (webhooks.delivery)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert

from tally.ids import new_id
from tally.models.webhooks import webhook_events


def enqueue(
    conn: Connection,
    tenant_id: str,
    event_type: str,
    properties: dict[str, Any],
    now: datetime,
) -> str:
    """Stage one event, e.g. `enqueue(conn, t, "alerts.spend_threshold_reached", {...}, now)`. The
    properties must be JSON-able by tally's codec (Decimal, datetime and str values are fine). Returns the
    envelope id."""
    event_id = new_id()
    conn.execute(
        insert(webhook_events).values(
            id=event_id, tenant_id=tenant_id, type=event_type, properties=properties, created_at=now
        )
    )
    return event_id
