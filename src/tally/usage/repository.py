"""Reads of the metering rollups. Aggregation runs in the database (GROUP BY per window bucket); the
service only merges the few rows of a customer's several ingest keys. SQLite sums and maxima go through
the exact decimal functions of tally.usage.sqlfuncs; PostgreSQL's NUMERIC is exact on its own."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, distinct, func, literal, literal_column, select

from tally.metering import hour_start
from tally.models.catalog import billable_metrics as bm
from tally.models.events import events as ev
from tally.models.usage import usage_group_values as ugv
from tally.models.usage import usage_rollups as ur
from tally.models.usage import usage_uniques as uu
from tally.usage import late_gate, sqlfuncs
from tally.usage.events import Cell, LatestCell, RawEvent, Span


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
    conn: Connection, tenant_id: str, keys: list[str], start: datetime, end: datetime
) -> Iterable[RawEvent]:
    """The events of these customer keys stamped in [start, end), in (timestamp, transaction id) order,
    streamed (index ix_events_customer_time)."""
    stmt = (
        select(
            ev.c.transaction_id,
            ev.c.customer_id,
            ev.c.event_type,
            ev.c.timestamp,
            ev.c.properties,
            ev.c.received_at,
            late_gate.position(conn).label("position"),
        )
        .where(ev.c.tenant_id == tenant_id, ev.c.customer_id.in_(keys), ev.c.timestamp >= start)
        .where(ev.c.timestamp < end)
        .order_by(ev.c.timestamp, ev.c.transaction_id)
    )
    result = conn.execution_options(stream_results=True, yield_per=1000).execute(stmt)
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
