"""Deliver staged webhook events: claim, send outside any transaction, record; retry with backoff.

Each (event, endpoint) pair is one `webhook_deliveries` row. A pass repeatedly

1. claims a batch of due rows in one short transaction (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so
   concurrent workers take different rows; SQLite serializes writers): each claim counts an attempt and
   leases the row by moving `next_attempt_at` to now + LEASE under a fresh lease token;
2. commits, then POSTs the envelopes (a few in parallel), each with a freshly dated signature;
3. records each outcome in a second transaction, only if the row still carries its lease token.

Settled events (no delivery still pending) older than `TALLY_WEBHOOKS_RETENTION_DAYS` (30) are deleted
with their deliveries at the end of the pass (`prune`), so the outbox does not grow forever.

A crash between 2 and 3 leaves the row leased; when the lease ends it is claimed again and re-sent with
the same envelope id (at-least-once: receivers dedupe on `id`). Any 2xx acks. Otherwise the next attempt
waits 5 s, doubling up to 15 minutes, then every 15 minutes; an attempt that would start more than
2 days after the first one is not made and the delivery is `failed` (about 200 attempts in all).
Time comes from the Clock, so the test clock walks the schedule.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, exists, func, select, update

from tally import __version__, tracing
from tally.clock import Clock
from tally.db import uow
from tally.ids import new_id
from tally.kit import metrics
from tally.models.tenants import tenants
from tally.models.webhooks import webhook_deliveries, webhook_endpoints, webhook_events
from tally.settings import Settings, load
from tally.webhooks import keys, signing
from tally.webhooks.outbox import PENDING, is_flat
from tally.webhooks.transport import Outcome, post
from tally.wire import encode_json

log = logging.getLogger("tally.webhooks")

DELIVERED, FAILED, CANCELED = "delivered", "failed", "canceled"
FIRST_RETRY = timedelta(seconds=5)
MAX_INTERVAL = timedelta(minutes=15)
GIVE_UP_AFTER = timedelta(days=2)
LEASE = timedelta(minutes=2)
BATCH = 16
PARALLEL = 8
PRUNE_BATCH = 500
PASS_BUDGET_SECONDS = 30.0  # stop claiming new batches after this long, so billing is never starved

D = webhook_deliveries.c
E = webhook_endpoints.c
V = webhook_events.c


def retry_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt: 5 s, 10 s, 20 s, ... capped at 15 minutes."""
    exponent = min(max(attempts - 1, 0), 20)
    delay: timedelta = FIRST_RETRY * (1 << exponent)
    return min(delay, MAX_INTERVAL)


def next_attempt(first_attempted_at: datetime, now: datetime, attempts: int) -> datetime | None:
    """When to try again after a failed attempt at `now`, or None to give up."""
    nxt = now + retry_delay(attempts)
    return None if nxt > first_attempted_at + GIVE_UP_AFTER else nxt


@dataclass(frozen=True)
class Claimed:
    delivery_id: str
    lease: str
    attempt: int
    first_attempted_at: datetime
    event_id: str
    event_type: str
    properties: Any
    endpoint_id: str
    url: str
    secret_salt: str
    previous_salt: str | None


@dataclass
class DeliveryResult:
    attempted: int = 0
    delivered: int = 0
    failed: int = 0


def envelope_bytes(event_id: str, event_type: str, properties: Any) -> bytes:
    """The exact body sent on every attempt (same bytes each time: receivers must verify raw bytes).
    Lifecycle notifications carry their fields at the top level, as Metronome sends them (no `properties`)."""
    if is_flat(event_type) and isinstance(properties, dict):
        return encode_json({"id": event_id, "type": event_type, **properties})
    return encode_json({"id": event_id, "type": event_type, "properties": properties})


def claim(conn: Connection, now: datetime, limit: int = BATCH) -> list[Claimed]:
    """Lease up to `limit` due deliveries and count the attempt (see the module docstring)."""
    q = (
        select(
            D.id,
            D.attempts,
            D.first_attempted_at,
            V.id.label("event_id"),
            V.type,
            V.properties,
            E.id.label("endpoint_id"),
            E.url,
            E.secret_salt,
            E.previous_secret_salt,
            E.previous_secret_expires_at,
        )
        .join(webhook_events, V.id == D.event_id)
        .join(webhook_endpoints, E.id == D.endpoint_id)
        .where(D.status == PENDING, D.next_attempt_at <= now)
        .order_by(D.next_attempt_at, D.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=webhook_deliveries)
    )
    out = []
    for row in conn.execute(q).all():
        lease = new_id()
        first = row.first_attempted_at or now
        done = conn.execute(
            update(webhook_deliveries)
            .where(D.id == row.id, D.status == PENDING, D.attempts == row.attempts)
            .values(
                attempts=row.attempts + 1,
                lease=lease,
                next_attempt_at=now + LEASE,
                first_attempted_at=first,
                last_attempted_at=now,
            )
        )
        if done.rowcount != 1:
            continue  # another worker claimed it between our read and our write
        previous = row.previous_secret_salt
        if previous is not None and (
            row.previous_secret_expires_at is None or row.previous_secret_expires_at <= now
        ):
            previous = None
        out.append(
            Claimed(
                row.id,
                lease,
                row.attempts + 1,
                first,
                row.event_id,
                row.type,
                row.properties,
                row.endpoint_id,
                row.url,
                row.secret_salt,
                previous,
            )
        )
    return out


def headers_for(body: bytes, date: str, key: bytes, c: Claimed) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"tally-webhooks/{__version__}",
        signing.HTTP_DATE_HEADER: date,
        signing.DATE_HEADER: date,
        signing.SIGNATURE_HEADER: signing.sign(keys.derive(key, c.secret_salt), date, body),
    }
    if c.previous_salt is not None:
        headers[signing.PREVIOUS_SIGNATURE_HEADER] = signing.sign(
            keys.derive(key, c.previous_salt), date, body
        )
    return headers


def send(c: Claimed, key: bytes, clock: Clock, settings: Settings) -> Outcome:
    body = envelope_bytes(c.event_id, c.event_type, c.properties)
    date = signing.format_date(clock.now())  # fresh for every attempt
    return post(
        c.url,
        body,
        headers_for(body, date, key, c),
        timeout=settings.webhooks_timeout_seconds,
        allow_private=settings.webhooks_allow_private_urls,
        loopback_only=settings.outbound_loopback_only,
    )


def _send_safely(c: Claimed, key: bytes, clock: Clock, settings: Settings, trace: Any = None) -> Outcome:
    """A bug in building one request must not stop the batch: it becomes a failed attempt. While tracing
    is on, the attempt is a CLIENT span under `trace` (the pass's context: pool threads do not inherit it),
    with ids, the attempt number and the outcome; never the URL (it may hold credentials) or a header."""
    attributes: tracing.Attributes = {
        "tally.webhook.event_id": c.event_id,
        "tally.webhook.event_type": c.event_type,
        "tally.webhook.endpoint_id": c.endpoint_id,
        "tally.webhook.attempt": c.attempt,
    }
    with tracing.span("webhook.deliver", attributes, kind=tracing.client_kind(), context=trace) as span:
        try:
            outcome = send(c, key, clock, settings)
        except Exception:
            log.exception("webhook event %s to endpoint %s: cannot send", c.event_id, c.endpoint_id)
            outcome = Outcome(None, "internal error while sending")
        if span is not None:
            tracing.finish_delivery(span, outcome.status_code, outcome.ok)
        return outcome


def record(conn: Connection, c: Claimed, outcome: Outcome, now: datetime) -> str | None:
    """Store one attempt's outcome; returns the new status, or None if the lease was lost."""
    values: dict[str, Any] = {
        "lease": None,
        "last_status_code": outcome.status_code,
        "last_error": outcome.error[:255] if outcome.error else None,
    }
    if outcome.ok:
        status = DELIVERED
        values.update(status=DELIVERED, delivered_at=now, next_attempt_at=None)
    else:
        nxt = next_attempt(c.first_attempted_at, now, c.attempt)
        status = PENDING if nxt is not None else FAILED
        values.update(status=status, next_attempt_at=nxt)
    done = conn.execute(
        update(webhook_deliveries).where(D.id == c.delivery_id, D.lease == c.lease).values(**values)
    )
    return status if done.rowcount == 1 else None


def deliver_due(engine: Engine, clock: Clock, settings: Settings | None = None) -> DeliveryResult:
    """Attempt every delivery that is due now (called at the end of each billing-worker pass)."""
    settings = settings or load()
    result = DeliveryResult()
    started = time.monotonic()
    while time.monotonic() - started < PASS_BUDGET_SECONDS:
        with uow.write(engine) as conn:
            batch = claim(conn, clock.now())
        if not batch:
            break
        key = keys.server_key(settings)  # cached; only read (or created) once there is work
        trace = tracing.current_context()
        with ThreadPoolExecutor(max_workers=min(PARALLEL, len(batch))) as pool:
            outcomes = list(pool.map(lambda c, k=key, t=trace: _send_safely(c, k, clock, settings, t), batch))
        with uow.write(engine) as conn:
            now = clock.now()
            for c, outcome in zip(batch, outcomes, strict=True):
                status = record(conn, c, outcome, now)
                metrics.WEBHOOK_DELIVERIES.labels(_RESULT.get(status or "", "retrying")).inc()
                result.attempted += 1
                if status == DELIVERED:
                    result.delivered += 1
                elif status == FAILED:
                    result.failed += 1
                if not outcome.ok:
                    log.info(
                        "webhook event %s to endpoint %s: attempt %d failed (%s)%s",
                        c.event_id,
                        c.endpoint_id,
                        c.attempt,
                        outcome.error,
                        "; giving up" if status == FAILED else "",
                    )
    _outbox_backlog(engine, clock)
    return result


_RESULT = {DELIVERED: "delivered", FAILED: "failed"}


def _outbox_backlog(engine: Engine, clock: Clock) -> None:
    with uow.read(engine) as conn:
        due = conn.execute(
            select(func.count()).where(D.status == PENDING, D.next_attempt_at <= clock.now())
        ).scalar_one()
    metrics.WEBHOOK_OUTBOX.set(due)


def prune(engine: Engine, clock: Clock, retention: timedelta) -> int:
    """Delete webhook events created more than `retention` ago whose deliveries are all settled, with
    those deliveries; tenant by tenant through (tenant, created_at), a batch per transaction. An event
    with a delivery still pending stays until it settles. A tenant with nothing to delete costs one read
    (no write transaction, so no SQLite write lock). Returns how many events were deleted."""
    cutoff = clock.now() - retention
    pending = exists().where(D.event_id == V.id, D.status == PENDING)

    def settled(conn: Connection, tenant_id: str) -> list[str]:
        q = select(V.id).where(V.tenant_id == tenant_id, V.created_at < cutoff, ~pending)
        return list(conn.execute(q.order_by(V.created_at).limit(PRUNE_BATCH)).scalars())

    with uow.read(engine) as conn:
        tenant_ids = list(conn.execute(select(tenants.c.id).order_by(tenants.c.id)).scalars())
    removed = 0
    for tenant_id in tenant_ids:
        while True:
            with uow.read(engine) as rconn:
                if not settled(rconn, tenant_id):
                    break
            with uow.write(engine) as wconn:
                ids = settled(wconn, tenant_id)  # again, under the write lock
                wconn.execute(delete(webhook_deliveries).where(D.event_id.in_(ids)))
                wconn.execute(delete(webhook_events).where(V.id.in_(ids)))
            removed += len(ids)
            if len(ids) < PRUNE_BATCH:
                break
    return removed
