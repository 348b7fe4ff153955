"""The late-data gate: which events a finalized usage invoice billed, exactly (PROMISES P9, FT-5).

A finalized invoice records an *events watermark*: the position in the event log up to which its usage
was read. Events of its period above the watermark arrived too late and are listed as late events; those
at or below were billed. For that split to be exact, every event at or below the watermark must have been
committed (and so visible to the usage read) when it was taken, and every event committed later must land
above it:

- SQLite serializes writers, so the log position is the events table's rowid (assigned in commit order;
  events are never deleted) and the watermark is `max(rowid)` read inside the finalizing transaction.
- PostgreSQL commits concurrently, so positions come from the `events_seq` sequence (a column default,
  drawn at INSERT). A finalizer takes an exclusive advisory lock on one of the tenant's SLOTS before it
  reads usage and the watermark; an ingest transaction holding events old enough to fall in a period that
  may be finalizing takes every slot shared, before inserting. The lock waits out in-flight ingests, and
  ingests that come later draw positions above the watermark. Real-time events (stamped after
  `now - grace + MARGIN`) cannot belong to a finalizing period and take no lock, so the hot path pays only
  when backfilling. Several finalizers of one tenant take different slots and do not wait for each other.
  All locks are taken in sorted key order, so gate locks cannot deadlock.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import ColumnElement, Connection, func, literal_column, select, text

from tally.db import uow
from tally.models.events import events
from tally.models.tenants import tenants

GRACE_SETTING = "invoice_finalization_grace_hours"
DEFAULT_GRACE_HOURS = 24
SLOTS = 8
# Clock difference tolerated between an API process and a worker process deciding "old enough".
MARGIN = timedelta(hours=1)


def _key(tenant_id: str, slot: int) -> int:
    digest = hashlib.blake2b(f"tally-late-gate:{tenant_id}:{slot}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def grace_hours_of(settings: dict[str, object] | None) -> Decimal:
    """A tenant's finalization grace period in hours, from its settings (24 by default)."""
    return Decimal(str((settings or {}).get(GRACE_SETTING, DEFAULT_GRACE_HOURS)))


def grace_of(settings: dict[str, object] | None) -> timedelta:
    return timedelta(seconds=int(grace_hours_of(settings) * 3600))


def hold_for_ingest(conn: Connection, oldest: dict[str, datetime], now: datetime) -> None:
    """PostgreSQL: before inserting, take every slot of each tenant whose oldest event could fall in a
    period being finalized (stamped before `now - grace + MARGIN`), shared."""
    if conn.dialect.name != "postgresql" or not oldest:
        return
    graces = _graces(conn, oldest)
    keys = sorted(
        _key(tenant_id, slot)
        for tenant_id, ts in oldest.items()
        if ts < now - graces[tenant_id] + MARGIN
        for slot in range(SLOTS)
    )
    if keys:
        conn.execute(
            text("SELECT pg_advisory_xact_lock_shared(k) FROM unnest(CAST(:keys AS bigint[])) k ORDER BY k"),
            {"keys": keys},
        )


# Tenants' grace periods, cached per process for GRACE_TTL: reading them costs a query per ingest
# transaction (measured: -40 % events/s on PostgreSQL). A grace shortened less than GRACE_TTL ago may let
# an old event skip the gate; shortening the grace while backfilling is the only way to hit that.
GRACE_TTL = 10.0
_grace_cache: dict[str, tuple[timedelta, float]] = {}


def _graces(conn: Connection, tenant_ids: Iterable[str]) -> dict[str, timedelta]:
    now = time.monotonic()
    out = {t: hit[0] for t in tenant_ids if (hit := _grace_cache.get(t)) and now - hit[1] < GRACE_TTL}
    missing = sorted(set(tenant_ids) - set(out))
    if missing:
        for r in conn.execute(select(tenants.c.id, tenants.c.settings).where(tenants.c.id.in_(missing))):
            out[r.id] = grace_of(r.settings)
            _grace_cache[r.id] = (out[r.id], now)
        for t in missing:
            out.setdefault(t, grace_of(None))
    return out


def hold_for_finalize(conn: Connection, tenant_id: str) -> None:
    """PostgreSQL: take one of the tenant's slots exclusively (a free one if any, else wait for one) until
    the transaction ends. Re-entrant within a transaction. Then the event store is made to show every
    committed event (the ClickHouse store ships what is left, in this transaction)."""
    if conn.dialect.name == "postgresql":
        uow.per_transaction(conn, "late_gate_slot", tenant_id, lambda: _take_slot(conn, tenant_id))
    uow.per_transaction(conn, "late_gate_visible", "", lambda: _visible(conn))


def _visible(conn: Connection) -> bool:
    from tally.usage import store  # store imports this module (positions)

    store.current().visible(conn)
    return True


def _take_slot(conn: Connection, tenant_id: str) -> int:
    for slot in range(SLOTS):
        got = conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _key(tenant_id, slot)})
        if got.scalar_one():
            return slot
    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _key(tenant_id, 0)})
    return 0


def watermark(conn: Connection, tenant_id: str) -> int:
    """The current end of the event log (call after `hold_for_finalize(conn, tenant_id)`, before reading
    usage). Read once per transaction and tenant, right after that tenant's slot was taken: while it is
    held, no event old enough to belong to a period being finalized can commit for the tenant, so a later
    reading would only add events outside those periods."""
    return uow.per_transaction(conn, "late_gate_watermark", tenant_id, lambda: _read_watermark(conn))


def _read_watermark(conn: Connection) -> int:
    if conn.dialect.name == "postgresql":
        # last_value counts nextval calls of uncommitted transactions too; those belong to other
        # customers' tenants or slots (ours were waited out), so they never hide one of our events.
        value = conn.execute(text("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM events_seq"))
        return int(value.scalar_one())
    top = select(func.coalesce(func.max(position(conn)), 0)).select_from(events)
    return int(conn.execute(top).scalar_one())


def position(conn: Connection) -> ColumnElement[int]:
    """An event's log position, for `position > watermark` filters."""
    if conn.dialect.name == "postgresql":
        return events.c.seq
    return literal_column("events.rowid")


def oldest_by_tenant(pairs: Iterable[tuple[str, datetime]]) -> dict[str, datetime]:
    out: dict[str, datetime] = {}
    for tenant_id, ts in pairs:
        if tenant_id not in out or ts < out[tenant_id]:
            out[tenant_id] = ts
    return out
