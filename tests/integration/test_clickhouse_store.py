"""Differential tests: the SQL store and the ClickHouse store (run by chdb, embedded ClickHouse) give the same
usage, to the byte of each decimal, and the same SQL-metric rows, for the same seeded workloads.

Workloads (hypothesis): duplicates and conflicting retries of one transaction id (another timestamp, other
properties), several ingest keys of one customer (late binding is the key list a read uses), out-of-order
timestamps, events of another customer, garbage numbers; every aggregation, with and without groups, in
HOUR, DAY and NONE windows. Shipping is interrupted the way a crash between the ClickHouse insert and the
SQL commit interrupts it: the first half of the events is shipped, the shipped position is put back, the rest
is ingested and everything is shipped again from that position. So the first half exists twice in ClickHouse
(raw copies, and rollup rows of a batch re-sent with more events): neither may count twice.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from tally.auth import service as auth
from tally.billable_metrics import service as metrics
from tally.billable_metrics.schemas import CreateMetric
from tally.db import migrate, uow
from tally.db.engine import make_engine
from tally.metering import hour_of
from tally.metering import sql as m_sql
from tally.usage import clickhouse, sql_metrics, store
from tally.usage.events import AcceptedEvent, Span
from tally.usage.ingest import Job
from tally.usage.ingest import store as ingest_store
from tally.usage.service import compute, definition
from tests.integration.test_sql_metrics import QUERIES

T0 = datetime(2025, 3, 1, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FIRST = hour_of(T0)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path: Path = tmp_path_factory.mktemp("diff") / "d.db"
    eng = make_engine(f"sqlite:///{path}")
    migrate.upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture(scope="module")
def ch(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> clickhouse.ClickHouseEventStore:
    executor = clickhouse.ChdbExecutor(str(tmp_path_factory.mktemp("chdb") / "ch"))
    s = clickhouse.ClickHouseEventStore(engine, executor)
    s.create_schema()
    return s


numbers = st.one_of(
    st.sampled_from(["1", "2.50", "-3", "0.10", "abc", "1e2", "7.000", "-0.5", "12345678.123456", "0"]),
    st.integers(-60, 60).map(str),
    st.integers(-10_000, 10_000).map(lambda i: Decimal(i).scaleb(-2)),
)


@st.composite
def workloads(draw: st.DrawFn) -> list[AcceptedEvent]:
    out = []
    for i in range(draw(st.integers(1, 40))):
        props: dict[str, Any] = {}
        if draw(st.integers(0, 4)):
            props["n"] = draw(numbers)
        if draw(st.integers(0, 3)):
            props["g"] = draw(st.sampled_from(["us", "eu", "ap"]))
        if draw(st.booleans()):
            props["h"] = draw(st.sampled_from(["x", "y"]))
        # Duplicates: ids drawn from a small pool, so retries collide (with other timestamps/properties).
        tid = f"t{draw(st.integers(0, max(1, i)))}"
        ts = T0 + timedelta(
            minutes=draw(st.integers(0, 3 * 24 * 60 - 1)), microseconds=draw(st.sampled_from([0, 1]))
        )
        out.append(AcceptedEvent(tid, draw(st.sampled_from(["k1", "k2", "k2", "zz"])), "e", ts, props))
    return out


_n = itertools.count()


def _setup(
    engine: Engine, events: list[AcceptedEvent], midway: Callable[[], None] = lambda: None
) -> tuple[str, dict[str, Any]]:
    """A tenant with one metric per aggregation (created before the events arrive), the events ingested
    in batches of 7 through the real ingest path (dedup + rollups); `midway` runs after half of them."""
    with uow.write(engine) as conn:
        tenant = auth.get_or_create_tenant(conn, f"diff-{next(_n)}", T0)
        made = {}
        for agg in ("COUNT", "SUM", "MAX", "LATEST", "UNIQUE"):
            req: dict[str, Any] = {
                "name": agg,
                "aggregation_type": agg,
                "event_type_filter": {"in_values": ["e"]},
                "property_filters": [{"name": "n", "exists": True}, {"name": "g"}, {"name": "h"}],
                "group_keys": [["g"], ["g", "h"]],
            }
            if agg != "COUNT":
                req["aggregation_key"] = "n"
            else:
                req["property_filters"] = [{"name": "g", "not_in_values": ["ap"]}, {"name": "h"}]
            mid = metrics.create(conn, tenant.id, CreateMetric.model_validate(req), T0 - timedelta(days=1))
            made[agg] = definition(metrics.get(conn, tenant.id, mid))
    for i in range(0, len(events), 7):
        if i >= len(events) // 2 > i - 7:
            midway()
        with uow.write(engine) as conn:
            ingest_store(conn, [Job(tenant.id, events[i : i + 7], T0)])
    return tenant.id, made


class Crash:
    """Ship, then lose the shipped position's advance (the crash), as if the PostgreSQL commit never
    happened; the next ship starts again from the position before it."""

    def __init__(self, engine: Engine, ch: clickhouse.ClickHouseEventStore) -> None:
        self.engine, self.ch = engine, ch

    def __call__(self) -> None:
        with uow.read(self.engine) as conn:
            before = conn.execute(text("SELECT position FROM clickhouse_shipping")).scalar() or 0
        self.ch.committed(self.engine)
        with uow.write(self.engine) as conn:
            conn.execute(text("UPDATE clickhouse_shipping SET position = :p"), {"p": before})


def _ship_twice(engine: Engine, ch: clickhouse.ClickHouseEventStore) -> None:
    Crash(engine, ch)()
    ch.committed(engine)


def _figures(engine: Engine, tenant_id: str, made: dict[str, Any]) -> dict[Any, str | None]:
    out: dict[Any, str | None] = {}
    with uow.read(engine) as conn:
        for agg, d in made.items():
            for width in (None, 24, 1):
                span = Span(FIRST, FIRST + 3 * 24, width)
                for group, slice_index in ((None, -1), (("g",), 0), (("g", "h"), 1)):
                    cells = compute(conn, tenant_id, d, {"c": ["k1", "k2"]}, span, group, slice_index)["c"]
                    for (bucket, values), cell in cells.items():
                        v = cell.value(agg)
                        # Byte-exact text, except MAX: equal maxima written differently ("1e2" and 100.00)
                        # tie, and which text wins is the store's order of reading (docs/scale-out.md).
                        shown = None if v is None else (m_sql.canon(v) if agg == "MAX" else str(v))
                        out[(agg, width, group, bucket, values)] = shown
    return out


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(events=workloads())
def test_usage_is_identical_on_both_stores(
    engine: Engine, ch: clickhouse.ClickHouseEventStore, events: list[AcceptedEvent]
) -> None:
    old = store.use(store.SqlEventStore())
    try:
        tenant_id, made = _setup(engine, events, Crash(engine, ch))
        want = _figures(engine, tenant_id, made)
        ch.committed(engine)
        store.use(ch)
        got = _figures(engine, tenant_id, made)
    finally:
        store.use(old)
    assert got == want


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(events=workloads())
def test_sql_metrics_are_identical_on_both_stores(
    engine: Engine, ch: clickhouse.ClickHouseEventStore, events: list[AcceptedEvent]
) -> None:
    old = store.use(store.SqlEventStore())
    try:
        tenant_id, _ = _setup(engine, events)
        _ship_twice(engine, ch)
        for text_ in QUERIES:
            metric = m_sql.parse(text_)
            for width in (None, 24, 1):
                scope = sql_metrics.Scope(
                    tenant_id,
                    ("k1", "k2"),
                    T0,
                    T0 + timedelta(days=3),
                    int((T0 - EPOCH).total_seconds()),
                    None if width is None else width * 3600,
                )
                with uow.read(engine) as conn:
                    sql_rows = store.SqlEventStore().sql_rows(conn, "m", metric, scope)
                    ch_rows = ch.sql_rows(conn, "m", metric, scope)

                def norm(rows: list[sql_metrics.Row]) -> set[Any]:
                    return {
                        (r.bucket, r.group, None if r.value is None else m_sql.canon(r.value)) for r in rows
                    }

                assert norm(ch_rows) == norm(sql_rows), (text_, width)
    finally:
        store.use(old)


def test_statement_text_is_the_same_for_both_executors(ch: clickhouse.ClickHouseEventStore) -> None:
    """The store builds text only; the executors just carry it (HttpExecutor sends it as the query)."""
    assert clickhouse.ddl(clickhouse.Layout()) == clickhouse.ddl(clickhouse.Layout.from_url("chdb:///x"))
    cluster = clickhouse.ddl(clickhouse.Layout.from_url("clickhouse://h:8123/billing?cluster=main"))
    assert any("ReplicatedReplacingMergeTree" in s and 'ON CLUSTER "main"' in s for s in cluster)
    assert any('Distributed("main", "billing", tally_events_local' in s for s in cluster)
