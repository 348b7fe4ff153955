"""Webhook endpoint configuration and the event log operators read (tally's own API, `/tally/v1/webhooks`).

Metronome configures webhooks in its UI; tally exposes the same settings as API calls. An endpoint's
signing secret is returned once, by create and by rotateSecret, and is never stored (webhooks/keys.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, exists, func, insert, select, update

from tally.errors import BadRequest, NotFound
from tally.ids import new_id
from tally.models.webhooks import webhook_deliveries, webhook_endpoints, webhook_events
from tally.webhooks import keys, ssrf
from tally.webhooks.delivery import CANCELED
from tally.webhooks.outbox import PENDING
from tally.wire import format_timestamp

E = webhook_endpoints.c
D = webhook_deliveries.c
V = webhook_events.c

MAX_ACTIVE_ENDPOINTS = 20
DEFAULT_ROTATION_WINDOW = timedelta(hours=24)


def check_url(url: str, *, allow_private: bool) -> None:
    """SEC-7 at registration: resolves the host, so call it outside any transaction."""
    try:
        ssrf.check(url, allow_private=allow_private)
    except ssrf.BlockedURL as exc:
        raise BadRequest(f"url: {exc}") from None


def create(
    conn: Connection, tenant_id: str, url: str, description: str | None, key: bytes, now: datetime
) -> tuple[Row[Any], str]:
    """Register an endpoint; returns its row and its signing secret (shown this once)."""
    active = conn.execute(
        select(func.count()).where(E.tenant_id == tenant_id, E.archived_at.is_(None))
    ).scalar_one()
    if active >= MAX_ACTIVE_ENDPOINTS:
        raise BadRequest(f"url: at most {MAX_ACTIVE_ENDPOINTS} active webhook endpoints; archive one first")
    endpoint_id = new_id()
    salt = keys.new_salt()
    conn.execute(
        insert(webhook_endpoints).values(
            id=endpoint_id,
            tenant_id=tenant_id,
            url=url,
            description=description,
            secret_salt=salt,
            created_at=now,
        )
    )
    return _get(conn, tenant_id, endpoint_id), keys.derive(key, salt)


def _get(conn: Connection, tenant_id: str, endpoint_id: str, *, lock: bool = False) -> Row[Any]:
    q = select(webhook_endpoints).where(E.tenant_id == tenant_id, E.id == endpoint_id)
    if lock:
        q = q.with_for_update()
    row = conn.execute(q).first()
    if row is None:
        raise NotFound(f"id: webhook endpoint {endpoint_id} not found")
    return row


def page(
    conn: Connection, tenant_id: str, after: str | None, limit: int, include_archived: bool
) -> list[Row[Any]]:
    q = select(webhook_endpoints).where(E.tenant_id == tenant_id)
    if not include_archived:
        q = q.where(E.archived_at.is_(None))
    if after is not None:
        q = q.where(E.id > after)
    return list(conn.execute(q.order_by(E.id).limit(limit + 1)))


def archive(conn: Connection, tenant_id: str, endpoint_id: str, now: datetime) -> None:
    """Stop sending to the endpoint (idempotent): pending deliveries are canceled."""
    row = _get(conn, tenant_id, endpoint_id, lock=True)
    if row.archived_at is not None:
        return
    conn.execute(update(webhook_endpoints).where(E.id == endpoint_id).values(archived_at=now))
    conn.execute(
        update(webhook_deliveries)
        .where(D.endpoint_id == endpoint_id, D.status == PENDING)
        .values(status=CANCELED, next_attempt_at=None, lease=None)
    )


def rotate_secret(
    conn: Connection, tenant_id: str, endpoint_id: str, ttl_hours: int | None, key: bytes, now: datetime
) -> tuple[Row[Any], str]:
    """Give the endpoint a new secret; the current one keeps signing alongside it (second header) for
    `ttl_hours` (default 24, 0 = stop now). A previous secret still in its window is dropped."""
    row = _get(conn, tenant_id, endpoint_id, lock=True)
    if row.archived_at is not None:
        raise BadRequest(f"id: webhook endpoint {endpoint_id} is archived")
    window = DEFAULT_ROTATION_WINDOW if ttl_hours is None else timedelta(hours=ttl_hours)
    salt = keys.new_salt()
    conn.execute(
        update(webhook_endpoints)
        .where(E.id == endpoint_id)
        .values(
            secret_salt=salt,
            previous_secret_salt=row.secret_salt if window else None,
            previous_secret_expires_at=now + window if window else None,
            secret_rotated_at=now,
        )
    )
    return _get(conn, tenant_id, endpoint_id), keys.derive(key, salt)


def to_wire(row: Row[Any], now: datetime) -> dict[str, Any]:
    out: dict[str, Any] = {"id": row.id, "url": row.url, "created_at": format_timestamp(row.created_at)}
    if row.description is not None:
        out["description"] = row.description
    if row.archived_at is not None:
        out["archived_at"] = format_timestamp(row.archived_at)
    if row.secret_rotated_at is not None:
        out["secret_rotated_at"] = format_timestamp(row.secret_rotated_at)
    expires = row.previous_secret_expires_at
    if row.previous_secret_salt is not None and expires is not None and expires > now:
        out["previous_secret_expires_at"] = format_timestamp(expires)
    return out


def events_page(
    conn: Connection,
    tenant_id: str,
    *,
    webhook_id: str | None,
    event_type: str | None,
    before: str | None,
    limit: int,
) -> list[Row[Any]]:
    """The tenant's events, newest first (ids are time-ordered)."""
    if webhook_id is not None:
        _get(conn, tenant_id, webhook_id)
    q = select(webhook_events).where(V.tenant_id == tenant_id)
    if webhook_id is not None:
        q = q.where(exists().where(D.event_id == V.id, D.endpoint_id == webhook_id))
    if event_type is not None:
        q = q.where(V.type == event_type)
    if before is not None:
        q = q.where(V.id < before)
    return list(conn.execute(q.order_by(V.id.desc()).limit(limit + 1)))


def deliveries_of(
    conn: Connection, tenant_id: str, event_ids: list[str], webhook_id: str | None
) -> dict[str, list[Row[Any]]]:
    out: dict[str, list[Row[Any]]] = {e: [] for e in event_ids}
    if not event_ids:
        return out
    q = select(webhook_deliveries).where(D.tenant_id == tenant_id, D.event_id.in_(event_ids))
    if webhook_id is not None:
        q = q.where(D.endpoint_id == webhook_id)
    for row in conn.execute(q.order_by(D.endpoint_id)):
        out[row.event_id].append(row)
    return out


def _ts(value: datetime | None) -> str | None:
    return None if value is None else format_timestamp(value)


def event_to_wire(event: Row[Any], deliveries: list[Row[Any]]) -> dict[str, Any]:
    return {
        "id": event.id,
        "type": event.type,
        "properties": event.properties,
        "created_at": format_timestamp(event.created_at),
        # Each delivery as delivery_to_wire shows it, without the ids the event already gives.
        "deliveries": [
            {k: v for k, v in delivery_to_wire(d).items() if k not in ("id", "event_id")} for d in deliveries
        ],
    }


# --- deliveries (the console's /ui/webhooks and POST /tally/v1/webhooks/deliveries/retry) ---------------

FAILED = "failed"


def deliveries_page(
    conn: Connection,
    tenant_id: str,
    *,
    failed_only: bool,
    before: tuple[datetime, str] | None,
    limit: int,
) -> list[Row[Any]]:
    """The tenant's deliveries newest first (all, or the failed ones), each with its event's type and its
    endpoint's URL; up to limit + 1 rows, after the (created_at, id) key `before` (indexes
    ix_webhook_deliveries_tenant_time / ix_webhook_deliveries_tenant)."""
    q = (
        select(webhook_deliveries, V.type.label("event_type"), E.url.label("endpoint_url"))
        .join(webhook_events, V.id == D.event_id)
        .join(webhook_endpoints, E.id == D.endpoint_id)
        .where(D.tenant_id == tenant_id)
    )
    if failed_only:
        q = q.where(D.status == FAILED)
    if before is not None:
        q = q.where((D.created_at < before[0]) | ((D.created_at == before[0]) & (D.id < before[1])))
    return list(conn.execute(q.order_by(D.created_at.desc(), D.id.desc()).limit(limit + 1)))


def retry_delivery(conn: Connection, tenant_id: str, delivery_id: str, now: datetime) -> Row[Any]:
    """Send a failed delivery again: it is pending and due now, with a fresh retry schedule (its attempts
    keep counting). Only a failed delivery can be retried; its endpoint must not be archived."""
    q = select(webhook_deliveries).where(D.tenant_id == tenant_id, D.id == delivery_id).with_for_update()
    row = conn.execute(q).first()
    if row is None:
        raise NotFound(f"id: webhook delivery {delivery_id} not found")
    if row.status != FAILED:
        raise BadRequest(
            f"id: webhook delivery {delivery_id} is {row.status}; only a failed one can be retried"
        )
    if _get(conn, tenant_id, row.endpoint_id).archived_at is not None:
        raise BadRequest(f"id: webhook endpoint {row.endpoint_id} is archived")
    conn.execute(
        update(webhook_deliveries)
        .where(D.id == delivery_id)
        .values(status=PENDING, next_attempt_at=now, first_attempted_at=None, lease=None)
    )
    found = conn.execute(select(webhook_deliveries).where(D.id == delivery_id)).first()
    assert found is not None
    return found


def delivery_to_wire(d: Row[Any]) -> dict[str, Any]:
    return {
        "id": d.id,
        "event_id": d.event_id,
        "webhook_id": d.endpoint_id,
        "status": d.status,
        "attempts": d.attempts,
        "first_attempted_at": _ts(d.first_attempted_at),
        "last_attempted_at": _ts(d.last_attempted_at),
        # While an attempt is in flight this is the end of its lease.
        "next_attempt_at": _ts(d.next_attempt_at),
        "delivered_at": _ts(d.delivered_at),
        "last_status_code": d.last_status_code,
        "last_error": d.last_error,
    }
