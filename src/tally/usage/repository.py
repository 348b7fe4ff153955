"""Reads of the metering rollups. Aggregation runs in the database (GROUP BY per window bucket); the
service only merges the few rows of a customer's several ingest keys. SQLite sums and maxima go through
the exact decimal functions of tally.usage.sqlfuncs; PostgreSQL's NUMERIC is exact on its own."""

from __future__ import annotations

import heapq
from collections.abc import Generator, Iterable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    TextClause,
    distinct,
    func,
    literal,
    literal_column,
    select,
    text,
)

from tally.metering import hour_start
from tally.models.catalog import billable_metrics as bm
from tally.models.events import events as ev
from tally.models.usage import usage_group_values as ugv
from tally.models.usage import usage_rollups as ur
from tally.models.usage import usage_uniques as uu
from tally.usage import late_gate, sqlfuncs
from tally.usage.events import Cell, EventGroup, LatestCell, RawEvent, Span


def _bucket(hour: ColumnElement[int], span: Span) -> ColumnElement[Any]:
    if span.width is None:
        return literal(0)
    # Inline integer constants (not bind parameters), so the GROUP BY expression is textually the one
    # selected on PostgreSQL. hour >= first, so integer division truncates alike on both databases.
    offset = (hour - literal_column(str(int(span.first)))).self_group()
    return offset if span.width == 1 else offset.op("/")(literal_column(str(int(span.width))))


def _dec(value: Any) -> Decimal | None:
    if value is None:
        return None
    return value if isinstance(value, Decimal) else Decimal(value)


def sums(
    conn: Connection, tenant_id: str, metric_id: str, customer_keys: list[str], span: Span, by_group: bool
) -> list[Cell]:
    """COUNT/SUM/MAX per (customer key, window bucket[, group]) for one metric."""
    if not customer_keys:
        return []
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        sqlfuncs.ensure(conn)
        total = func.tally_dec_sum(ur.c.total)
        maximum = func.tally_dec_maxagg(ur.c.maximum)
    else:
        total = func.sum(ur.c.total)
        maximum = func.max(ur.c.maximum)
    bucket = _bucket(ur.c.hour, span).label("bucket")
    group = ur.c.group_key if by_group else literal("[]")
    q = (
        select(ur.c.customer_key, bucket, group.label("g"), func.sum(ur.c.count), total, maximum)
        .where(
            ur.c.tenant_id == tenant_id,
            ur.c.metric_id == metric_id,
            ur.c.customer_key.in_(customer_keys),
            ur.c.hour >= span.first,
            ur.c.hour < span.end,
        )
        .group_by(
            ur.c.customer_key,
            *([bucket] if span.width is not None else []),
            *([ur.c.group_key] if by_group else []),
        )
    )
    return [Cell(r[0], int(r[1]), r[2], int(r[3]), _dec(r[4]), _dec(r[5])) for r in conn.execute(q)]


def latest(
    conn: Connection, tenant_id: str, metric_id: str, customer_keys: list[str], span: Span
) -> list[LatestCell]:
    """The hourly latest points; the service keeps the greatest (timestamp, transaction id) per window."""
    if not customer_keys:
        return []
    q = select(
        ur.c.customer_key, ur.c.hour, ur.c.group_key, ur.c.latest_ts, ur.c.latest_txn, ur.c.latest_value
    ).where(
        ur.c.tenant_id == tenant_id,
        ur.c.metric_id == metric_id,
        ur.c.customer_key.in_(customer_keys),
        ur.c.hour >= span.first,
        ur.c.hour < span.end,
        ur.c.latest_ts.is_not(None),
    )
    out = []
    for r in conn.execute(q):
        bucket = 0 if span.width is None else (r.hour - span.first) // span.width
        out.append(LatestCell(r.customer_key, bucket, r.group_key, r.latest_ts, r.latest_txn, r.latest_value))
    return out


def distinct_counts(
    conn: Connection,
    tenant_id: str,
    metric_id: str,
    slice_index: int,
    customer_keys: list[str],
    span: Span,
) -> list[tuple[int, str, int]]:
    """UNIQUE: (bucket, group key, distinct values) across all the keys of ONE customer."""
    if not customer_keys:
        return []
    bucket = _bucket(uu.c.hour, span).label("bucket")
    q = (
        select(bucket, uu.c.group_key, func.count(distinct(uu.c.value)))
        .where(
            uu.c.tenant_id == tenant_id,
            uu.c.metric_id == metric_id,
            uu.c.slice == slice_index,
            uu.c.customer_key.in_(customer_keys),
            uu.c.hour >= span.first,
            uu.c.hour < span.end,
        )
        .group_by(*([bucket] if span.width is not None else []), uu.c.group_key)
    )
    return [(int(r[0]), r[1], int(r[2])) for r in conn.execute(q)]


def customer_keys_with_usage(
    conn: Connection, tenant_id: str, metric_ids: list[str], span: Span
) -> list[str]:
    if not metric_ids:
        return []
    q = (
        select(ur.c.customer_key)
        .where(
            ur.c.tenant_id == tenant_id,
            ur.c.metric_id.in_(metric_ids),
            ur.c.hour >= span.first,
            ur.c.hour < span.end,
        )
        .distinct()
    )
    return [r[0] for r in conn.execute(q)]


def customer_keys_with_events(conn: Connection, tenant_id: str, span: Span) -> list[str]:
    q = (
        select(ev.c.customer_id)
        .where(
            ev.c.tenant_id == tenant_id,
            ev.c.timestamp >= hour_start(span.first),
            ev.c.timestamp < hour_start(span.end),
        )
        .distinct()
    )
    return [r[0] for r in conn.execute(q)]


def long_groups(conn: Connection, tenant_id: str, keys: Iterable[str]) -> dict[str, str]:
    wanted = list(set(keys))
    if not wanted:
        return {}
    q = select(ugv.c.group_key, ugv.c.group_values).where(
        ugv.c.tenant_id == tenant_id, ugv.c.group_key.in_(wanted)
    )
    return {r[0]: r[1] for r in conn.execute(q)}


def events_by_transaction(conn: Connection, tenant_id: str, transaction_ids: list[str]) -> list[Row[Any]]:
    if not transaction_ids:
        return []
    q = select(ev).where(ev.c.tenant_id == tenant_id, ev.c.transaction_id.in_(transaction_ids))
    return list(conn.execute(q).all())


def streaming_metric_rows(conn: Connection, tenant_id: str) -> list[Row[Any]]:
    """Every streaming metric of the tenant, archived ones included (they still meter, SPEC §2.5)."""
    q = select(bm).where(bm.c.tenant_id == tenant_id, bm.c.sql.is_(None), bm.c.aggregation_type.is_not(None))
    return list(conn.execute(q.order_by(bm.c.id)).all())


def raw_events(
    conn: Connection,
    tenant_id: str,
    keys: list[str],
    start: datetime,
    end: datetime,
    event_types: list[str] | None = None,
    after_position: int | None = None,
) -> Iterator[RawEvent]:
    """The events of these customer keys stamped in [start, end), in (timestamp, transaction id) order,
    streamed, optionally only of `event_types` and only logged after `after_position`. The caller may stop
    reading early (an explanation's page): the cursors are closed.

    One query per customer key (and event type), each an index range in timestamp order
    (ix_events_customer_time, or ix_events_type_customer with types) that PostgreSQL streams with an
    incremental sort on the transaction id, merged here: the first rows come without sorting the period.
    (PostgreSQL does not merge the branches of a UNION ALL this way; it sorts them all.) Transaction ids
    compare bytewise (COLLATE "C" on PostgreSQL, SQLite's default), as Python compares them."""
    position = late_gate.position(conn)
    txn = ev.c.transaction_id.collate("C") if conn.dialect.name == "postgresql" else ev.c.transaction_id
    branches = []
    for key in dict.fromkeys(keys):
        for event_type in dict.fromkeys(event_types) if event_types is not None else [None]:
            stmt = select(
                ev.c.transaction_id,
                ev.c.customer_id,
                ev.c.event_type,
                ev.c.timestamp,
                ev.c.properties,
                ev.c.received_at,
                position.label("position"),
            ).where(ev.c.tenant_id == tenant_id, ev.c.customer_id == key, ev.c.timestamp >= start)
            stmt = stmt.where(ev.c.timestamp < end)
            if event_type is not None:
                stmt = stmt.where(ev.c.event_type == event_type)
            if after_position is not None:
                stmt = stmt.where(position > after_position)
            branches.append(_stream(conn, stmt.order_by(ev.c.timestamp, txn)))
    try:
        if len(branches) == 1:
            yield from branches[0]
        else:
            yield from heapq.merge(*branches, key=lambda e: (e.timestamp, e.transaction_id))
    finally:
        for b in branches:
            b.close()


def _stream(conn: Connection, stmt: Any) -> Generator[RawEvent]:
    result = conn.execution_options(stream_results=True, yield_per=500).execute(stmt)
    try:
        for r in result:
            yield RawEvent(
                r.transaction_id,
                r.customer_id,
                r.event_type,
                r.timestamp,
                dict(r.properties or {}),
                r.received_at,
                int(r.position or 0),
            )
    finally:
        result.close()


# --- unmatched events (the console's /ui/events) --------------------------------------------------------


def _loose_scan(column: str, also: str = "") -> TextClause:
    """The distinct values of an indexed `events` column by a loose index scan: one index probe per
    distinct value, so a customer with a million events costs one probe, not a million rows. `also`: more
    conditions on a value `k.v`. Constant text (the column is one of ours); values are bound."""
    return text(
        f"""
    WITH RECURSIVE k(v) AS (
      SELECT (SELECT e.{column} FROM events e
              WHERE e.tenant_id = :t AND e.{column} > :after ORDER BY e.{column} LIMIT 1)
      UNION ALL
      SELECT (SELECT e.{column} FROM events e
              WHERE e.tenant_id = :t AND e.{column} > k.v ORDER BY e.{column} LIMIT 1)
      FROM k WHERE k.v IS NOT NULL
    )
    SELECT k.v FROM k
    WHERE k.v IS NOT NULL{also}
    LIMIT :n
    """  # noqa: S608
    )


_DISTINCT_KEYS = _loose_scan(
    "customer_id",
    """
      AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.tenant_id = :t AND c.id = k.v)
      AND NOT EXISTS (SELECT 1 FROM customer_aliases a WHERE a.tenant_id = :t AND a.alias = k.v)""",
)
_DISTINCT_TYPES = _loose_scan("event_type")


def unknown_customer_keys(conn: Connection, tenant_id: str, after: str, limit: int) -> list[str]:
    """Customer keys (after `after`, in order) that events carried and that name no customer (not an id,
    not a current ingest alias); index ix_events_customer_time, one probe per distinct key."""
    rows = conn.execute(_DISTINCT_KEYS, {"t": tenant_id, "after": after, "n": limit})
    return [r[0] for r in rows]


def event_types(conn: Connection, tenant_id: str, limit: int) -> list[str]:
    """The tenant's distinct event types, in order (index ix_events_type_customer)."""
    return [r[0] for r in conn.execute(_DISTINCT_TYPES, {"t": tenant_id, "after": "", "n": limit})]


def _group_rows(q: Any, conn: Connection) -> list[EventGroup]:
    return [EventGroup(r[0], r[1], int(r[2]), r[3], r[4]) for r in conn.execute(q)]


def groups_of_keys(conn: Connection, tenant_id: str, keys: list[str]) -> list[EventGroup]:
    """Per (customer key, event type) of these keys: count, first and last event timestamp."""
    if not keys:
        return []
    q = (
        select(
            ev.c.customer_id,
            ev.c.event_type,
            func.count(),
            func.min(ev.c.timestamp),
            func.max(ev.c.timestamp),
        )
        .where(ev.c.tenant_id == tenant_id, ev.c.customer_id.in_(keys))
        .group_by(ev.c.customer_id, ev.c.event_type)
        .order_by(ev.c.customer_id, ev.c.event_type)
    )
    return _group_rows(q, conn)


def groups_of_types(
    conn: Connection, tenant_id: str, types: list[str], after: tuple[str, str] | None, limit: int
) -> list[EventGroup]:
    """Per (event type, customer key) of these event types, in that order after `after`: count, first
    and last event timestamp (index ix_events_type_customer; at most `limit` groups)."""
    if not types:
        return []
    q = select(
        ev.c.customer_id, ev.c.event_type, func.count(), func.min(ev.c.timestamp), func.max(ev.c.timestamp)
    ).where(ev.c.tenant_id == tenant_id, ev.c.event_type.in_(types))
    if after is not None:
        q = q.where(
            (ev.c.event_type > after[0]) | ((ev.c.event_type == after[0]) & (ev.c.customer_id > after[1]))
        )
    q = q.group_by(ev.c.event_type, ev.c.customer_id).order_by(ev.c.event_type, ev.c.customer_id).limit(limit)
    return _group_rows(q, conn)


def has_sql_metric(conn: Connection, tenant_id: str) -> bool:
    q = select(bm.c.id).where(bm.c.tenant_id == tenant_id, bm.c.sql.is_not(None)).limit(1)
    return conn.execute(q).first() is not None
