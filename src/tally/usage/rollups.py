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
from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy import Connection, select, text

from tally.db.types import sqlite_text
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


def _cache_key(conn: Connection, tenant_id: str) -> tuple[str, str]:
    return (str(conn.engine.url), tenant_id)


def _remember(conn: Connection, tenant_id: str, version: tuple[Any, ...]) -> TenantMetrics:
    entry = TenantMetrics(version, MetricIndex(_load(conn, tenant_id)))
    with _lock:
        if len(_cache) > 10_000:
            _cache.clear()
        _cache[_cache_key(conn, tenant_id)] = entry
    return entry


def _version(conn: Connection, tenant_id: str) -> tuple[Any, ...]:
    return tuple(conn.execute(_VERSION, {"tenant": tenant_id}).one())


def metrics(conn: Connection, tenant_id: str) -> MetricIndex:
    """The tenant's streaming metrics. Metrics are immutable once created and never deleted, so
    (count, max id) changes exactly when one is added, in any process: one cheap query checks the cache."""
    version = _version(conn, tenant_id)
    hit = _cache.get(_cache_key(conn, tenant_id))
    if hit is not None and hit.version == version:
        return hit.index
    return _remember(conn, tenant_id, version).index


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
    if not events:
        return
    hit = _cache.get(_cache_key(conn, tenant_id))
    if hit is None or not hit.index.metrics or conn.dialect.name != "postgresql":
        index = metrics(conn, tenant_id)
        if index.metrics:
            write(conn, tenant_id, fold(index, events))
        return
    # PostgreSQL: fold with the cached definitions and let the upsert statement report the current
    # version in the same round trip. A metric created meanwhile gets this batch in a second write.
    version = write(conn, tenant_id, fold(hit.index, events), with_version=True)
    if version is None:
        version = _version(conn, tenant_id)
    if version != hit.version:
        known = {m.id for m in hit.index.metrics}
        fresh = [m for m in _remember(conn, tenant_id, version).index.metrics if m.id not in known]
        if fresh:
            write(conn, tenant_id, fold(MetricIndex(fresh), events))


# --- writing --------------------------------------------------------------------------------------------

_COLS = (
    "tenant_id, metric_id, customer_key, hour, group_key, count, total, maximum, "
    "latest_ts, latest_txn, latest_value"
)
_CONFLICT = " ON CONFLICT (tenant_id, metric_id, customer_key, hour, group_key) DO UPDATE SET "
# LATEST tie-break on the transaction id compares code points, like Python: SQLite's default BINARY
# collation does; PostgreSQL needs COLLATE "C" (its default collation is locale-aware).
_NEWER = (
    "(usage_rollups.latest_ts IS NULL OR excluded.latest_ts > usage_rollups.latest_ts OR "
    "(excluded.latest_ts = usage_rollups.latest_ts AND "
    "excluded.latest_txn{collate} > usage_rollups.latest_txn{collate}))"
)


def _set_clause(add: str, maximum: str, collate: str = "") -> str:
    newer = _NEWER.format(collate=collate)
    latest = ", ".join(
        f"{col} = CASE WHEN {newer} THEN excluded.{col} ELSE usage_rollups.{col} END"
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
# PostgreSQL takes the whole batch as ONE json parameter: json_to_recordset parses numbers straight to
# NUMERIC (exact), and encoding one JSON document is far cheaper for the client than dumping ten arrays.
_PG_ROLLUP = "".join(
    (
        "INSERT INTO usage_rollups (",
        _COLS,
        ") SELECT %(tenant)s, x.m, x.c, x.h, x.g, x.n, x.t, x.mx, x.lts, x.ltx, x.lv "
        "FROM json_to_recordset(%(rows)s::json) AS x(m varchar, c varchar, h int, g varchar, n bigint, "
        "t numeric, mx numeric, lts timestamptz, ltx varchar, lv numeric)",
        _CONFLICT,
        _set_clause(
            "usage_rollups.total + excluded.total",
            "GREATEST(usage_rollups.maximum, excluded.maximum)",
            ' COLLATE "C"',
        ),
    )
)
_PG_ROLLUP_WITH_VERSION = "".join(
    (
        "WITH v AS (SELECT count(*) AS n, max(id) AS top FROM billable_metrics "
        "WHERE tenant_id = %(tenant)s AND sql IS NULL), w AS (",
        _PG_ROLLUP,
        ") SELECT n, top FROM v",
    )
)
_SQLITE_UNIQUE = (
    "INSERT INTO usage_uniques (tenant_id, metric_id, slice, customer_key, hour, group_key, value) "
    "VALUES (?,?,?,?,?,?,?) ON CONFLICT DO NOTHING"
)
_PG_UNIQUE = (
    "INSERT INTO usage_uniques (tenant_id, metric_id, slice, customer_key, hour, group_key, value) "
    "SELECT %(tenant)s, x.m, x.s, x.c, x.h, x.g, x.v FROM json_to_recordset(%(rows)s::json) "
    "AS x(m varchar, s int, c varchar, h int, g varchar, v varchar) ON CONFLICT DO NOTHING"
)
_SQLITE_GROUPS = (
    "INSERT INTO usage_group_values (tenant_id, group_key, group_values) "
    "VALUES (?,?,?) ON CONFLICT DO NOTHING"
)
_PG_GROUPS = (
    "INSERT INTO usage_group_values (tenant_id, group_key, group_values) "
    "SELECT %(tenant)s, x.g, x.v FROM json_to_recordset(%(rows)s::json) AS x(g varchar, v text) "
    "ON CONFLICT DO NOTHING"
)


_encoder = msgspec.json.Encoder(decimal_format="number")


def _json(rows: list[dict[str, Any]]) -> str:
    return _encoder.encode(rows).decode()


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def write(
    conn: Connection, tenant_id: str, batch: Batch, with_version: bool = False
) -> tuple[Any, ...] | None:
    """Upsert a folded batch. With `with_version` (PostgreSQL), also return the tenant's metric version
    as seen by the upsert statement (None when there was nothing to write)."""
    pg = conn.dialect.name == "postgresql"
    version = None
    cells = sorted(batch.cells.items())
    uniq = sorted(batch.uniques)
    groups = sorted(batch.long_groups.items())
    if pg:
        if cells:
            rows = []
            for (mid, ckey, hour, gkey), cell in cells:
                latest = cell.latest
                row: dict[str, Any] = {"m": mid, "c": ckey, "h": hour, "g": gkey, "n": cell.count}
                if cell.total is not None:
                    row["t"] = cell.total
                if cell.maximum is not None:
                    row["mx"] = cell.maximum
                if latest is not None:
                    row["lts"], row["ltx"], row["lv"] = latest[0].isoformat(), latest[1], latest[2]
                rows.append(row)
            doc = {"tenant": tenant_id, "rows": _json(rows)}
            if with_version:
                version = tuple(conn.exec_driver_sql(_PG_ROLLUP_WITH_VERSION, doc).one())
            else:
                conn.exec_driver_sql(_PG_ROLLUP, doc)
        if uniq:
            docs = [{"m": m, "s": i, "c": c, "h": h, "g": g, "v": v} for m, i, c, h, g, v in uniq]
            conn.exec_driver_sql(_PG_UNIQUE, {"tenant": tenant_id, "rows": _json(docs)})
        if groups:
            docs = [{"g": k, "v": v} for k, v in groups]
            conn.exec_driver_sql(_PG_GROUPS, {"tenant": tenant_id, "rows": _json(docs)})
        return version
    sqlfuncs.ensure(conn)
    if cells:
        params: list[tuple[Any, ...]] = []
        for (mid, ckey, hour, gkey), cell in cells:
            latest = cell.latest
            params.append(
                (
                    tenant_id,
                    mid,
                    ckey,
                    hour,
                    gkey,
                    cell.count,
                    _text(cell.total),
                    _text(cell.maximum),
                    None if latest is None else sqlite_text(latest[0]),
                    None if latest is None else latest[1],
                    None if latest is None else str(latest[2]),
                )
            )
        conn.exec_driver_sql(_SQLITE_ROLLUP, params)
    if uniq:
        conn.exec_driver_sql(_SQLITE_UNIQUE, [(tenant_id, *u) for u in uniq])
    if groups:
        conn.exec_driver_sql(_SQLITE_GROUPS, [(tenant_id, k, v) for k, v in groups])
    return None
