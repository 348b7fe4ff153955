"""SQL billable metrics on the SQL store (SQLite and PostgreSQL) equal the pure-Python evaluation.

Hypothesis draws events (conflicting property types, missing properties, garbage numbers, ties on the
timestamp, several ingest keys of one customer and events of another customer) and every query below runs
through the database with tally's scoping and window buckets; the reference evaluator
(`tally.metering.sql.evaluate`) runs on the same events, filtered to the customer and window in Python.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from tally.auth import service as auth
from tally.db import uow
from tally.errors import BadRequest
from tally.metering import sql as m_sql
from tally.metering.sql import canon, evaluate
from tally.models.events import events as events_table
from tally.usage import sql_metrics
from tally.usage.events import AcceptedEvent
from tests.support.engines import migrated_engine

T0 = datetime(2025, 3, 1, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DAYS = 3

QUERIES = [
    "SELECT COUNT(*) FROM events",
    "SELECT SUM(CAST(properties.n AS DECIMAL)) AS value, properties.region FROM events "
    "WHERE event_type = 'a' GROUP BY properties.region",
    "SELECT MAX(CAST(properties.n AS INT)) AS value, event_type FROM events GROUP BY 2",
    "SELECT MIN(CAST(properties.n AS DOUBLE)) FROM events WHERE properties.region != 'eu'",
    "SELECT AVG(CAST(properties.n AS DECIMAL)) FROM events",
    "SELECT ROUND(SUM(CAST(properties.n AS DECIMAL)) / 7, 3) FROM events WHERE properties.n IS NOT NULL",
    "SELECT LATEST(CAST(properties.n AS DECIMAL)) AS value, event_type FROM events GROUP BY event_type",
    "SELECT EARLIEST(CAST(properties.n AS DECIMAL)) FROM events",
    "SELECT COUNT(DISTINCT properties.region) FROM events",
    "SELECT COUNT(DISTINCT CAST(properties.n AS DECIMAL)) FROM events",
    "SELECT COUNT(properties.region) AS value, DATE_TRUNC('hour', timestamp) AS h FROM events GROUP BY h",
    "SELECT SUM(CASE WHEN properties.region IN ('us', 'eu') THEN 1 ELSE 0 END) FROM events "
    "WHERE NOT (event_type != 'a') OR properties.region IS NULL",
    "SELECT GREATEST(MAX(CAST(properties.n AS DECIMAL)), 0) + LEAST(COUNT(*), 3) * "
    "CEIL(MIN(CAST(properties.n AS DECIMAL))) - FLOOR(AVG(CAST(properties.n AS INT))) FROM events",
    "SELECT SUM(CAST(properties.n AS DECIMAL)) AS value, CAST(properties.k AS INT) AS k FROM events "
    "WHERE CAST(properties.n AS DECIMAL) >= -1 AND CAST(properties.n AS DECIMAL) < 100 GROUP BY k",
    "SELECT -SUM(CAST(properties.n AS DECIMAL)) FROM events WHERE properties.region NOT IN ('ap')",
    "SELECT COUNT(*) AS value, DATE_TRUNC('day', timestamp) AS d, properties.region AS r FROM events "
    "GROUP BY d, r",
]


@pytest.fixture(scope="module")
def engine(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with migrated_engine(backend, tmp_path_factory.mktemp("db")) as eng:
        yield eng


numbers = st.one_of(
    st.sampled_from(["1", "2.5", "-3", "0.10", "abc", "1e2", " 4", "", "7.000", "-0.5", "12345678.123456"]),
    st.integers(-60, 60).map(str),
    st.integers(-10_000, 10_000).map(lambda i: Decimal(i).scaleb(-2)),  # a JSON number, exact
    st.just(True),
)


@st.composite
def event_lists(draw: st.DrawFn) -> list[AcceptedEvent]:
    n = draw(st.integers(0, 40))
    out = []
    for i in range(n):
        props: dict[str, Any] = {}
        if draw(st.booleans()) or draw(st.booleans()):
            props["n"] = draw(numbers)
        if draw(st.integers(0, 3)):
            props["region"] = draw(st.sampled_from(["us", "eu", "ap", "it's"]))
        if draw(st.booleans()):
            props["k"] = draw(st.sampled_from(["1", "01", "2", "x"]))
        # Few distinct instants, so LATEST/EARLIEST meet ties on the timestamp.
        ts = T0 + timedelta(
            seconds=draw(st.integers(0, 12)) * 21_601 + draw(st.sampled_from([0, 0, 1, 500_000])) / 1e6
        )
        out.append(
            AcceptedEvent(
                f"tx-{i:03d}-{draw(st.sampled_from(['a', 'B', 'z']))}",
                draw(st.sampled_from(["k1", "k1", "k2", "other"])),
                draw(st.sampled_from(["a", "a", "b"])),
                ts,
                props,
            )
        )
    return out


_tenants = itertools.count()


def _store(engine: Engine, events: list[AcceptedEvent]) -> str:
    with uow.write(engine) as conn:
        tenant = auth.get_or_create_tenant(conn, f"sqlm-{next(_tenants)}-{id(events)}", T0)
        if events:
            conn.execute(
                events_table.insert(),
                [
                    {
                        "tenant_id": tenant.id,
                        "transaction_id": e.transaction_id,
                        "customer_id": e.customer_id,
                        "event_type": e.event_type,
                        "timestamp": e.timestamp,
                        "properties": e.properties,
                        "received_at": T0,
                    }
                    for e in events
                ],
            )
    return tenant.id


def _expected(
    metric: m_sql.SqlMetric, events: list[AcceptedEvent], width_hours: int | None
) -> set[tuple[Any, ...]]:
    keys = {"k1", "k2"}
    start, end = T0, T0 + timedelta(days=DAYS)
    buckets: dict[int, list[AcceptedEvent]] = {}
    for e in events:
        if e.customer_id in keys and start <= e.timestamp < end:
            b = 0 if width_hours is None else int((e.timestamp - start) // timedelta(hours=width_hours))
            buckets.setdefault(b, []).append(e)
    return {
        (b, row.group, None if row.value is None else canon(row.value))
        for b, evs in buckets.items()
        for row in evaluate(metric, evs)
    }


def _actual(engine: Engine, tenant_id: str, metric: m_sql.SqlMetric, width_hours: int | None) -> set[Any]:
    scope = sql_metrics.Scope(
        tenant_id,
        ("k1", "k2"),
        T0,
        T0 + timedelta(days=DAYS),
        int((T0 - EPOCH).total_seconds()),
        None if width_hours is None else width_hours * 3600,
    )
    with uow.read(engine) as conn:
        rows = sql_metrics.run(conn, "m", metric, scope)
    return {(r.bucket, r.group, None if r.value is None else canon(r.value)) for r in rows}


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(events=event_lists())
def test_every_query_equals_the_python_evaluation(engine: Engine, events: list[AcceptedEvent]) -> None:
    tenant_id = _store(engine, events)
    for text in QUERIES:
        metric = m_sql.parse(text)
        for width in (None, 24, 1):
            assert _actual(engine, tenant_id, metric, width) == _expected(metric, events, width), (
                text,
                width,
            )


def test_hand_computed_usage(engine: Engine) -> None:
    """Three events of one customer (two keys), one of another customer, one outside the window.
    SUM(bytes) for event type page_load = 648 + 1000 = 1648 (k1 and k2; 'other' and the late one excluded);
    by region: US-East 648, EU 1000."""
    events = [
        AcceptedEvent(
            "a", "k1", "page_load", T0 + timedelta(hours=10), {"bytes": "648", "region": "US-East"}
        ),
        AcceptedEvent("b", "k2", "page_load", T0 + timedelta(hours=11), {"bytes": 1000, "region": "EU"}),
        AcceptedEvent("c", "other", "page_load", T0 + timedelta(hours=12), {"bytes": "5", "region": "EU"}),
        AcceptedEvent("d", "k1", "page_load", T0 + timedelta(days=DAYS), {"bytes": "7", "region": "EU"}),
    ]
    tenant_id = _store(engine, events)
    total = m_sql.parse(
        "SELECT SUM(CAST(properties.bytes AS INT)) FROM events WHERE event_type = 'page_load'"
    )
    assert _actual(engine, tenant_id, total, None) == {(0, (), "1648")}
    by_region = m_sql.parse(
        "SELECT SUM(CAST(properties.bytes AS INT)) AS value, properties.region FROM events GROUP BY 2"
    )
    assert _actual(engine, tenant_id, by_region, None) == {(0, ("EU",), "1000"), (0, ("US-East",), "648")}


def test_row_and_time_limits(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    events = [AcceptedEvent(f"r{i}", "k1", "a", T0 + timedelta(minutes=i), {"u": str(i)}) for i in range(300)]
    tenant_id = _store(engine, events)
    per_user = m_sql.parse("SELECT COUNT(*) AS value, properties.u FROM events GROUP BY properties.u")
    monkeypatch.setattr(sql_metrics, "ROW_LIMIT", 10)
    with pytest.raises(BadRequest, match="more than 10 rows"):
        _actual(engine, tenant_id, per_user, None)
    monkeypatch.setattr(sql_metrics, "ROW_LIMIT", 1000)
    assert len(_actual(engine, tenant_id, per_user, None)) == 300
    if engine.dialect.name == "sqlite":
        monkeypatch.setattr(sql_metrics, "TIME_LIMIT_SECONDS", -1.0)
        with pytest.raises(BadRequest, match="ran longer than"):
            _actual(engine, tenant_id, per_user, None)
