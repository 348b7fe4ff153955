"""Metering rollups on both databases, driven in-process through the ingest hook `rollups.apply`.

The request paths read only these rollups, so their exactness is the exactness of every usage figure:
"0.1" summed 1,000,000 times must be exactly 100000 (SQLite's own SUM would return a binary float), and
the usage service must agree with the pure reference aggregator over random events.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine

from tally.auth import service as auth
from tally.billable_metrics import service as metrics
from tally.billable_metrics.schemas import CreateMetric
from tally.db import uow
from tally.metering import MetricDef, reference_usage
from tally.usage import rollups
from tally.usage.events import AcceptedEvent, Span
from tally.usage.service import compute
from tests.support.engines import migrated_engine

T0 = datetime(2025, 3, 1, tzinfo=UTC)
MONTH = timedelta(days=31)


@pytest.fixture(scope="module")
def engine(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with migrated_engine(backend, tmp_path_factory.mktemp("db")) as eng:
        yield eng


def _tenant_and_metric(engine: Engine, name: str, **kw: Any) -> tuple[str, MetricDef]:
    args: dict[str, Any] = {
        "name": name,
        "aggregation_type": "SUM",
        "aggregation_key": "n",
        "event_type_filter": {"in_values": ["t"]},
        "property_filters": [{"name": "n"}, {"name": "g"}],
    }
    args.update(kw)
    with uow.write(engine) as conn:
        tenant = auth.get_or_create_tenant(conn, name, T0)
        metric_id = metrics.create(conn, tenant.id, CreateMetric.model_validate(args), T0)
        m = metrics.get(conn, tenant.id, metric_id)
    assert m.aggregation_type is not None
    d = MetricDef.of(
        m.id, m.aggregation_type, m.aggregation_key, m.event_type_filter, m.property_filters, m.group_keys
    )
    return tenant.id, d


def _usage(
    engine: Engine, tenant_id: str, d: MetricDef, keys: list[str], window: str, group: Any = None
) -> Any:
    width = {"HOUR": 1, "DAY": 24}.get(window)
    start_h = int((T0 - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(hours=1))
    span = Span(start_h, start_h + 31 * 24, width)
    slice_index = 0 if group else -1
    with uow.read(engine) as conn:
        return compute(conn, tenant_id, d, {"c": keys}, span, group, slice_index)["c"]


def test_a_million_tenths_sum_to_exactly_100000(engine: Engine) -> None:
    tenant_id, d = _tenant_and_metric(engine, "exact-million")
    n = 1_000_000
    batch = 20_000
    for start in range(0, n, batch):
        events = [
            AcceptedEvent(
                f"t{i}", "cust", "t", T0 + timedelta(seconds=(i * 2677) % (31 * 86400)), {"n": "0.1"}
            )
            for i in range(start, start + batch)
        ]
        with uow.write(engine) as conn:
            rollups.apply(conn, tenant_id, events)
    cells = _usage(engine, tenant_id, d, ["cust"], "NONE")
    assert cells[(0, ())].total == Decimal("100000")
    assert cells[(0, ())].count == n
    days = _usage(engine, tenant_id, d, ["cust"], "DAY")
    assert sum((c.total for c in days.values()), Decimal(0)) == Decimal("100000")


@pytest.mark.parametrize("agg", ["COUNT", "SUM", "MAX", "UNIQUE", "LATEST"])
def test_rollups_equal_the_reference_over_random_events(engine: Engine, agg: str) -> None:
    kw: dict[str, Any] = {"aggregation_type": agg, "group_keys": [["g"]]}
    if agg == "COUNT":
        kw["aggregation_key"] = None
    tenant_id, d = _tenant_and_metric(engine, f"random-{agg}", **kw)
    rng = random.Random(agg)
    pool = ["0.1", "2", "-7.25", 3, Decimal("1.5"), "x", None, "1e2", "0.30"]
    events = []
    for i in range(3000):
        props: dict[str, Any] = {}
        v = rng.choice(pool)
        if v is not None:
            props["n"] = v
        if rng.random() < 0.8:
            props["g"] = rng.choice(["a", "b", "c"])
        ts = T0 + timedelta(seconds=rng.randrange(31 * 86400))
        events.append(
            AcceptedEvent(f"e{i}", rng.choice(["k1", "k2"]), rng.choice(["t", "t", "z"]), ts, props)
        )
    for i in range(0, len(events), 100):
        with uow.write(engine) as conn:
            rollups.apply(conn, tenant_id, events[i : i + 100])
    value = {"COUNT": "count", "SUM": "total", "MAX": "maximum"}
    for window in ("NONE", "DAY"):
        for group in (None, ("g",)):
            cells = _usage(engine, tenant_id, d, ["k1", "k2"], window, group)
            want = reference_usage(d, events, T0, T0 + MONTH, window, group)
            for i, row in enumerate(_window_rows(want)):
                for g, expected in row.items():
                    cell = cells.get((i, g))
                    got = None if cell is None else cell.value(agg)
                    if cell is None and agg in ("COUNT", "SUM", "UNIQUE"):
                        got = Decimal(0)
                    assert got == expected, (agg, window, group, i, g, value.get(agg))


def _window_rows(rows: list[Any]) -> list[dict[Any, Any]]:
    out: dict[Any, dict[Any, Any]] = {}
    for r in rows:
        out.setdefault(r.start, {})[r.group if r.group is not None else ()] = r.value
    return [out[k] for k in sorted(out)]


def test_a_metric_created_between_batches_meters_the_next_batch(engine: Engine) -> None:
    tenant_id, first = _tenant_and_metric(engine, "late-metric")
    batch1 = [AcceptedEvent(f"a{i}", "k", "t", T0, {"n": "1"}) for i in range(10)]
    batch2 = [AcceptedEvent(f"b{i}", "k", "t", T0, {"n": "2"}) for i in range(10)]
    with uow.write(engine) as conn:
        rollups.apply(conn, tenant_id, batch1)  # caches the definitions {first}
    with uow.write(engine) as conn:
        second_id = metrics.create(
            conn,
            tenant_id,
            CreateMetric.model_validate(
                {
                    "name": "second",
                    "aggregation_type": "SUM",
                    "aggregation_key": "n",
                    "property_filters": [{"name": "n"}],
                }
            ),
            T0,
        )
    with uow.write(engine) as conn:
        rollups.apply(conn, tenant_id, batch2)
    second = MetricDef.of(second_id, "SUM", "n", None, [{"name": "n"}], [])
    assert _usage(engine, tenant_id, first, ["k"], "NONE")[(0, ())].total == Decimal(30)
    assert _usage(engine, tenant_id, second, ["k"], "NONE")[(0, ())].total == Decimal(20)


@pytest.mark.parametrize("order", ["aB", "Ba"])
def test_latest_tie_break_is_the_same_in_batches_and_across_them(engine: Engine, order: str) -> None:
    """Same timestamp: the greater transaction id by code point wins ("a" > "B"), whatever the collation."""
    tenant_id, d = _tenant_and_metric(engine, f"latest-tie-{order}", aggregation_type="LATEST")
    by_id = {
        "a": AcceptedEvent("a", "k", "t", T0, {"n": "1"}),
        "B": AcceptedEvent("B", "k", "t", T0, {"n": "2"}),
    }
    for tid in order:
        with uow.write(engine) as conn:
            rollups.apply(conn, tenant_id, [by_id[tid]])
    got = _usage(engine, tenant_id, d, ["k"], "NONE")[(0, ())].value("LATEST")
    assert got == reference_usage(d, list(by_id.values()), T0, T0 + MONTH, "NONE")[0].value == Decimal(1)
