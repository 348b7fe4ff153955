"""Metering at ingest: fold newly accepted events into usage rollups, inside the ingest transaction.

Called by ingest right after the events are stored, so an acknowledged event is stored and counted, or
neither. Streaming metrics are not retroactive (SPEC §1.6): an event accrues only to the metrics that
exist when it is ingested. Archived metrics keep accruing, because products already priced on them keep
metering with the archived definition (SPEC §2.5).

Per batch the work is: match each event against the candidate metrics for its event type (pure, in
tally.metering), aggregate the batch in Python per (metric, customer key, hour, group), then one upsert
statement per table. Rows are written in key order so concurrent PostgreSQL transactions lock them in the
same order (no deadlocks). SQLite serializes writers, and its decimal arithmetic runs in registered
Python functions (tally.usage.sqlfuncs).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select, text

from tally.metering import MetricDef, MetricIndex, hour_of, project
from tally.metering.aggregate import Latest, later
from tally.metering.metric import EventLike
from tally.metering.values import CONTEXT
from tally.models.catalog import billable_metrics as bm
from tally.usage import keys, sqlfuncs

# --- metric definitions, cached per tenant -------------------------------------------------------------

_VERSION = text("SELECT count(*), max(id) FROM billable_metrics WHERE tenant_id = :tenant AND sql IS NULL")


@dataclass(frozen=True)
class TenantMetrics:
    version: tuple[Any, ...]
    index: MetricIndex


_lock = threading.Lock()
_cache: dict[tuple[str, str], TenantMetrics] = {}


def _load(conn: Connection, tenant_id: str) -> list[MetricDef]:
    rows = conn.execute(
        select(
            bm.c.id,
            bm.c.aggregation_type,
            bm.c.aggregation_key,
            bm.c.event_type_filter,
            bm.c.property_filters,
            bm.c.group_keys,
        ).where(bm.c.tenant_id == tenant_id, bm.c.sql.is_(None), bm.c.aggregation_type.is_not(None))
    ).all()
    return [
        MetricDef.of(
            r.id, r.aggregation_type, r.aggregation_key, r.event_type_filter, r.property_filters, r.group_keys
        )
        for r in rows
    ]


def metrics(conn: Connection, tenant_id: str) -> MetricIndex:
    """The tenant's streaming metrics. One cheap version query per call: metrics are immutable once
    created and never deleted, so (count, max id) changes exactly when one is added, in any process."""
    version = tuple(conn.execute(_VERSION, {"tenant": tenant_id}).one())
    key = (str(conn.engine.url), tenant_id)
    hit = _cache.get(key)
    if hit is not None and hit.version == version:
        return hit.index
    index = MetricIndex(_load(conn, tenant_id))
    with _lock:
        if len(_cache) > 10_000:
            _cache.clear()
        _cache[key] = TenantMetrics(version, index)
    return index


# --- the hook -------------------------------------------------------------------------------------------

CellKey = tuple[str, str, int, str]  # metric id, customer key, hour, group key
UniqueKey = tuple[str, int, str, int, str, str]  # metric id, slice, customer key, hour, group key, value


class Cell:
    """One rollup row's worth of a batch. Only the column the metric's aggregation needs is kept."""

    __slots__ = ("count", "latest", "maximum", "total")

    def __init__(self) -> None:
        self.count = 0
        self.total: Decimal | None = None
        self.maximum: Decimal | None = None
        self.latest: Latest | None = None


@dataclass
class Batch:
    cells: dict[CellKey, Cell]
    uniques: set[UniqueKey]
    long_groups: dict[str, str]


def fold(index: MetricIndex, events: Iterable[EventLike]) -> Batch:
    """Aggregate a batch of events per rollup row (pure apart from the metric index)."""
    cells: dict[CellKey, Cell] = {}
    uniques: set[UniqueKey] = set()
    long_groups: dict[str, str] = {}
    add = CONTEXT.add
    encoded: dict[tuple[str | None, ...], str] = {}
    last_ts: datetime | None = None
    last_hour = 0
    for ev in events:
        event_type = ev.event_type
        candidates = index.candidates(event_type)
        if not candidates:
            continue
        hour = -1
        props = ev.properties
        for m in candidates:
            c = m.contribution(event_type, props)
            if c is None:
                continue
            if hour == -1:
                ts = ev.timestamp
                if ts != last_ts:  # batches often share timestamps
                    last_ts, last_hour = ts, hour_of(ts)
                hour = last_hour
            gkey = keys.NO_GROUP
            values: tuple[str | None, ...] = ()
            if m.group_properties:
                values = m.group_values(props)
                hit = encoded.get(values)
                if hit is None:
                    hit, full = keys.group_key(values)
                    encoded[values] = hit
                    if full is not None:
                        long_groups[hit] = full
                gkey = hit
            ck = (m.id, ev.customer_id, hour, gkey)
            cell = cells.get(ck)
            if cell is None:
                cell = cells[ck] = Cell()
            cell.count += 1
            q = c.quantity
            agg = m.aggregation_type
            if q is not None:
                if agg == "SUM":
                    cell.total = q if cell.total is None else add(cell.total, q)
                elif agg == "MAX":
                    if cell.maximum is None or q > cell.maximum:
                        cell.maximum = q
                elif agg == "LATEST":
                    cell.latest = later(cell.latest, (ev.timestamp, ev.transaction_id, q))
            elif c.unique is not None:
                value = keys.unique_value(c.unique)
                uniques.add((m.id, -1, ev.customer_id, hour, keys.NO_GROUP, value))
                for i, gk in enumerate(m.group_keys):
                    sub, full = keys.group_key(project(m, values, gk))
                    if full is not None:
                        long_groups[sub] = full
                    uniques.add((m.id, i, ev.customer_id, hour, sub, value))
    return Batch(cells, uniques, long_groups)


def apply(conn: Connection, tenant_id: str, events: list[Any]) -> None:
    """Update usage rollups for newly accepted events (AcceptedEvent), in the caller's transaction."""
    index = metrics(conn, tenant_id)
    if not index.metrics or not events:
        return
    batch = fold(index, events)
    write(conn, tenant_id, batch)


# --- writing --------------------------------------------------------------------------------------------

_COLS = (
    "tenant_id, metric_id, customer_key, hour, group_key, count, total, maximum, "
    "latest_ts, latest_txn, latest_value"
)
_CONFLICT = " ON CONFLICT (tenant_id, metric_id, customer_key, hour, group_key) DO UPDATE SET "
_NEWER = (
    "(usage_rollups.latest_ts IS NULL OR "
    "(excluded.latest_ts, excluded.latest_txn) > (usage_rollups.latest_ts, usage_rollups.latest_txn))"
)


def _set_clause(add: str, maximum: str) -> str:
    latest = ", ".join(
        f"{col} = CASE WHEN {_NEWER} THEN excluded.{col} ELSE usage_rollups.{col} END"
        for col in ("latest_ts", "latest_txn", "latest_value")
    )
    return f"count = usage_rollups.count + excluded.count, total = {add}, maximum = {maximum}, {latest}"


# Constant SQL assembled from the literals above; no input ever reaches these strings.
_SQLITE_ROLLUP = "".join(
    (
        "INSERT INTO usage_rollups (",
        _COLS,
        ") VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        _CONFLICT,
        _set_clause(
            "tally_dec_add(usage_rollups.total, excluded.total)",
            "tally_dec_max(usage_rollups.maximum, excluded.maximum)",
        ),
    )
)
_PG_ROLLUP = "".join(
    (
        "INSERT INTO usage_rollups (",
        _COLS,
        ") SELECT %(tenant)s, x.m, x.c, x.h, x.g, x.n, x.t, x.mx, x.lts, x.ltx, x.lv "
        "FROM unnest(%(m)s::varchar[], %(c)s::varchar[], %(h)s::int[], %(g)s::varchar[], %(n)s::bigint[], "
        "%(t)s::numeric[], %(mx)s::numeric[], %(lts)s::timestamptz[], %(ltx)s::varchar[], %(lv)s::numeric[]) "
        "AS x(m, c, h, g, n, t, mx, lts, ltx, lv)",
        _CONFLICT,
        _set_clause(
            "usage_rollups.total + excluded.total", "GREATEST(usage_rollups.maximum, excluded.maximum)"
        ),
    )
)
_SQLITE_UNIQUE = (
    "INSERT INTO usage_uniques (tenant_id, metric_id, slice, customer_key, hour, group_key, value) "
    "VALUES (?,?,?,?,?,?,?) ON CONFLICT DO NOTHING"
)
_PG_UNIQUE = (
    "INSERT INTO usage_uniques (tenant_id, metric_id, slice, customer_key, hour, group_key, value) "
    "SELECT %(tenant)s, x.* FROM unnest(%(m)s::varchar[], %(s)s::int[], %(c)s::varchar[], %(h)s::int[], "
    "%(g)s::varchar[], %(v)s::varchar[]) AS x ON CONFLICT DO NOTHING"
)
_SQLITE_GROUPS = (
    "INSERT INTO usage_group_values (tenant_id, group_key, group_values) "
    "VALUES (?,?,?) ON CONFLICT DO NOTHING"
)
_PG_GROUPS = (
    "INSERT INTO usage_group_values (tenant_id, group_key, group_values) "
    "SELECT %(tenant)s, x.* FROM unnest(%(g)s::varchar[], %(v)s::text[]) AS x ON CONFLICT DO NOTHING"
)


def _sqlite_ts(value: datetime) -> str:
    # Same text as tally.db.types.UtcDateTime on SQLite.
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def write(conn: Connection, tenant_id: str, batch: Batch) -> None:
    pg = conn.dialect.name == "postgresql"
    if not pg:
        sqlfuncs.ensure(conn)
    cells = sorted(batch.cells.items())
    if cells:
        if pg:
            cols: dict[str, list[Any]] = {
                k: [] for k in ("m", "c", "h", "g", "n", "t", "mx", "lts", "ltx", "lv")
            }
            for (mid, ckey, hour, gkey), acc in cells:
                total, maximum, latest = acc.total, acc.maximum, acc.latest
                cols["m"].append(mid)
                cols["c"].append(ckey)
                cols["h"].append(hour)
                cols["g"].append(gkey)
                cols["n"].append(acc.count)
                cols["t"].append(total)
                cols["mx"].append(maximum)
                cols["lts"].append(None if latest is None else latest[0])
                cols["ltx"].append(None if latest is None else latest[1])
                cols["lv"].append(None if latest is None else latest[2])
            conn.exec_driver_sql(_PG_ROLLUP, {"tenant": tenant_id, **cols})
        else:
            rows = []
            for (mid, ckey, hour, gkey), acc in cells:
                total, maximum, latest = acc.total, acc.maximum, acc.latest
                rows.append(
                    (
                        tenant_id,
                        mid,
                        ckey,
                        hour,
                        gkey,
                        acc.count,
                        _text(total),
                        _text(maximum),
                        None if latest is None else _sqlite_ts(latest[0]),
                        None if latest is None else latest[1],
                        None if latest is None else str(latest[2]),
                    )
                )
            conn.exec_driver_sql(_SQLITE_ROLLUP, rows)
    if batch.uniques:
        uniq = sorted(batch.uniques)
        if pg:
            m, s, c, h, g, v = (list(col) for col in zip(*uniq, strict=True))
            conn.exec_driver_sql(
                _PG_UNIQUE, {"tenant": tenant_id, "m": m, "s": s, "c": c, "h": h, "g": g, "v": v}
            )
        else:
            conn.exec_driver_sql(_SQLITE_UNIQUE, [(tenant_id, *u) for u in uniq])
    if batch.long_groups:
        groups = sorted(batch.long_groups.items())
        if pg:
            conn.exec_driver_sql(
                _PG_GROUPS, {"tenant": tenant_id, "g": [k for k, _ in groups], "v": [v for _, v in groups]}
            )
        else:
            conn.exec_driver_sql(_SQLITE_GROUPS, [(tenant_id, k, v) for k, v in groups])
