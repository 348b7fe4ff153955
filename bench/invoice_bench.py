"""Invoice benchmark (issue 5), on PostgreSQL by default. Prints two figures:

    RESULT invoice_finalize backend=postgres customers=10000 invoices=... seconds=... (target <= 60)
    RESULT invoice_draft_read backend=postgres events=1000000 p50_ms=... p99_ms=... (target p50 <= 100)

Setup, all in-process against a fresh database built by the migrations:
- catalog through the HTTP API (FastAPI TestClient, the real app): a SUM metric grouped by region, a
  COUNT metric, a TIERED and a FLAT usage product, a FIXED product, a rate card;
- 10,000 customers, each with a typical contract (monthly statements from 2025-01-01, a prepaid commit
  invoiced at the start, a free credit, a multiplier override), created with the contracts service in
  transactions of 250 (the same code `POST /v1/contracts/create` runs, minus HTTP);
- usage loaded through the rollup code path (`tally.usage.rollups.fold` + `write`, exactly what ingest
  runs after storing events): 20 events per customer in January, and 1,000,000 events for one more
  customer spread over 2025-02-01 .. 02-15. Raw event rows are not written: invoices never read them.

Finalization: --workers processes (default 2, one per core) each run one worker pass
(`tally.jobs.worker.run_pass`, what each `tally worker` process runs; they split the contracts through
`SELECT … FOR UPDATE SKIP LOCKED`) with the clock at
2025-02-02T01:00Z, i.e. January's period end plus the 24 h grace: every contract's January usage invoice
and its SCHEDULED commit-purchase invoice are finalized, ledger deductions written.
Draft read: `GET /v1/customers/{id}/invoices/{draft id}` for the 1,000,000-event customer through the
app with the clock at 2025-02-15T12:00Z, repeated; p50 and p99 of the wall time.

    .venv/bin/python bench/invoice_bench.py [--customers 10000] [--events 1000000] [--backend postgres]
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from fastapi.testclient import TestClient  # noqa: E402
from tests.support.servers import create_pg_database, drop_pg_database  # noqa: E402

from tally import settings as settings_mod  # noqa: E402
from tally.auth import service as auth  # noqa: E402
from tally.clock import FixedClock  # noqa: E402
from tally.contracts import service as contracts  # noqa: E402
from tally.contracts.schemas_create import CreateContract  # noqa: E402
from tally.customers import service as customers  # noqa: E402
from tally.customers.schemas import CreateCustomer  # noqa: E402
from tally.db import migrate, uow  # noqa: E402
from tally.db.engine import make_engine  # noqa: E402
from tally.jobs.worker import run_pass  # noqa: E402
from tally.kit.api import parse  # noqa: E402
from tally.server.app import create_app  # noqa: E402
from tally.usage import rollups  # noqa: E402
from tally.usage.events import AcceptedEvent  # noqa: E402

T0 = datetime(2025, 1, 1, tzinfo=UTC)
T1 = datetime(2025, 2, 1, tzinfo=UTC)
REGIONS = ("us-east", "eu-west", "ap-south")


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def catalog(client: TestClient) -> dict[str, str]:
    def post(path: str, body: dict[str, Any]) -> Any:
        r = client.post(path, json=body)
        assert r.status_code == 200, r.text
        return r.json()["data"]

    tokens_metric = post(
        "/v1/billable-metrics/create",
        {
            "name": "tokens",
            "aggregation_type": "SUM",
            "aggregation_key": "tokens",
            "event_type_filter": {"in_values": ["tokens"]},
            "property_filters": [{"name": "tokens", "exists": True}, {"name": "region", "exists": True}],
            "group_keys": [["region"]],
        },
    )["id"]
    calls_metric = post(
        "/v1/billable-metrics/create",
        {"name": "calls", "aggregation_type": "COUNT", "event_type_filter": {"in_values": ["call"]}},
    )["id"]
    tok = post(
        "/v1/contract-pricing/products/create",
        {"name": "Tokens", "type": "USAGE", "billable_metric_id": tokens_metric},
    )["id"]
    call = post(
        "/v1/contract-pricing/products/create",
        {"name": "Calls", "type": "USAGE", "billable_metric_id": calls_metric},
    )["id"]
    fixed = post("/v1/contract-pricing/products/create", {"name": "Prepaid", "type": "FIXED"})["id"]
    card = post("/v1/contract-pricing/rate-cards/create", {"name": "standard"})["id"]
    post(
        "/v1/contract-pricing/rate-cards/addRate",
        {
            "rate_card_id": card,
            "product_id": tok,
            "entitled": True,
            "rate_type": "TIERED",
            "starting_at": iso(T0),
            "tiers": [{"size": 100000, "price": "0.002"}, {"price": "0.001"}],
        },
    )
    post(
        "/v1/contract-pricing/rate-cards/addRate",
        {
            "rate_card_id": card,
            "product_id": call,
            "entitled": True,
            "rate_type": "FLAT",
            "price": 5,
            "starting_at": iso(T0),
        },
    )
    return {"tokens": tok, "calls": call, "fixed": fixed, "card": card}


def contract_body(customer: str, cat: dict[str, str]) -> dict[str, Any]:
    year = iso(datetime(2026, 1, 1, tzinfo=UTC))
    return {
        "customer_id": customer,
        "starting_at": iso(T0),
        "rate_card_id": cat["card"],
        "commits": [
            {
                "type": "PREPAID",
                "product_id": cat["fixed"],
                "priority": 2,
                "access_schedule": {
                    "schedule_items": [{"amount": 10000, "starting_at": iso(T0), "ending_before": year}]
                },
                "invoice_schedule": {"schedule_items": [{"timestamp": iso(T0), "amount": 9000}]},
            }
        ],
        "credits": [
            {
                "product_id": cat["fixed"],
                "priority": 1,
                "access_schedule": {
                    "schedule_items": [{"amount": 500, "starting_at": iso(T0), "ending_before": year}]
                },
            }
        ],
        "overrides": [
            {"starting_at": iso(T0), "product_id": cat["calls"], "type": "MULTIPLIER", "multiplier": "0.9"}
        ],
    }


def events_for(
    customer: str, n: int, start: datetime, span_s: int, rng: random.Random, prefix: str
) -> list[AcceptedEvent]:
    out = []
    for i in range(n):
        ts = start + timedelta(seconds=rng.randrange(span_s))
        if i % 4 == 0:
            out.append(AcceptedEvent(f"{prefix}-{i}", customer, "call", ts, {}))
        else:
            out.append(
                AcceptedEvent(
                    f"{prefix}-{i}",
                    customer,
                    "tokens",
                    ts,
                    {"tokens": str(rng.randrange(1, 5000)), "region": REGIONS[i % 3]},
                )
            )
    return out


def load_usage(engine: Any, tenant_id: str, events: list[AcceptedEvent]) -> None:
    chunk = 50_000
    for i in range(0, len(events), chunk):
        with uow.write(engine) as conn:
            batch = rollups.fold(rollups.metrics(conn, tenant_id), events[i : i + chunk])
            rollups.write(conn, tenant_id, batch)


def _finalize_pass(url: str) -> tuple[int, int]:
    """One `tally worker` pass in its own process, as several production workers would run it."""
    engine = make_engine(url)
    try:
        result = run_pass(engine, FixedClock(T1 + timedelta(hours=25)))
        return result.contracts, result.finalized
    finally:
        engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=10_000)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--backend", default="postgres", choices=["postgres", "sqlite"])
    ap.add_argument("--reads", type=int, default=30)
    ap.add_argument("--workers", type=int, default=2, help="worker processes finalizing the period")
    args = ap.parse_args()
    pg_url = None
    if args.backend == "postgres":
        pg_url = create_pg_database()
        url = "postgresql+psycopg://" + pg_url.split("://", 1)[1]
    else:
        url = settings_mod.sqlite_url(Path(tempfile.mkdtemp(prefix="tally-invbench-")))
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
        now = datetime(2025, 1, 1, tzinfo=UTC)
        with uow.write(engine) as conn:
            tenant = auth.get_or_create_tenant(conn, "bench", now)
            token = auth.create_token(conn, tenant, now)
        clock = FixedClock(datetime(2025, 1, 20, tzinfo=UTC))
        settings = settings_mod.Settings(data_dir=Path("."), database_url=url)
        client = TestClient(create_app(settings, engine, clock), headers={"Authorization": f"Bearer {token}"})
        cat = catalog(client)

        t = time.perf_counter()
        ids: list[str] = []
        total = args.customers + 1
        for start in range(0, total, 250):
            with uow.write(engine) as conn:
                for i in range(start, min(start + 250, total)):
                    c = customers.create(
                        conn, tenant.id, parse(CreateCustomer, {"name": f"customer {i}"}), now
                    )
                    contracts.create(
                        conn, tenant.id, parse(CreateContract, contract_body(c.id, cat)), now, "bench"
                    )
                    ids.append(c.id)
        print(f"setup: {total} customers and contracts in {time.perf_counter() - t:.1f}s", flush=True)

        rng = random.Random(7)
        t = time.perf_counter()
        small: list[AcceptedEvent] = []
        for n, cid in enumerate(ids[:-1]):
            small += events_for(cid, 20, T0, 31 * 86400, rng, f"s{n}")
        load_usage(engine, tenant.id, small)
        big = ids[-1]
        load_usage(engine, tenant.id, events_for(big, args.events, T1, 14 * 86400, rng, "big"))
        print(
            f"setup: {len(small) + args.events} events into rollups in {time.perf_counter() - t:.1f}s",
            flush=True,
        )

        if args.backend == "postgres":
            # Planner statistics as autovacuum would have them on a live database; right after a bulk
            # load they are empty and PostgreSQL picks time-range scans over the per-customer keys.
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("ANALYZE")
        engine.dispose()  # the worker processes open their own connections
        t = time.perf_counter()
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(args.workers) as pool:
            passes = pool.map(_finalize_pass, [url] * args.workers)
        seconds = time.perf_counter() - t
        contracts_done = sum(p[0] for p in passes)
        finalized = sum(p[1] for p in passes)
        print(
            f"RESULT invoice_finalize backend={args.backend} customers={total} workers={args.workers} "
            f"contracts={contracts_done} invoices={finalized} seconds={seconds:.1f} target_s=60",
            flush=True,
        )

        clock.set(datetime(2025, 2, 15, 12, tzinfo=UTC))
        drafts = client.get(
            f"/v1/customers/{big}/invoices", params={"status": "DRAFT", "type": "USAGE"}
        ).json()["data"]
        draft = drafts[0]
        assert draft["start_timestamp"] == iso(T1), draft["start_timestamp"]
        times = []
        for _ in range(args.reads):
            t = time.perf_counter()
            r = client.get(f"/v1/customers/{big}/invoices/{draft['id']}")
            times.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200
        q = statistics.quantiles(times, n=100)
        lines = {
            li["name"]: li.get("quantity") for li in r.json()["data"]["line_items"] if li["type"] == "usage"
        }
        print(
            f"RESULT invoice_draft_read backend={args.backend} events={args.events} reads={args.reads} "
            f"p50_ms={statistics.median(times):.1f} p99_ms={q[98]:.1f} target_p50_ms=100 lines={lines}",
            flush=True,
        )
    finally:
        engine.dispose()
        if pg_url:
            drop_pg_database(pg_url)


if __name__ == "__main__":
    main()
