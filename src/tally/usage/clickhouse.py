"""The ClickHouse event store (docs/scale-out.md): raw accepted events in ClickHouse, usage computed there.

Design around ClickHouse's traps:
- No transactions: ClickHouse never decides anything. The SQL `events` table (PostgreSQL) decides dedup in
  the ingest transaction and is the log the events watermark counts; ClickHouse receives only accepted
  events, shipped by log position (`clickhouse_shipping.position`, advanced in the same SQL transaction
  as the ship). A crash between the ClickHouse insert and that commit ships the same rows again.
- A retry of one id with another timestamp would survive FINAL (different sort key): it cannot happen
  here, because a conflicting retry is a duplicate in PostgreSQL and never shipped. Re-shipped rows are
  byte-identical copies (same sort key, same version), which ReplacingMergeTree collapses and every read
  collapses with FINAL, so re-shipping never double-counts.
- Materialized rollups would double-count such copies before a merge: there are none; every figure is an
  aggregation over the raw events read with FINAL.

All statements are built here as text and run through an `Executor`: clickhouse-connect (HTTP) in
production, chdb (embedded ClickHouse) in tests. The text is byte-identical for both; results come back
as JSONCompact with numbers rendered by `toString`, so decoding is shared too.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import msgspec
from sqlalchemy import Connection, Engine, select, text
from sqlglot import exp

from tally.db import uow
from tally.metering import MetricDef, hour_start
from tally.metering.sql import SqlMetric
from tally.metering.values import quantity, string_form
from tally.models.events import events as events_table
from tally.usage import keys as gk
from tally.usage import late_gate, repository, sql_metrics
from tally.usage.repository import Cell, LatestCell, RawEvent, Span

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


def ddl(layout: Layout) -> list[str]:
    """CREATE statements for the events table (single node, or replicated + Distributed on a cluster)."""
    db = _ident(layout.database)
    columns = (
        "(tenant_id String, transaction_id String, customer_id String, event_type LowCardinality(String), "
        "timestamp DateTime64(6, 'UTC'), props Map(String, String), nums Map(String, Decimal(76, 20)), "
        "qtext Map(String, String), nexp Map(String, Int16), position UInt64, "
        "received_at DateTime64(6, 'UTC'))"
    )
    order = "PARTITION BY toYYYYMM(timestamp) ORDER BY (tenant_id, customer_id, timestamp, transaction_id)"
    if layout.cluster is None:
        return [
            f"CREATE DATABASE IF NOT EXISTS {db}",
            f"CREATE TABLE IF NOT EXISTS {db}.tally_events {columns} ENGINE = ReplacingMergeTree {order}",
        ]
    on = f"ON CLUSTER {_ident(layout.cluster)}"
    return [
        f"CREATE DATABASE IF NOT EXISTS {db} {on}",
        f"CREATE TABLE IF NOT EXISTS {db}.tally_events_local {on} {columns} ENGINE = "
        "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/tally_events', '{replica}') "
        f"{order}",
        # Rows of one (tenant, customer) live on one shard, so FINAL collapses copies shard-locally.
        f"CREATE TABLE IF NOT EXISTS {db}.tally_events {on} AS {db}.tally_events_local ENGINE = "
        f"Distributed({_ident(layout.cluster)}, {db}, tally_events_local, "
        "cityHash64(tenant_id, customer_id))",
    ]


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


class ClickHouseEventStore:
    name = "clickhouse"

    def __init__(self, engine: Engine, executor: Executor, layout: Layout | None = None) -> None:
        self.engine = engine
        self.executor = executor
        self.layout = layout or Layout()
        self.table = f"{_ident(self.layout.database)}.tally_events"

    # --- schema (run by `tally migrate`) ---
    def create_schema(self) -> None:
        for statement in ddl(self.layout):
            self.executor.run(statement)

    # --- shipping ---
    def accepted(self, conn: Connection, tenant_id: str, events: list[Any]) -> None:
        return None  # shipped after commit: ClickHouse cannot take part in the SQL transaction

    def committed(self, engine: Engine) -> None:
        with uow.write(engine) as conn:
            self.visible(conn)

    def visible(self, conn: Connection) -> None:
        """Ship every event committed past the shipped position (in the caller's transaction, which holds
        the position row until it ends, so shippers take turns)."""
        read = _POSITION_FOR_UPDATE if conn.dialect.name == "postgresql" else _POSITION
        pos = conn.execute(text(read)).scalar()
        if pos is None:
            conn.execute(text("INSERT INTO clickhouse_shipping (id, position) VALUES (1, 0)"))
            pos = 0
        at = late_gate.position(conn)
        while True:
            rows = conn.execute(
                select(at.label("p"), events_table).where(at > pos).order_by(at).limit(SHIP_BATCH)
            ).all()
            if not rows:
                return
            lines = b"\n".join(
                _json.encode(ship_row(int(r.p), r.tenant_id, r, r.received_at)) for r in rows
            ).decode()
            token = f"{int(rows[0].p)}-{int(rows[-1].p)}"
            self.executor.run(
                f"INSERT INTO {self.table} SETTINGS insert_deduplication_token = {_q(token)} "
                f"FORMAT JSONEachRow\n{lines}\n"
            )
            pos = int(rows[-1].p)
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

    def _scope(self, tenant_id: str, keys: list[str], span: Span) -> str:
        return (
            f"tenant_id = {_q(tenant_id)} AND {_in('customer_id', keys)} "
            f"AND timestamp >= {_ts_literal(hour_start(span.first))} "
            f"AND timestamp < {_ts_literal(hour_start(span.end))}"
        )

    @staticmethod
    def _bucket(span: Span) -> str:
        if span.width is None:
            return "0"
        return f"intDiv(toInt64(toUnixTimestamp(timestamp)) - {span.first * 3600}, {span.width * 3600})"

    @staticmethod
    def _matches(metric: MetricDef) -> str:
        """MetricDef.contribution as a condition."""
        parts = []
        if metric.event_types_in is not None:
            parts.append(_in("event_type", sorted(metric.event_types_in)))
        if metric.event_types_not_in is not None:
            parts.append("NOT " + _in("event_type", sorted(metric.event_types_not_in)))
        for f in metric.property_filters:
            has = f"mapContains(props, {_q(f.name)})"
            value = f"props[{_q(f.name)}]"
            checks = []
            if f.in_values is not None:
                checks.append(_in(value, sorted(f.in_values)))
            if f.not_in_values is not None:
                checks.append("NOT " + _in(value, sorted(f.not_in_values)))
            if f.exists is True or f.in_values is not None:
                parts.append(" AND ".join([has, *checks]))
            elif f.exists is False:
                parts.append(f"NOT {has}")
            elif checks:
                parts.append(f"(NOT {has} OR ({' AND '.join(checks)}))")
        if metric.created_at is not None:
            parts.append(f"received_at >= {_ts_literal(metric.created_at)}")
        agg, key = metric.aggregation_type, metric.aggregation_key
        if agg in ("SUM", "MAX", "LATEST") and key is not None:
            parts.append(f"mapContains(nums, {_q(key)})")
        if agg == "UNIQUE" and key is not None:
            parts.append(f"mapContains(props, {_q(key)})")
        return " AND ".join(f"({p})" for p in parts) or "1"

    @staticmethod
    def _groups(props: Iterable[str]) -> list[str]:
        return [f"if(mapContains(props, {_q(p)}), props[{_q(p)}], NULL)" for p in props]

    def _read(self, metric: MetricDef, tenant_id: str, keys: list[str], span: Span) -> str:
        return (
            f"FROM {self.table} FINAL WHERE {self._scope(tenant_id, keys, span)} AND {self._matches(metric)}"
        )

    def sums(
        self, conn: Connection, tenant_id: str, metric: MetricDef, keys: list[str], span: Span, by_group: bool
    ) -> list[Cell]:
        if not keys:
            return []
        self.catch_up()
        groups = self._groups(metric.group_properties) if by_group else []
        key = _q(metric.aggregation_key or "")
        select_groups = "".join(f", {g}" for g in groups)
        statement = (
            f"SELECT customer_id, {self._bucket(span)} AS b, count(), toString(sum(nums[{key}])), "
            f"toString(max(nums[{key}])), min(nexp[{key}]), argMax(qtext[{key}], nums[{key}]){select_groups} "
            f"{self._read(metric, tenant_id, keys, span)} "
            f"GROUP BY customer_id, b{''.join(f', {g}' for g in groups)}"
        )
        out = []
        sums = metric.aggregation_type == "SUM"
        maxes = metric.aggregation_type == "MAX"
        for r in self._query(statement):
            total = maximum = None
            if sums:
                # The SQL store's exponent: Decimal addition keeps the smallest exponent of its terms.
                total = Decimal(r[3]).quantize(Decimal(1).scaleb(min(0, int(r[5]))))
            if maxes:
                maximum = Decimal(r[6])
            values = tuple(r[7:])
            out.append(
                Cell(
                    r[0],
                    int(r[1]),
                    _group_key(values) if by_group else gk.NO_GROUP,
                    int(r[2]),
                    total,
                    maximum,
                )
            )
        return out

    def latest(
        self, conn: Connection, tenant_id: str, metric: MetricDef, keys: list[str], span: Span
    ) -> list[LatestCell]:
        if not keys:
            return []
        self.catch_up()
        groups = self._groups(metric.group_properties)
        key = _q(metric.aggregation_key or "")
        point = "(timestamp, transaction_id)"
        statement = (
            f"SELECT customer_id, {self._bucket(span)} AS b, toString(max({point}).1), "
            f"max({point}).2, argMax(qtext[{key}], {point}){''.join(f', {g}' for g in groups)} "
            f"{self._read(metric, tenant_id, keys, span)} "
            f"GROUP BY customer_id, b{''.join(f', {g}' for g in groups)}"
        )
        out = []
        for r in self._query(statement):
            ts = datetime.strptime(r[2], "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)
            out.append(LatestCell(r[0], int(r[1]), _group_key(tuple(r[5:])), ts, r[3], Decimal(r[4])))
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
        groups = self._groups(metric.group_keys[slice_index]) if slice_index >= 0 else []
        key = _q(metric.aggregation_key or "")
        statement = (
            f"SELECT {self._bucket(span)} AS b, uniqExact(props[{key}]){''.join(f', {g}' for g in groups)} "
            f"{self._read(metric, tenant_id, keys, span)} GROUP BY b{''.join(f', {g}' for g in groups)}"
        )
        return [
            (int(r[0]), _group_key(tuple(r[2:])) if groups else gk.NO_GROUP, int(r[1]))
            for r in self._query(statement)
        ]

    def customer_keys_with_usage(
        self, conn: Connection, tenant_id: str, metrics: list[MetricDef], span: Span
    ) -> list[str]:
        if not metrics:
            return []
        self.catch_up()
        if any(m.aggregation_type == "SQL" for m in metrics):
            condition = "1"
        else:
            condition = " OR ".join(f"({self._matches(m)})" for m in metrics)
        statement = (
            # Every value in these statements is a literal rendered by _q (sqlglot's ClickHouse quoting).
            f"SELECT DISTINCT customer_id FROM {self.table} FINAL WHERE tenant_id = {_q(tenant_id)} "  # noqa: S608
            f"AND timestamp >= {_ts_literal(hour_start(span.first))} "
            f"AND timestamp < {_ts_literal(hour_start(span.end))} AND ({condition}) ORDER BY customer_id"
        )
        return [r[0] for r in self._query(statement)]

    def raw_events(
        self, conn: Connection, tenant_id: str, keys: list[str], start: datetime, end: datetime
    ) -> Iterable[RawEvent]:
        # The SQL events table stays the log of every accepted event (dedup, watermarks): an explanation
        # reads it there, with the same positions the watermark compares.
        return repository.raw_events(conn, tenant_id, keys, start, end)

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


def _group_key(values: tuple[str | None, ...]) -> str:
    """Group values inline (never hashed: nothing needs the SQL store's long-group table)."""
    return gk.inline_group_key(values)
