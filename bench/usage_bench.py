"""Usage-query benchmark (issue 3): `/v1/usage` over one customer holding 1,000,000 events in one month.

Per backend: start tally, create a customer and two metrics (SUM of `tokens` grouped by `region`, and
COUNT), load the events, then time `POST /v1/usage` for that customer and month over loopback HTTP with
window NONE and window DAY. Prints:

    RESULT usage_load backend=... events=1000000 mode=direct seconds=... events_per_s=...
    RESULT usage_query backend=... events=1000000 window=NONE p50_ms=... p99_ms=...

Loading (`--load`):
- `direct` (default): in-process through `tally.usage.ingest.ingest`, the function behind `POST /v1/ingest`
  (same dedup insert and the same `rollups.apply`), in transactions of 1,000 events; skips HTTP only.
- `http`: `POST /v1/ingest` batches of 100 from 4 concurrent clients.
Either way the query reads only what ingest maintained; it never touches raw events.

    .venv/bin/python bench/usage_bench.py --backends postgres,sqlite --events 1000000
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests.support.servers import Server, drop_pg_database, make_server  # noqa: E402

MONTH = datetime(2025, 3, 1, tzinfo=UTC)
MONTH_END = datetime(2025, 4, 1, tzinfo=UTC)
REGIONS = ("us-east", "eu-west", "ap-south")


def _call(port: int, token: str, path: str, body: Any) -> Any:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("POST", path, body=json.dumps(body), headers={"Authorization": f"Bearer {token}"})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    if resp.status != 200:
        raise RuntimeError(f"{path}: {resp.status} {data[:300]!r}")
    return json.loads(data)


def _events(customer: str, n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    span = int((MONTH_END - MONTH).total_seconds())
    out = []
    for i in range(n):
        ts = MONTH + timedelta(seconds=rng.randrange(span))
        out.append(
            {
                "transaction_id": f"{seed}-{i}",
                "customer_id": customer,
                "event_type": "api_call",
                "timestamp": ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "properties": {"tokens": str(rng.randrange(1, 5000)), "region": REGIONS[i % 3]},
            }
        )
    return out


def _load_direct(server: Server, token: str, customer: str, n: int) -> None:
    from tally.auth.service import tenant_for_token
    from tally.db import uow
    from tally.db.engine import make_engine
    from tally.settings import sqlite_url
    from tally.usage import ingest

    url = server.env.get("TALLY_DATABASE_URL")
    if url:
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    else:
        url = sqlite_url(Path(server.env["TALLY_DATA_DIR"]))
    engine = make_engine(url)
    with uow.read(engine) as conn:
        tenant = tenant_for_token(conn, token)
    assert tenant is not None
    now = datetime.now(UTC)
    chunk = 100_000
    for start in range(0, n, chunk):
        raw = _events(customer, min(chunk, n - start), seed=start)
        for i in range(0, len(raw), 1000):
            stop = min(i + 1000, len(raw))
            events = [e for j in range(i, stop, 100) for e in ingest.validate(raw[j : j + 100], now)]
            with uow.write(engine) as conn:
                ingest.ingest(conn, tenant.id, events, now)
    engine.dispose()


def _load_http(port: int, token: str, customer: str, n: int, clients: int = 4) -> None:
    per = n // clients

    def work(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        done = 0
        while done < per:
            raw = _events(customer, min(10_000, per - done), seed=k * 10_000_000 + done)
            for i in range(0, len(raw), 100):
                conn.request("POST", "/v1/ingest", body=json.dumps(raw[i : i + 100]), headers=headers)
                resp = conn.getresponse()
                resp.read()
                if resp.status != 200:
                    raise RuntimeError(f"ingest: {resp.status}")
            done += len(raw)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _time_queries(port: int, token: str, body: dict[str, Any], rounds: int) -> tuple[float, float, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    payload = json.dumps(body)
    lat = []
    last: Any = None
    for i in range(rounds + 5):
        t0 = time.perf_counter()
        conn.request("POST", "/v1/usage", body=payload, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"usage: {resp.status} {data[:300]!r}")
        if i >= 5:
            lat.append((time.perf_counter() - t0) * 1000)
        last = json.loads(data)
    lat.sort()
    return statistics.median(lat), lat[min(len(lat) - 1, int(len(lat) * 0.99))], last


def run(backend: str, n: int, load: str, rounds: int) -> None:
    workdir = Path(tempfile.mkdtemp(prefix=f"usage-bench-{backend}-"))
    server, pg_url = make_server(backend, workdir)
    try:
        server.cli("migrate")
        token = server.token("bench")
        server.start()
        customer = _call(server.port, token, "/v1/customers", {"name": "bench", "ingest_aliases": ["acct-1"]})
        cid = customer["data"]["id"]
        common = {"event_type_filter": {"in_values": ["api_call"]}}
        sum_id = _call(
            server.port,
            token,
            "/v1/billable-metrics/create",
            {
                "name": "tokens",
                "aggregation_type": "SUM",
                "aggregation_key": "tokens",
                "property_filters": [{"name": "tokens", "exists": True}, {"name": "region"}],
                "group_keys": [["region"]],
                **common,
            },
        )["data"]["id"]
        count_id = _call(
            server.port,
            token,
            "/v1/billable-metrics/create",
            {"name": "calls", "aggregation_type": "COUNT", **common},
        )["data"]["id"]
        t0 = time.perf_counter()
        if load == "direct":
            _load_direct(server, token, "acct-1", n)
        else:
            _load_http(server.port, token, "acct-1", n)
        took = time.perf_counter() - t0
        print(
            f"RESULT usage_load backend={backend} events={n} mode={load} seconds={took:.1f} "
            f"events_per_s={n / took:.0f}",
            flush=True,
        )
        for window in ("NONE", "DAY"):
            body = {
                "starting_on": "2025-03-01T00:00:00Z",
                "ending_before": "2025-04-01T00:00:00Z",
                "window_size": window,
                "customer_ids": [cid],
                "billable_metrics": [{"id": sum_id}, {"id": count_id}],
            }
            p50, p99, last = _time_queries(server.port, token, body, rounds)
            counted = sum(r["value"] for r in last["data"] if r["billable_metric_id"] == count_id)
            assert counted == n, (counted, n)
            print(
                f"RESULT usage_query backend={backend} events={n} window={window} "
                f"p50_ms={p50:.1f} p99_ms={p99:.1f}",
                flush=True,
            )
    finally:
        server.stop()
        if pg_url:
            drop_pg_database(pg_url)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backends", default="postgres,sqlite")
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--load", choices=("direct", "http"), default="direct")
    ap.add_argument("--rounds", type=int, default=100)
    args = ap.parse_args()
    for backend in args.backends.split(","):
        run(backend.strip(), args.events, args.load, args.rounds)


if __name__ == "__main__":
    main()
