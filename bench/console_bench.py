"""Console page benchmark (issue 14 §7): the server time of every console page on PostgreSQL with 10,000
customers and one customer holding 1,000,000 events in the current period. Target: p50 <= 150 ms a page.

Seed (in this process, into a throwaway database created on 127.0.0.1:5432 and dropped at the end, or
into `--database-url`, where a new tenant is made and left):
- the demo catalog (tally.cli.demo: tiered, per-1K-token, composite and seat pricing) on one rate card;
- `--customers` customers, created with the customers service in transactions of 1,000; the first
  `--contracts` of them get the demo's Starter / Growth / Enterprise contracts (commits, credits, seats);
- the heavy customer (the first one, Enterprise terms): 20,000 events in the previous month, finalized by
  the billing worker's own pass (`jobs.worker.run_pass`), and `--events` events in the current period;
  every other contracted customer gets 20 events in the current period.
Every event goes through the real ingest path, `tally.usage.ingest.validate` and `ingest.store` (the
functions behind `POST /v1/ingest`: the same dedup insert and metering), 100 events a batch and 50 batches
a transaction; only the HTTP hop is skipped. No bulk load.

Then `tally serve` runs on that database (no in-process billing worker) and the bench signs in to the
console with an API token. Every GET route of `tally.console.mount.routes()` at run time is measured:
path parameters are filled from the seed (customer, invoice, contract, product, rate card, metric ids);
a route whose parameters the bench cannot fill is skipped with a note, as are downloads (the PDF, the
CSV export) and static files. Each page is requested `--runs` times on loopback after one warm-up, and
the wall time of each request (tally sets no Server-Timing header) gives p50 and p99:

    RESULT console_page=/ui/customers/{customer_id} p50_ms=... p99_ms=... status=200 note=...

    .venv/bin/python bench/console_bench.py                      # 10,000 customers, 1,000,000 events
    .venv/bin/python bench/console_bench.py --customers 1000 --events 50000 --runs 10   # a quick check
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

import httpx  # noqa: E402
import psycopg  # noqa: E402
from sqlalchemy import Engine  # noqa: E402

from tally.auth import service as auth  # noqa: E402
from tally.cli import demo  # noqa: E402
from tally.clock import FixedClock  # noqa: E402
from tally.contracts import service as contracts  # noqa: E402
from tally.contracts.schemas_create import CreateContract  # noqa: E402
from tally.customers import service as customers  # noqa: E402
from tally.customers.schemas import CreateCustomer  # noqa: E402
from tally.db import migrate, uow  # noqa: E402
from tally.db.engine import make_engine  # noqa: E402
from tally.jobs.worker import run_pass  # noqa: E402
from tally.kit.api import parse  # noqa: E402
from tally.usage import ingest  # noqa: E402  (MAX_BATCH)
from tally.usage import store as events_store  # noqa: E402

PG_ADMIN = os.environ.get("TALLY_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PER_TXN = 50  # ingest batches (of 100 events) per transaction
# Path parameters a console route may name, and the seed value for each (None: the bench has none).
SKIP_PREFIXES = ("/ui/static/",)
DOWNLOADS = ("/pdf", "/export.csv")


@dataclass
class Seed:
    tenant_id: str = ""
    token: str = ""
    heavy: str = ""
    heavy_alias: str = ""
    contract: str = ""
    ids: dict[str, str] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _ingest(engine: Engine, tenant_id: str, events: Iterator[dict[str, Any]], now: datetime) -> int:
    return demo.ingest_events(engine, tenant_id, events, now, per_txn=PER_TXN)


def _heavy_events(alias: str, n: int, lo: datetime, hi: datetime, tag: str) -> Iterator[dict[str, Any]]:
    """n events spread over [lo, hi): API usage, compute by region and tokens by model."""
    rng = random.Random(f"console-bench-{tag}")
    span = max(1, int((hi - lo).total_seconds()) - 1)
    for i in range(n):
        ts = _iso(lo + timedelta(seconds=rng.randrange(span)))
        kind = i % 3
        if kind == 0:
            props: dict[str, Any] = {"requests": rng.randint(1, 500), "user_id": f"u{rng.randint(1, 300)}"}
            yield {"transaction_id": f"{tag}-{i}", "customer_id": alias, "event_type": "api_usage",
                   "timestamp": ts, "properties": props}  # fmt: skip
        elif kind == 1:
            props = {"hours": str(rng.randint(1, 40) / 10), "region": rng.choice(demo.REGIONS)}
            yield {"transaction_id": f"{tag}-{i}", "customer_id": alias, "event_type": "compute",
                   "timestamp": ts, "properties": props}  # fmt: skip
        else:
            props = {"tokens": rng.randint(100, 5000), "model": rng.choice(demo.MODELS)}
            yield {"transaction_id": f"{tag}-{i}", "customer_id": alias, "event_type": "llm_tokens",
                   "timestamp": ts, "properties": props}  # fmt: skip


def seed(engine: Engine, n_customers: int, n_contracts: int, n_events: int) -> Seed:
    now = datetime.now(UTC)
    earlier, later = demo.months(now, timedelta(hours=demo.GRACE_HOURS))
    out = Seed()
    started = time.monotonic()
    with uow.write(engine) as conn:
        t = auth.get_or_create_tenant(conn, f"bench-{uuid.uuid4().hex[:8]}", now)
        catalog = demo.create_catalog(conn, t, earlier, now)
        out.token = auth.create_token(conn, t, now, name="console bench")
    out.tenant_id = t.id
    out.ids["rate_card_id"] = catalog.card
    out.ids["product_id"] = catalog.compute
    made: list[tuple[str, str]] = []
    for lo in range(0, n_customers, 1000):
        with uow.write(engine) as conn:
            for i in range(lo, min(n_customers, lo + 1000)):
                name = f"{demo.COMPANIES[i % len(demo.COMPANIES)]} {i:05d}"
                alias = demo.slug(name)
                c = customers.create(
                    conn, t.id, parse(CreateCustomer, {"name": name, "ingest_aliases": [alias]}), now
                )
                made.append((c.id, alias))
    print(f"seed: {n_customers} customers in {time.monotonic() - started:.0f} s", file=sys.stderr)
    out.heavy, out.heavy_alias = made[0]
    out.names = [demo.COMPANIES[0] + " 00000"]
    with uow.write(engine) as conn:
        for i, (cid, _) in enumerate(made[:n_contracts]):
            body = demo.contract_body(i, cid, catalog, earlier)
            contract_id = contracts.create(conn, t.id, parse(CreateContract, body), now, t.name)
            if i == 0:
                out.contract = contract_id
    print(f"seed: {n_contracts} contracts at {time.monotonic() - started:.0f} s", file=sys.stderr)
    _ingest(engine, t.id, _heavy_events(out.heavy_alias, 20000, earlier, later, "prev"), now)
    finalized = run_pass(engine, FixedClock(now)).finalized
    print(f"seed: {finalized} invoices finalized at {time.monotonic() - started:.0f} s", file=sys.stderr)

    def others() -> Iterator[dict[str, Any]]:
        for i, (_, alias) in enumerate(made[1:n_contracts], 1):
            yield from _heavy_events(alias, 20, later, now, f"o{i}")

    _ingest(engine, t.id, others(), now)
    t0 = time.monotonic()
    n = _ingest(engine, t.id, _heavy_events(out.heavy_alias, n_events, later, now, "cur"), now)
    took = time.monotonic() - t0
    print(
        f"RESULT console_seed events={n} seconds={took:.1f} events_per_s={n / max(took, 1e-9):.0f} "
        f"(real ingest path, {ingest.MAX_BATCH} a batch, {PER_TXN} batches a transaction)"
    )
    return out


def _pg_database() -> str:
    name = f"tally_console_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


def _drop(url: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def _serve(url: str, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALLY_")}
    env |= {"TALLY_DATABASE_URL": url, "TALLY_DATA_DIR": str(workdir), "PYTHONPATH": str(ROOT / "src")}
    log = (workdir / "server.log").open("ab")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tally",
            "serve",
            "--port",
            str(port),
            "--no-billing-worker",
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=log,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.terminate()
    raise RuntimeError(f"server did not start; see {workdir / 'server.log'}")


def _api_ids(base: str, s: Seed) -> None:
    """Invoice and metric ids through the API, as a client would find them."""
    h = {"Authorization": f"Bearer {s.token}"}
    invs = httpx.get(f"{base}/v1/customers/{s.heavy}/invoices", headers=h, timeout=300).json()["data"]
    usage = [i for i in invs if i["type"] == "USAGE"]
    for inv in usage:
        key = "draft_invoice_id" if inv["status"] == "DRAFT" else "finalized_invoice_id"
        s.ids.setdefault(key, inv["id"])
    metrics = httpx.get(f"{base}/v1/billable-metrics", headers=h, timeout=60).json()["data"]
    s.ids["billable_metric_id"] = next(m["id"] for m in metrics if m["name"] == "Compute hours")
    s.ids["customer_id"] = s.heavy
    s.ids["contract_id"] = s.contract
    # One of the heavy customer's commits or credits (the ledger-entry form).
    body = {"customer_id": s.heavy, "include_contract_balances": True, "limit": 1}
    found = httpx.post(f"{base}/v1/contracts/customerBalances/list", headers=h, json=body, timeout=60)
    balances = found.json().get("data") or [] if found.status_code == 200 else []
    if balances:
        s.ids["balance_id"] = balances[0]["id"]


def _sign_in(base: str, token: str) -> httpx.Client:
    c = httpx.Client(base_url=base, timeout=600)
    form = c.get("/ui/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf, form.text[:300]
    r = c.post("/ui/login", data={"csrf": csrf.group(1), "token": token, "next": "/ui/customers"})
    assert r.status_code == 303, r.text[:300]
    return c


def _targets(s: Seed) -> list[tuple[str, str | None, str]]:
    """(route path, URL or None to skip, note) for every GET console route present at run time."""
    from tally.console import mount

    alias = {"id": "customer_id", "metric_id": "billable_metric_id", "card_id": "rate_card_id"}
    out: list[tuple[str, str | None, str]] = []
    for route in mount.routes():
        if "GET" not in route.methods:
            continue
        path = route.path
        if path in ("/ui", "/ui/") or path.startswith(SKIP_PREFIXES):
            continue
        if path.endswith(DOWNLOADS):
            why = "bench/pdf_bench.py times documents" if path.endswith("/pdf") else "a streamed CSV export"
            out.append((path, None, f"skipped: a download, not a page ({why})"))
            continue
        names = re.findall(r"{(\w+)}", path)
        if "invoice_id" in names:
            for kind in ("draft_invoice_id", "finalized_invoice_id"):
                url = path.replace("{invoice_id}", s.ids.get(kind, "")).replace("{customer_id}", s.heavy)
                extra = "?line=0" if path.endswith("/explain") else ""
                missing = list(re.findall(r"{(\w+)}", url))
                if missing:
                    out.append((path, None, f"skipped: no seed value for {', '.join(missing)}"))
                    break
                out.append((path, url + extra, kind.split("_")[0]))
            continue
        url, missing = path, []
        for n in names:
            value = s.ids.get(alias.get(n, n)) or s.ids.get(n)
            if value is None:
                missing.append(n)
            else:
                url = url.replace("{" + n + "}", value)
        if missing:
            out.append((path, None, f"skipped: no seed value for {', '.join(missing)}"))
            continue
        out.append((path, url, ""))
        if path == "/ui/customers":
            out.append((path, url + "?q=" + s.names[0].split()[0], "search by name"))
            out.append((path, url + "?q=" + s.heavy_alias, "search by alias"))
    return out


SLOW_S = 5.0  # a page whose warm-up takes longer is measured 3 times only (noted), to bound the run


def measure(c: httpx.Client, url: str, runs: int) -> tuple[list[float], int]:
    t0 = time.perf_counter()
    r = c.get(url)  # warm-up (and the status)
    if time.perf_counter() - t0 > SLOW_S:
        runs = min(runs, 3)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        r = c.get(url)
        times.append((time.perf_counter() - t0) * 1000)
    return times, r.status_code


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--customers", type=int, default=10000)
    ap.add_argument("--contracts", type=int, default=200, help="customers that get a contract (and usage)")
    ap.add_argument(
        "--events", type=int, default=1_000_000, help="the heavy customer's current-period events"
    )
    ap.add_argument("--runs", type=int, default=20, help="requests per page (after one warm-up)")
    ap.add_argument("--database-url", default=None, help="PostgreSQL URL (default: a throwaway database)")
    args = ap.parse_args()
    url = args.database_url or _pg_database()
    workdir = Path(tempfile.mkdtemp(prefix="tally-console-bench-"))
    proc = None
    try:
        engine = make_engine("postgresql+psycopg://" + url.split("://", 1)[1])
        migrate.upgrade(engine)
        events_store.use(events_store.from_url(None, engine))
        s = seed(engine, args.customers, min(args.contracts, args.customers), args.events)
        # A bulk seed leaves the planner's statistics behind the data until autovacuum's next ANALYZE;
        # production tables are analysed as they grow, so measure with current statistics.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
        engine.dispose()
        proc, base = _serve(url, workdir)
        _api_ids(base, s)
        c = _sign_in(base, s.token)
        for path, target, note in _targets(s):
            if target is None:
                print(f"RESULT console_page={path} skipped note={note!r}")
                continue
            times, status = measure(c, target, args.runs)
            print(
                f"RESULT console_page={path} p50_ms={statistics.median(times):.1f} "
                f"p99_ms={_p(times, 0.99):.1f} status={status} runs={len(times)}"
                + (f" note={note!r}" if note else ""),
                flush=True,
            )
        c.close()
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        if args.database_url is None:
            _drop(url)


if __name__ == "__main__":
    main()
