"""The metering seam: where events are kept for metering and how usage is read back.

Everything that meters goes through the `EventStore` in force: ingest (after the events are accepted),
usage queries (`usage.service.compute`, which serves `/v1/usage`, drafts, finalization, alerts and invoice
breakdowns), SQL billable metrics, and finalization (which first makes every committed event visible).

Dedup is NOT the store's decision: the SQL `events` table (PostgreSQL or SQLite) decides, per tenant and
forever, which event of a transaction id is accepted, inside the ingest transaction (`usage.ingest`); it is
also the events watermark's log. A store only ever sees accepted events.

- `SqlEventStore` (default): hourly rollups kept in the same transaction as the event (`usage.rollups`),
  read by `usage.repository`; SQL metrics run on the SQL database.
- `ClickHouseEventStore` (`TALLY_EVENTS_URL=clickhouse://...`, `usage.clickhouse`): accepted events are
  shipped to ClickHouse after commit with rollup rows per ship batch; usage is read from those rollups and
  SQL metrics from the raw events.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection, Engine

from tally.metering import MetricDef
from tally.metering.sql import SqlMetric
from tally.usage import repository as repo
from tally.usage import rollups, sql_metrics
from tally.usage.events import Cell, LatestCell, RawEvent, Span


class EventStore(Protocol):
    name: str

    def accepting(self, conn: Connection) -> None:
        """Inside the ingest transaction, before any event is inserted (its log position drawn)."""

    def accepted(self, conn: Connection, tenant_id: str, events: list[Any]) -> None:
        """Newly accepted events (AcceptedEvent), inside the ingest transaction, before COMMIT."""

    def committed(self, engine: Engine) -> None:
        """After an ingest transaction committed, before the client is answered."""

    def visible(self, conn: Connection) -> None:
        """Make every committed event readable, within the caller's (finalizing) transaction."""

    def sums(
        self, conn: Connection, tenant_id: str, metric: MetricDef, keys: list[str], span: Span, by_group: bool
    ) -> list[Cell]: ...

    def latest(
        self, conn: Connection, tenant_id: str, metric: MetricDef, keys: list[str], span: Span
    ) -> list[LatestCell]: ...

    def distinct_counts(
        self,
        conn: Connection,
        tenant_id: str,
        metric: MetricDef,
        slice_index: int,
        keys: list[str],
        span: Span,
    ) -> list[tuple[int, str, int]]: ...

    def customer_keys_with_usage(
        self, conn: Connection, tenant_id: str, metrics: list[MetricDef], span: Span
    ) -> list[str]: ...

    def sql_rows(
        self, conn: Connection, metric_id: str, metric: SqlMetric, scope: sql_metrics.Scope
    ) -> list[sql_metrics.Row]: ...

    def raw_events(
        self,
        conn: Connection,
        tenant_id: str,
        keys: list[str],
        start: datetime,
        end: datetime,
        event_types: list[str] | None = None,
        after_position: int | None = None,
    ) -> Iterable[RawEvent]:
        """The accepted events of these customer keys in [start, end), oldest first, each with its log
        position (invoice explanations: tally.invoices.explain). `event_types`: only events of these
        types (None: every type); `after_position`: only events logged after that position (late events
        of a finalized invoice)."""
        ...


class SqlEventLog:
    """The SQL events table stays the log of every accepted event (dedup, watermarks) whatever store meters
    them: raw events are read there, with the same positions the watermark compares."""

    def raw_events(
        self,
        conn: Connection,
        tenant_id: str,
        keys: list[str],
        start: datetime,
        end: datetime,
        event_types: list[str] | None = None,
        after_position: int | None = None,
    ) -> Iterable[RawEvent]:
        return repo.raw_events(conn, tenant_id, keys, start, end, event_types, after_position)


class SqlEventStore(SqlEventLog):
    """Events and rollups in the SQL database (SQLite or PostgreSQL)."""

    name = "sql"

    def accepting(self, conn: Connection) -> None:
        return None

    def accepted(self, conn: Connection, tenant_id: str, events: list[Any]) -> None:
        rollups.apply(conn, tenant_id, events)

    def committed(self, engine: Engine) -> None:
        return None

    def visible(self, conn: Connection) -> None:
        return None

    def sums(
        self, conn: Connection, tenant_id: str, metric: MetricDef, keys: list[str], span: Span, by_group: bool
    ) -> list[Cell]:
        return repo.sums(conn, tenant_id, metric.id, keys, span, by_group)

    def latest(
        self, conn: Connection, tenant_id: str, metric: MetricDef, keys: list[str], span: Span
    ) -> list[LatestCell]:
        return repo.latest(conn, tenant_id, metric.id, keys, span)

    def distinct_counts(
        self,
        conn: Connection,
        tenant_id: str,
        metric: MetricDef,
        slice_index: int,
        keys: list[str],
        span: Span,
    ) -> list[tuple[int, str, int]]:
        return repo.distinct_counts(conn, tenant_id, metric.id, slice_index, keys, span)

    def customer_keys_with_usage(
        self, conn: Connection, tenant_id: str, metrics: list[MetricDef], span: Span
    ) -> list[str]:
        streaming = [m.id for m in metrics if m.aggregation_type != "SQL"]
        used = repo.customer_keys_with_usage(conn, tenant_id, streaming, span)
        if len(streaming) < len(metrics):
            # SQL metrics have no rollups: any event in the range may count toward them.
            used = sorted({*used, *repo.customer_keys_with_events(conn, tenant_id, span)})
        return used

    def sql_rows(
        self, conn: Connection, metric_id: str, metric: SqlMetric, scope: sql_metrics.Scope
    ) -> list[sql_metrics.Row]:
        return sql_metrics.run(conn, metric_id, metric, scope)


_lock = threading.Lock()
_current: EventStore = SqlEventStore()


def current() -> EventStore:
    return _current


def use(store: EventStore) -> EventStore:
    """Install the store for this process (set once at startup from TALLY_EVENTS_URL); returns the old one."""
    global _current
    with _lock:
        old, _current = _current, store
    return old


def from_url(url: str | None, engine: Engine) -> EventStore:
    """The store a TALLY_EVENTS_URL names: empty = the SQL store; clickhouse://host:8123/db (optionally
    ?cluster=NAME) = ClickHouse through clickhouse-connect; chdb:///path = embedded ClickHouse (tests)."""
    if not url:
        return SqlEventStore()
    from tally.usage import clickhouse  # the optional extra is imported only when configured

    return clickhouse.ClickHouseEventStore(
        engine, clickhouse.executor_for(url), clickhouse.Layout.from_url(url)
    )
