"""The ClickHouse event store (docs/scale-out.md): raw accepted events in ClickHouse, usage computed there.

Design around ClickHouse's traps:
- No transactions: ClickHouse never decides anything. The SQL `events` table (PostgreSQL) decides dedup in
  the ingest transaction and is the log the events watermark counts; ClickHouse receives only accepted
  events, shipped by log position (`clickhouse_shipping.position`, advanced in the same SQL transaction
  as the ship), and only from the decided prefix of the log (`_horizon`). A crash between the ClickHouse
  insert and that commit ships again from the same position.
- A retry of one id with another timestamp would survive FINAL (different sort key): it cannot happen
  here, because a conflicting retry is a duplicate in PostgreSQL and never shipped. Re-shipped raw rows are
  byte-identical copies, which FINAL collapses (SQL metrics read raw events).
- Materialized rollups would double-count a re-shipped block: usage is read from rollup rows that tally
  folds per ship batch (`rollup_rows`, the SQL store's own fold) and keys by the batch's first position.
  Batches are cut deterministically from the committed position, so a re-ship sends the same batch or a
  superset of it, and FINAL keeps the version with the highest last position: each event counts once.

All statements are built here as text and run through an `Executor`: clickhouse-connect (HTTP) in
production, chdb (embedded ClickHouse) in tests. The text is byte-identical for both; results come back
as JSONCompact with numbers rendered by `toString`, so decoding is shared too.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import msgspec
from sqlalchemy import Connection, Engine, select, text
from sqlglot import exp

from tally.db import uow
from tally.metering import MetricDef, MetricIndex, hour_start
from tally.metering.aggregate import later
from tally.metering.sql import SqlMetric
from tally.metering.values import CONTEXT, quantity, string_form
from tally.models.events import events as events_table
from tally.usage import keys as gk
from tally.usage import late_gate, rollups, sql_metrics
from tally.usage import repository as repo
from tally.usage.events import Cell, LatestCell, Span
from tally.usage.store import SqlEventLog

SHIP_BATCH = 20_000
_json = msgspec.json.Encoder(decimal_format="string")
_decode = msgspec.json.Decoder()


# --- execution layer -------------------------------------------------------------------------------------


class Executor(Protocol):
    def run(self, statement: str) -> bytes:
        """Run one statement; a SELECT ends in FORMAT JSONCompact and its output is returned."""


class ChdbExecutor:
    """Embedded ClickHouse (chdb), for tests and one-machine trials."""

    def __init__(self, path: str) -> None:
        from chdb import session  # optional extra

        self._session: Any = session.Session(path)  # type: ignore[no-untyped-call]
        self._lock = threading.Lock()
        self.statements: list[str] = []  # the last statements, for tests comparing text across executors

    def run(self, statement: str) -> bytes:
        with self._lock:
            if len(self.statements) > 1000:
                del self.statements[:500]
            self.statements.append(statement)
            result: Any = self._session.query(statement)
            if result is None:
                return b""
            out: bytes = result.bytes()
            return out


class HttpExecutor:
    """A ClickHouse server or cluster through clickhouse-connect (HTTP)."""

    def __init__(self, url: str) -> None:
        import clickhouse_connect  # optional extra

        parts = urlsplit(url)
        self._client = clickhouse_connect.get_client(
            host=parts.hostname or "localhost",
            port=parts.port or 8123,
            username=parts.username or "default",
            password=parts.password or "",
            database=Layout.from_url(url).database,
            secure=parts.scheme == "clickhouses",
        )
        self._lock = threading.Lock()

    def run(self, statement: str) -> bytes:
        with self._lock:
            out: bytes = self._client.raw_query(statement)
            return out


def executor_for(url: str) -> Executor:
    if url.startswith("chdb://"):
        return ChdbExecutor(urlsplit(url).path or ":memory:")
    return HttpExecutor(url)


@dataclass(frozen=True)
class Layout:
    database: str = "default"
    cluster: str | None = None  # ON CLUSTER + ReplicatedReplacingMergeTree + Distributed when set

    @classmethod
    def from_url(cls, url: str) -> Layout:
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        db = "default" if parts.scheme == "chdb" else (parts.path.strip("/") or "default")
        clusters = query.get("cluster") or []
        return cls(db, clusters[0] if clusters else None)


def _q(value: str) -> str:
    """A ClickHouse string literal (rendered by sqlglot's ClickHouse generator, which escapes it)."""
    return exp.Literal.string(value).sql(dialect="clickhouse")


def _ident(name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql(dialect="clickhouse")


_EVENTS = (
    "(tenant_id String, transaction_id String, customer_id String, event_type LowCardinality(String), "
    "timestamp DateTime64(6, 'UTC'), props Map(String, String), nums Map(String, Decimal(76, 20)), "
    "qtext Map(String, String), nexp Map(String, Int16), position UInt64, "
    "received_at DateTime64(6, 'UTC'))",
    "ReplacingMergeTree",
    "PARTITION BY toYYYYMM(timestamp) ORDER BY (tenant_id, customer_id, timestamp, transaction_id)",
)
# One row per (metric, customer key, hour, group) and ship batch: the batch's cells as the SQL store's
# ingest fold computes them. A re-ship of the batch starting at the same position replaces its rows
# (version = the batch's last position, a superset of what an interrupted ship sent).
_ROLLUPS = (
    "(tenant_id String, customer_id String, metric_id String, hour Int32, group_key String, "
    "ship_first UInt64, ship_last UInt64, count UInt64, total Nullable(Decimal(76, 20)), "
    "texp Nullable(Int16), maximum Nullable(Decimal(76, 20)), has_latest UInt8, "
    "latest_ts DateTime64(6, 'UTC'), latest_txn String, latest_value String)",
    "ReplacingMergeTree(ship_last)",
    "PARTITION BY intDiv(hour, 720) "
    "ORDER BY (tenant_id, customer_id, metric_id, hour, group_key, ship_first)",
)
# UNIQUE: the distinct values per (metric, slice, customer key, hour, group); a set, so copies are harmless.
_UNIQUES = (
    "(tenant_id String, customer_id String, metric_id String, slice Int16, hour Int32, group_key String, "
    "value String)",
    "ReplacingMergeTree",
    "PARTITION BY intDiv(hour, 720) "
    "ORDER BY (tenant_id, customer_id, metric_id, slice, hour, group_key, value)",
)
TABLES = {"tally_events": _EVENTS, "tally_rollups": _ROLLUPS, "tally_uniques": _UNIQUES}


def ddl(layout: Layout) -> list[str]:
    """CREATE statements for the tables (single node, or replicated + Distributed on a cluster)."""
    db = _ident(layout.database)
    if layout.cluster is None:
        return [f"CREATE DATABASE IF NOT EXISTS {db}"] + [
            f"CREATE TABLE IF NOT EXISTS {db}.{name} {columns} ENGINE = {engine} {order}"
            for name, (columns, engine, order) in TABLES.items()
        ]
    on = f"ON CLUSTER {_ident(layout.cluster)}"
    out = [f"CREATE DATABASE IF NOT EXISTS {db} {on}"]
    for name, (columns, engine, order) in TABLES.items():
        version = engine.removeprefix("ReplacingMergeTree")
        args = f"'/clickhouse/tables/{{shard}}/{{database}}/{name}', '{{replica}}'"
        args += f", {version.strip('()')}" if version else ""
        out += [
            f"CREATE TABLE IF NOT EXISTS {db}.{name}_local {on} {columns} ENGINE = "
            f"ReplicatedReplacingMergeTree({args}) {order}",
            # Rows of one (tenant, customer) live on one shard, so FINAL collapses copies shard-locally.
            f"CREATE TABLE IF NOT EXISTS {db}.{name} {on} AS {db}.{name}_local ENGINE = "
            f"Distributed({_ident(layout.cluster)}, {db}, {name}_local, cityHash64(tenant_id, customer_id))",
        ]
    return out


# --- the store -------------------------------------------------------------------------------------------


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _ts_literal(value: datetime) -> str:
    return f"toDateTime64({_q(_ts(value))}, 6, 'UTC')"


def _in(column: str, values: Iterable[str]) -> str:
    return f"{column} IN ({', '.join(_q(v) for v in values)})"


def ship_row(position: int, tenant_id: str, e: Any, received_at: datetime) -> dict[str, Any]:
    """One event as ClickHouse stores it: properties in their string form (filters, groups, UNIQUE), and
    for each property that is a number tally can sum, the exact value and its exponent."""
    props: dict[str, str] = {}
    nums: dict[str, str] = {}
    qtext: dict[str, str] = {}
    nexp: dict[str, int] = {}
    for k, raw in e.properties.items():
        s = string_form(raw)
        if s is None:
            continue
        props[k] = s
        q = quantity(raw)
        if q is not None:
            nums[k] = format(q, "f")
            qtext[k] = str(q)
            exponent = q.as_tuple().exponent
            assert isinstance(exponent, int)
            nexp[k] = exponent
    return {
        "tenant_id": tenant_id,
        "transaction_id": e.transaction_id,
        "customer_id": e.customer_id,
        "event_type": e.event_type,
        "timestamp": _ts(e.timestamp),
        "props": props,
        "nums": nums,
        "qtext": qtext,
        "nexp": nexp,
        "position": position,
        "received_at": _ts(received_at),
    }


_POSITION = "SELECT position FROM clickhouse_shipping WHERE id = 1"
_POSITION_FOR_UPDATE = _POSITION + " FOR UPDATE"
# PostgreSQL: an ingest transaction holds this advisory lock shared from before it draws log positions
# until it ends; the shipper takes it exclusively for an instant to read the end of the log. Every position
# at or below what it read is then decided (committed or rolled back), so the shipped prefix never changes.
SHIP_LOCK = 0x7461_6C6C_7973_6870  # "tallyshp"


def _horizon(conn: Connection) -> int | None:
    """The end of the decided prefix of the log (None: SQLite, where committed positions are a prefix)."""
    if conn.dialect.name != "postgresql":
        return None
    conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": SHIP_LOCK})
    try:
        value = conn.execute(text("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM events_seq"))
        return int(value.scalar_one())
    finally:
        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": SHIP_LOCK})


def _metric_defs(conn: Connection, tenant_id: str) -> list[MetricDef]:
    out = []
    for r in repo.streaming_metric_rows(conn, tenant_id):
        d = MetricDef.of(
            r.id, r.aggregation_type, r.aggregation_key, r.event_type_filter, r.property_filters, r.group_keys
        )
        out.append(replace(d, created_at=r.created_at))
    return out


def _dec_text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def rollup_rows(
    conn: Connection, tenant_id: str, rows: list[Any], first: int, last: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The ship batch (first, last] of one tenant folded exactly as the SQL store folds at ingest
    (`rollups.fold`): each event into the metrics that existed when it was received."""
    defs = _metric_defs(conn, tenant_id)
    if not defs:
        return [], []
    by_metrics: dict[tuple[str, ...], list[Any]] = {}
    for r in rows:
        eligible = tuple(d.id for d in defs if d.created_at is None or r.received_at >= d.created_at)
        by_metrics.setdefault(eligible, []).append(r)
    cells: dict[rollups.CellKey, rollups.Cell] = {}
    uniques: set[rollups.UniqueKey] = set()
    for eligible, events in by_metrics.items():
        wanted = set(eligible)
        batch = rollups.fold(MetricIndex(d for d in defs if d.id in wanted), events)
        full = batch.long_groups  # hashed group keys -> their JSON: this store keeps groups inline
        for (mid, ckey, hour, gkey), cell in batch.cells.items():
            key = (mid, ckey, hour, full.get(gkey, gkey))
            cells[key] = _merge(cells[key], cell) if key in cells else cell
        uniques.update((m, i, c, h, full.get(g, g), v) for m, i, c, h, g, v in batch.uniques)
    out = []
    for (mid, ckey, hour, gkey), cell in sorted(cells.items()):
        latest = cell.latest
        total = cell.total
        texp = None if total is None else total.as_tuple().exponent
        out.append(
            {
                "tenant_id": tenant_id,
                "customer_id": ckey,
                "metric_id": mid,
                "hour": hour,
                "group_key": gkey,
                "ship_first": first,
                "ship_last": last,
                "count": cell.count,
                "total": _dec_text(total),
                "texp": texp,
                "maximum": _dec_text(cell.maximum),
                "has_latest": 0 if latest is None else 1,
                "latest_ts": _ts(latest[0] if latest else datetime(1970, 1, 1, tzinfo=UTC)),
                "latest_txn": latest[1] if latest else "",
                "latest_value": str(latest[2]) if latest else "",
            }
        )
    distinct = [
        {
            "tenant_id": tenant_id,
            "customer_id": c,
            "metric_id": m,
            "slice": i,
            "hour": h,
            "group_key": g,
            "value": v,
        }
        for m, i, c, h, g, v in sorted(uniques)
    ]
    return out, distinct


def _merge(a: rollups.Cell, b: rollups.Cell) -> rollups.Cell:
    """Two folds of one cell (events received before and after a metric was created): as one fold."""
    a.count += b.count
    if b.total is not None:
        a.total = b.total if a.total is None else CONTEXT.add(a.total, b.total)
    if b.maximum is not None and (a.maximum is None or b.maximum > a.maximum):
        a.maximum = b.maximum
    if b.latest is not None:
        a.latest = later(a.latest, b.latest)
    return a


class ClickHouseEventStore(SqlEventLog):
    name = "clickhouse"

    def __init__(self, engine: Engine, executor: Executor, layout: Layout | None = None) -> None:
        self.engine = engine
        self.executor = executor
        self.layout = layout or Layout()
        db = _ident(self.layout.database)
        self.table = f"{db}.tally_events"
        self.rollups = f"{db}.tally_rollups"
        self.uniques = f"{db}.tally_uniques"

    # --- schema (run by `tally migrate`) ---
    def create_schema(self) -> None:
        for statement in ddl(self.layout):
            self.executor.run(statement)

    # --- shipping ---
    def accepting(self, conn: Connection) -> None:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock_shared(:k)"), {"k": SHIP_LOCK})

    def accepted(self, conn: Connection, tenant_id: str, events: list[Any]) -> None:
        return None  # shipped after commit: ClickHouse cannot take part in the SQL transaction

    def committed(self, engine: Engine) -> None:
        with uow.write(engine) as conn:
            self.visible(conn)

    def _insert(self, table: str, token: str, rows: Iterable[dict[str, Any]]) -> None:
        lines = b"\n".join(_json.encode(r) for r in rows).decode()
        if lines:
            self.executor.run(
                f"INSERT INTO {table} SETTINGS insert_deduplication_token = {_q(token)} "
                f"FORMAT JSONEachRow\n{lines}\n"
            )

    def visible(self, conn: Connection) -> None:
        """Ship every event committed past the shipped position (in the caller's transaction, which holds
        the position row until it ends, so shippers take turns).

        Batches are cut deterministically: SHIP_BATCH positions' worth of events after the committed
        position, within the decided prefix of the log. A ship interrupted before its PostgreSQL commit is
        redone from the same position, so every batch is re-sent with the same start and the same or more
        events: raw copies collapse under FINAL, and rollup rows of the batch are replaced by the re-sent
        superset (ReplacingMergeTree versioned by the batch's last position)."""
        read = _POSITION_FOR_UPDATE if conn.dialect.name == "postgresql" else _POSITION
        pos = conn.execute(text(read)).scalar()
        if pos is None:
            conn.execute(text("INSERT INTO clickhouse_shipping (id, position) VALUES (1, 0)"))
            pos = 0
        at = late_gate.position(conn)
        horizon = _horizon(conn)
        while True:
            q = select(at.label("p"), events_table).where(at > pos)
            if horizon is not None:
                q = q.where(at <= horizon)
            rows = conn.execute(q.order_by(at).limit(SHIP_BATCH)).all()
            if not rows:
                return
            last = int(rows[-1].p)
            token = f"{pos}-{last}"
            self._insert(self.table, token, (ship_row(int(r.p), r.tenant_id, r, r.received_at) for r in rows))
            by_tenant: dict[str, list[Any]] = {}
            for r in rows:
                by_tenant.setdefault(r.tenant_id, []).append(r)
            cells: list[dict[str, Any]] = []
            distinct: list[dict[str, Any]] = []
            for tenant_id, events in sorted(by_tenant.items()):
                c, d = rollup_rows(conn, tenant_id, events, pos, last)
                cells += c
                distinct += d
            self._insert(self.rollups, token, cells)
            self._insert(self.uniques, token, distinct)
            pos = last
            conn.execute(text("UPDATE clickhouse_shipping SET position = :p WHERE id = 1"), {"p": pos})

    def _pending(self) -> bool:
        with uow.read(self.engine) as conn:
            at = late_gate.position(conn)
            top = conn.execute(select(at).select_from(events_table).order_by(at.desc()).limit(1)).scalar()
            pos = conn.execute(text(_POSITION)).scalar()
        return top is not None and int(top) > int(pos or 0)

    def catch_up(self) -> None:
        """Before a read: ship what a failed post-commit ship left behind (normally nothing)."""
        if self._pending():
            self.committed(self.engine)

    # --- reading ---
    def _query(self, statement: str) -> list[list[Any]]:
        out = self.executor.run(statement + " FORMAT JSONCompact")
        rows: list[list[Any]] = _decode.decode(out)["data"]
        return rows

    def _cells(self, tenant_id: str, metric: MetricDef, keys: list[str], span: Span) -> str:
        """The rollup rows of one metric for these customer keys and hours; FINAL keeps one version of
        each ship batch's row (the table is ordered by customer, so only their range is read)."""
        return (
            f"FROM {self.rollups} FINAL WHERE tenant_id = {_q(tenant_id)} AND {_in('customer_id', keys)} "
            f"AND metric_id = {_q(metric.id)} AND hour >= {int(span.first)} AND hour < {int(span.end)}"
        )

    @staticmethod
    def _hour_bucket(span: Span) -> str:
        return "0" if span.width is None else f"intDiv(hour - {int(span.first)}, {int(span.width)})"

    def sums(
        self, conn: Connection, tenant_id: str, metric: MetricDef, keys: list[str], span: Span, by_group: bool
    ) -> list[Cell]:
        if not keys:
            return []
        self.catch_up()
        group = "group_key" if by_group else _q(gk.NO_GROUP)
        statement = (
            f"SELECT customer_id, {self._hour_bucket(span)} AS b, {group} AS g, sum(count), "
            f"toString(sum(total)), toString(max(maximum)), min(texp) "
            f"{self._cells(tenant_id, metric, keys, span)} GROUP BY customer_id, b, g"
        )
        out = []
        sums = metric.aggregation_type == "SUM"
        maxes = metric.aggregation_type == "MAX"
        for r in self._query(statement):
            total = maximum = None
            if sums and r[4] is not None:
                # The SQL store's exponent: Decimal addition keeps the smallest exponent of its terms.
                total = Decimal(r[4]).quantize(Decimal(1).scaleb(min(0, int(r[6]))))
            if maxes and r[5] is not None:
                maximum = Decimal(r[5])
            out.append(Cell(r[0], int(r[1]), r[2], int(r[3]), total, maximum))
        return out

    def latest(
        self, conn: Connection, tenant_id: str, metric: MetricDef, keys: list[str], span: Span
    ) -> list[LatestCell]:
        if not keys:
            return []
        self.catch_up()
        point = "(latest_ts, latest_txn)"
        statement = (
            f"SELECT customer_id, {self._hour_bucket(span)} AS b, group_key, toString(max({point}).1), "
            f"max({point}).2, argMax(latest_value, {point}) "
            f"{self._cells(tenant_id, metric, keys, span)} AND has_latest = 1 "
            "GROUP BY customer_id, b, group_key"
        )
        out = []
        for r in self._query(statement):
            ts = datetime.strptime(r[3], "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)
            out.append(LatestCell(r[0], int(r[1]), r[2], ts, r[4], Decimal(r[5])))
        return out

    def distinct_counts(
        self,
        conn: Connection,
        tenant_id: str,
        metric: MetricDef,
        slice_index: int,
        keys: list[str],
        span: Span,
    ) -> list[tuple[int, str, int]]:
        if not keys:
            return []
        self.catch_up()
        statement = (
            # A set: copies of a value count once, so no FINAL is needed.
            f"SELECT {self._hour_bucket(span)} AS b, group_key, uniqExact(value) FROM {self.uniques} "  # noqa: S608
            f"WHERE tenant_id = {_q(tenant_id)} AND {_in('customer_id', keys)} "
            f"AND metric_id = {_q(metric.id)} AND slice = {int(slice_index)} "
            f"AND hour >= {int(span.first)} AND hour < {int(span.end)} GROUP BY b, group_key"
        )
        return [(int(r[0]), r[1], int(r[2])) for r in self._query(statement)]

    def customer_keys_with_usage(
        self, conn: Connection, tenant_id: str, metrics: list[MetricDef], span: Span
    ) -> list[str]:
        if not metrics:
            return []
        self.catch_up()
        if any(m.aggregation_type == "SQL" for m in metrics):
            # SQL metrics have no rollups: any event in the range may count toward them.
            statement = (
                # Every value in these statements is a literal rendered by _q (sqlglot's ClickHouse quoting).
                f"SELECT DISTINCT customer_id FROM {self.table} WHERE tenant_id = {_q(tenant_id)} "  # noqa: S608
                f"AND timestamp >= {_ts_literal(hour_start(span.first))} "
                f"AND timestamp < {_ts_literal(hour_start(span.end))} ORDER BY customer_id"
            )
        else:
            statement = (
                f"SELECT DISTINCT customer_id FROM {self.rollups} WHERE tenant_id = {_q(tenant_id)} "  # noqa: S608
                f"AND {_in('metric_id', sorted(m.id for m in metrics))} "
                f"AND hour >= {int(span.first)} AND hour < {int(span.end)} ORDER BY customer_id"
            )
        return [r[0] for r in self._query(statement)]

    def sql_rows(
        self, conn: Connection, metric_id: str, metric: SqlMetric, scope: sql_metrics.Scope
    ) -> list[sql_metrics.Row]:
        self.catch_up()
        statement = sql_metrics.ClickHouseTranslator(metric, "tally_events", self.layout.database).render(
            scope, sql_metrics.ROW_LIMIT
        )
        settings = f" SETTINGS max_execution_time = {int(sql_metrics.TIME_LIMIT_SECONDS)}"
        try:
            raw = self._query(statement + settings)
        except Exception as e:
            if "TIMEOUT_EXCEEDED" in str(e) or "Timeout exceeded" in str(e):
                raise sql_metrics.timed_out(metric_id) from None
            raise
        return sql_metrics.decode_rows(metric, [tuple(r) for r in raw], sql_metrics.ROW_LIMIT, metric_id)
