# ruff: noqa: E501  (long SQL text and RESULT lines read better unbroken)
"""Scale-out benchmark (issue 18): the SQL store on PostgreSQL and the ClickHouse store (chdb) side by side.

In-process, on one PostgreSQL database and one chdb directory. Prints RESULT lines:

    RESULT scaleout_ingest store=postgres|clickhouse events=N seconds=... events_per_s=...
    RESULT scaleout_usage store=... events=N query=usage_DAY|draft_HOUR p50_ms=... p99_ms=...
    RESULT scaleout_sql_metric store=... events=N p50_ms=... p99_ms=...
    RESULT scaleout_ratio what=... clickhouse_over_postgres=...

- Ingest: the real ingest function (`tally.usage.ingest.store`, dedup insert in PostgreSQL) in transactions
  of 1,000 events; the SQL store folds rollups in the same transaction; the ClickHouse store ships the
  committed events after each commit (as the group writer does).
- Usage for one customer with `--usage-events` (default 10,000,000) in one month, SUM grouped by region:
  `usage_DAY` is `/v1/usage`'s read (DAY windows) and `draft_HOUR` the draft invoice's usage read (hourly
  buckets, grouped by the pricing key), both through `usage.service.compute`. Both stores read rollups:
  PostgreSQL's 10M events are written as the rollup rows ingest would have left (744 hours x 2 regions);
  ClickHouse's raw events are generated there (INSERT ... SELECT FROM numbers()) and its rollup rows are
  computed from them as the shipper leaves them (one per hour, region and ship batch of `--ship-batch`).
- SQL metric over `--sql-events` (default 1,000,000) raw events on each store.

    .venv/bin/python bench/scaleout_bench.py --ingest-events 100000 --usage-events 10000000 --sql-events 1000000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from sqlalchemy import text  # noqa: E402
from tests.support.servers import create_pg_database, drop_pg_database  # noqa: E402

from tally.auth import service as auth  # noqa: E402
from tally.billable_metrics import service as metrics  # noqa: E402
from tally.billable_metrics.schemas import CreateMetric  # noqa: E402
from tally.db import migrate, uow  # noqa: E402
from tally.db.engine import make_engine  # noqa: E402
from tally.metering import MetricDef, hour_of  # noqa: E402
from tally.metering import sql as m_sql  # noqa: E402
from tally.usage import clickhouse, sql_metrics, store  # noqa: E402
from tally.usage.events import AcceptedEvent  # noqa: E402
from tally.usage.ingest import Job  # noqa: E402
from tally.usage.ingest import store as ingest_store  # noqa: E402
from tally.usage.repository import Span  # noqa: E402
from tally.usage.service import compute, definition  # noqa: E402

MONTH = datetime(2025, 3, 1, tzinfo=UTC)
HOURS = 31 * 24
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def timed(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    fn()  # warm
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ingest-events", type=int, default=100_000)
    ap.add_argument("--usage-events", type=int, default=10_000_000)
    ap.add_argument("--sql-events", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument(
        "--ship-batch", type=int, default=1000, help="events per ship batch behind the rollup rows"
    )
    ap.add_argument("--only", choices=["all", "sql"], default="all", help="sql: only the SQL-metric figures")
    ap.add_argument("--sql-time-limit", type=float, default=None, help="seconds per SQL metric query")
    args = ap.parse_args()
    if args.sql_time_limit is not None:
        sql_metrics.TIME_LIMIT_SECONDS = args.sql_time_limit
    url = create_pg_database()
    engine = make_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    results: dict[tuple[str, str], float] = {}
    try:
        migrate.upgrade(engine)
        ch = clickhouse.ClickHouseEventStore(engine, clickhouse.ChdbExecutor(tempfile.mkdtemp() + "/ch"))
        ch.create_schema()
        with uow.write(engine) as conn:
            tenants = {
                s: auth.get_or_create_tenant(conn, f"bench-{s}", MONTH).id for s in ("postgres", "clickhouse")
            }
            metric = {}
            for s, tid in tenants.items():
                mid = metrics.create(
                    conn,
                    tid,
                    CreateMetric.model_validate(
                        {
                            "name": "tokens",
                            "aggregation_type": "SUM",
                            "aggregation_key": "tokens",
                            "event_type_filter": {"in_values": ["tok"]},
                            "property_filters": [{"name": "tokens", "exists": True}, {"name": "region"}],
                            "group_keys": [["region"]],
                        }
                    ),
                    MONTH - timedelta(days=1),
                )
                metric[s] = definition(metrics.get(conn, tid, mid))
        stores: dict[str, store.EventStore] = {"postgres": store.SqlEventStore(), "clickhouse": ch}

        # --- ingest ---
        for name, st in stores.items() if args.only == "all" else ():
            store.use(st)
            n = args.ingest_events
            t = time.perf_counter()
            for start in range(0, n, 1000):
                batch = [
                    AcceptedEvent(
                        f"i{i}",
                        "ingest-cust",
                        "tok",
                        MONTH + timedelta(seconds=i % (HOURS * 3600)),
                        {"tokens": str(i % 97), "region": "us" if i % 3 else "eu"},
                    )
                    for i in range(start, min(n, start + 1000))
                ]
                with uow.write(engine) as conn:
                    ingest_store(conn, [Job(tenants[name], batch, MONTH)])
                st.committed(engine)
            seconds = time.perf_counter() - t
            results[("ingest", name)] = n / seconds
            print(
                f"RESULT scaleout_ingest store={name} events={n} seconds={seconds:.2f} events_per_s={n / seconds:.0f}"
            )

        # --- 10M events for one customer ---
        big = args.usage_events if args.only == "all" else 0
        per_hour = big // (HOURS * 2)
        first = hour_of(MONTH)
        with uow.write(engine) as conn:
            conn.execute(
                text(
                    "INSERT INTO usage_rollups (tenant_id, metric_id, customer_key, hour, group_key, count, total) "
                    "SELECT :t, :m, 'big', h, g, :n, :n * 48 FROM generate_series(:f, :f + :hours - 1) h, "
                    "(VALUES ('[\"us\"]'), ('[\"eu\"]')) AS x(g)"
                ),
                {
                    "t": tenants["postgres"],
                    "m": metric["postgres"].id,
                    "n": per_hour,
                    "f": first,
                    "hours": HOURS,
                },
            )
        if big:
            ch.executor.run(
                f"INSERT INTO {ch.table} (tenant_id, transaction_id, customer_id, event_type, timestamp, props, nums, "
                "qtext, nexp, position, received_at) SELECT "
                f"'{tenants['clickhouse']}', concat('b', toString(number)), 'big', 'tok', "
                f"toDateTime64('{MONTH.strftime('%Y-%m-%d %H:%M:%S')}', 6, 'UTC') + toIntervalSecond(intDiv(number * {HOURS * 3600}, {big})), "
                "map('tokens', toString(number % 97), 'region', if(number % 2 = 0, 'us', 'eu')), "
                "map('tokens', toDecimal256(number % 97, 20)), map('tokens', toString(number % 97)), map('tokens', 0), "
                f"number + 100000000, toDateTime64('{MONTH.strftime('%Y-%m-%d %H:%M:%S')}', 6, 'UTC') "
                f"FROM numbers({big})"
            )
            # The rollup rows the shipper leaves for them: one per (hour, region) and ship batch of
            # --ship-batch events (the ingest above ships after every transaction of 1,000).
            ch.executor.run(
                f"INSERT INTO {ch.rollups} (tenant_id, customer_id, metric_id, hour, group_key, ship_first, "
                "ship_last, count, total, texp, maximum, has_latest, latest_ts, latest_txn, latest_value) SELECT "
                f"tenant_id, customer_id, '{metric['clickhouse'].id}', toInt32(intDiv(toUnixTimestamp(timestamp), 3600)) AS h, "
                f"concat('[\"', props['region'], '\"]') AS g, intDiv(position, {args.ship_batch}) * {args.ship_batch} AS f, "
                f"f + {args.ship_batch}, count(), sum(nums['tokens']), 0, NULL, 0, toDateTime64(0, 6, 'UTC'), '', '' "
                f"FROM {ch.table} WHERE tenant_id = '{tenants['clickhouse']}' AND customer_id = 'big' GROUP BY tenant_id, customer_id, h, g, f"
            )
            print(
                "INFO clickhouse rollup rows for the big customer:",
                ch.executor.run(f"SELECT count() FROM {ch.rollups} WHERE customer_id = 'big' FORMAT TSV")
                .decode()
                .strip(),
            )
        for name, st in stores.items() if args.only == "all" else ():
            store.use(st)
            d = metric[name]
            tid = tenants[name]

            def usage_day(tid: str = tid, d: MetricDef = d) -> object:
                with uow.read(engine) as conn:
                    return compute(conn, tid, d, {"c": ["big"]}, Span(first, first + HOURS, 24))

            def draft_hour(tid: str = tid, d: MetricDef = d) -> object:
                with uow.read(engine) as conn:
                    return compute(
                        conn, tid, d, {"c": ["big"]}, Span(first, first + HOURS, 1), ("region",), 0
                    )

            for label, fn in (("usage_DAY", usage_day), ("draft_HOUR", draft_hour)):
                p50, p99 = timed(fn, args.runs)
                results[(label, name)] = p50
                print(
                    f"RESULT scaleout_usage store={name} events={big} query={label} p50_ms={p50:.1f} p99_ms={p99:.1f}"
                )

        # --- SQL metric over 1M raw events ---
        n = args.sql_events
        with uow.write(engine) as conn:
            conn.execute(
                text(
                    "INSERT INTO events (tenant_id, transaction_id, customer_id, event_type, timestamp, properties, "
                    "received_at) SELECT :t, 's' || i, 'sqlc', 'tok', CAST(:m AS timestamptz) + "
                    "(i::bigint * 2678400 / :n) * interval '1 second', "
                    "json_build_object('tokens', (i % 97)::text, 'region', CASE WHEN i % 2 = 0 THEN 'us' ELSE 'eu' END)::text, "
                    "CAST(:m AS timestamptz) FROM generate_series(0, :n - 1) i"
                ),
                {"t": tenants["postgres"], "m": MONTH.isoformat(), "n": n},
            )
        with engine.connect() as conn:  # what autovacuum does after a bulk load: statistics, hint bits
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE events"))
        ch.executor.run(
            f"INSERT INTO {ch.table} (tenant_id, transaction_id, customer_id, event_type, timestamp, props, nums, "
            "qtext, nexp, position, received_at) SELECT "
            f"'{tenants['clickhouse']}', concat('s', toString(number)), 'sqlc', 'tok', "
            f"toDateTime64('{MONTH.strftime('%Y-%m-%d %H:%M:%S')}', 6, 'UTC') + toIntervalSecond(intDiv(number * 2678400, {n})), "
            "map('tokens', toString(number % 97), 'region', if(number % 2 = 0, 'us', 'eu')), "
            "map('tokens', toDecimal256(number % 97, 20)), map('tokens', toString(number % 97)), map('tokens', 0), "
            f"number + 900000000, toDateTime64('{MONTH.strftime('%Y-%m-%d %H:%M:%S')}', 6, 'UTC') FROM numbers({n})"
        )
        query = m_sql.parse(
            "SELECT SUM(CAST(properties.tokens AS INT)) AS value, properties.region FROM events "
            "WHERE event_type = 'tok' GROUP BY properties.region"
        )
        for name, st in stores.items():
            scope = sql_metrics.Scope(
                tenants[name],
                ("sqlc",),
                MONTH,
                MONTH + timedelta(days=31),
                int((MONTH - EPOCH).total_seconds()),
                None,
            )

            def run(st: store.EventStore = st, scope: sql_metrics.Scope = scope) -> object:
                with uow.read(engine) as conn:
                    return st.sql_rows(conn, "bench", query, scope)

            p50, p99 = timed(run, max(3, args.runs // 3))
            results[("sql", name)] = p50
            print(f"RESULT scaleout_sql_metric store={name} events={n} p50_ms={p50:.1f} p99_ms={p99:.1f}")
        for what in ("ingest", "usage_DAY", "draft_HOUR", "sql"):
            if (what, "postgres") not in results:
                continue
            ratio = results[(what, "clickhouse")] / results[(what, "postgres")]
            print(f"RESULT scaleout_ratio what={what} clickhouse_over_postgres={ratio:.2f}")
    finally:
        store.use(store.SqlEventStore())
        engine.dispose()
        drop_pg_database(url)


if __name__ == "__main__":
    main()
