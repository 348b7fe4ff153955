"""Ingest benchmark (issue 3): tally on SQLite and on PostgreSQL, loaded over loopback HTTP.

N client threads each keep one keep-alive connection and send 100-event batches with random transaction
ids, ~10 % of them re-sent ids (duplicates), for a fixed duration after a short warm-up. Prints per backend:

    RESULT ingest backend=sqlite workers=1 clients=8 events_per_s=... accepted_per_s=... p50_ms=... p99_ms=...

events_per_s counts every event of every acknowledged (200) batch; accepted_per_s only the new ones.
Clients use http.client (stdlib) rather than httpx so the load generator, which shares the machine's
cores with the server, costs as little CPU as possible.

    .venv/bin/python bench/ingest_bench.py --backends sqlite,postgres --duration 15 --clients 8 [--metrics 2]

By default two billable metrics (a SUM grouped by region and a COUNT) exist, so every event also updates
the metering rollups, as it would for a real tenant; --metrics 0 measures bare storage.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.servers import drop_pg_database, make_server  # noqa: E402

BATCH = 100


@dataclass
class Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: list[float] = field(default_factory=list)
    events: int = 0
    accepted: int = 0
    errors: int = 0


def _batch_body(
    customer: str, ts: str, rng: random.Random, recent: list[str], dup_share: float
) -> tuple[bytes, list[str]]:
    ids = []
    parts = []
    for i in range(BATCH):
        if recent and rng.random() < dup_share:
            tid = recent[rng.randrange(len(recent))]
        else:
            tid = os.urandom(12).hex()
        ids.append(tid)
        region = ("us-east", "eu-west", "ap-south")[i % 3]
        parts.append(
            f'{{"transaction_id":"{tid}","customer_id":"{customer}","event_type":"api_call","timestamp":"{ts}",'
            f'"properties":{{"region":"{region}","tokens":"{rng.randrange(1, 5000)}","model":"m-{i % 7}"}}}}'
        )
    return ("[" + ",".join(parts) + "]").encode(), ids


def _client(
    port: int,
    token: str,
    customer: str,
    ts: str,
    seed: int,
    dup_share: float,
    start_at: float,
    stop_at: float,
    stats: Stats,
) -> None:
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    recent: list[str] = []
    lat: list[float] = []
    events = accepted = errors = 0
    while True:
        body, ids = _batch_body(customer, ts, rng, recent, dup_share)
        t0 = time.monotonic()
        if t0 >= stop_at:
            break
        try:
            conn.request("POST", "/v1/ingest", body=body, headers=headers)
            resp = conn.getresponse()
            payload = resp.read()
        except (OSError, http.client.HTTPException):
            errors += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            continue
        t1 = time.monotonic()
        if resp.status != 200:
            errors += 1
            continue
        recent.extend(ids[:20])
        del recent[:-2000]
        if t0 >= start_at:
            lat.append(t1 - t0)
            events += BATCH
            accepted += payload.count(b'"accepted"')
    conn.close()
    with stats.lock:
        stats.latencies += lat
        stats.events += events
        stats.accepted += accepted
        stats.errors += errors


def _cpu_seconds(root_pid: int) -> float:
    """User+system CPU of a process and its live children (uvicorn workers), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry) == root_pid or int(fields[1]) == root_pid:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


METRICS = [
    # What a typical tenant meters on each event: a grouped SUM and a plain COUNT.
    {
        "name": "tokens by region",
        "aggregation_type": "SUM",
        "aggregation_key": "tokens",
        "event_type_filter": {"in_values": ["api_call"]},
        "property_filters": [{"name": "tokens", "exists": True}, {"name": "region", "exists": True}],
        "group_keys": [["region"]],
    },
    {"name": "calls", "aggregation_type": "COUNT", "event_type_filter": {"in_values": ["api_call"]}},
]


def run(
    backend: str, clients: int, duration: float, warmup: float, workers: int, dup_share: float, metrics: int
) -> str:
    workdir = Path(tempfile.mkdtemp(prefix=f"tally-bench-{backend}-"))
    server, pg_url = make_server(backend, workdir, "--workers", str(workers))
    try:
        server.cli("migrate")
        token = server.token("bench")
        server.start()
        customer = f"bench-{os.urandom(4).hex()}"
        req = json.dumps({"name": "bench", "ingest_aliases": [customer]}).encode()
        c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        c.request("POST", "/v1/customers", body=req, headers={"Authorization": f"Bearer {token}"})
        r = c.getresponse()
        assert r.status == 200, r.read()
        r.read()
        for metric in METRICS[:metrics]:
            c.request(
                "POST",
                "/v1/billable-metrics/create",
                body=json.dumps(metric).encode(),
                headers={"Authorization": f"Bearer {token}"},
            )
            r = c.getresponse()
            assert r.status == 200, r.read()
            r.read()
        c.close()
        ts = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        stats = Stats()
        start_at = time.monotonic() + warmup
        stop_at = start_at + duration
        assert server.proc is not None
        cpu_timer = threading.Timer(warmup, lambda: cpu.append(_cpu_seconds(server.proc.pid)))  # type: ignore[union-attr]
        cpu: list[float] = []
        cpu_timer.start()
        threads = [
            threading.Thread(
                target=_client,
                args=(server.port, token, customer, ts, i, dup_share, start_at, stop_at, stats),
            )
            for i in range(clients)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        cpu.append(_cpu_seconds(server.proc.pid))
        batches = max(1, stats.events // BATCH)
        lat = sorted(stats.latencies)
        p50 = lat[len(lat) // 2] * 1000 if lat else float("nan")
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000 if lat else float("nan")
        return (
            f"RESULT ingest backend={backend} workers={workers} clients={clients} metrics={metrics} "
            f"duration_s={duration:g} "
            f"events_per_s={stats.events / duration:.0f} accepted_per_s={stats.accepted / duration:.0f} "
            f"p50_ms={p50:.1f} p99_ms={p99:.1f} errors={stats.errors} "
            f"server_cpu_ms_per_batch={(cpu[-1] - cpu[0]) * 1000 / batches:.2f} "
            f"loadavg={os.getloadavg()[0]:.1f}"
        )
    finally:
        server.stop()
        if pg_url:
            drop_pg_database(pg_url)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backends", default="sqlite,postgres")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--duration", type=float, default=15.0, help="measured seconds per backend (max 300)")
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument(
        "--workers",
        type=int,
        default=0,
        help="tally serve --workers (default: 1 on SQLite, whose writes serialize anyway; 2 on PostgreSQL)",
    )
    ap.add_argument("--dup-share", type=float, default=0.1)
    ap.add_argument(
        "--metrics", type=int, default=2, choices=[0, 1, 2], help="billable metrics fed at ingest"
    )
    args = ap.parse_args()
    duration = min(args.duration, 300.0)
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        workers = args.workers or (1 if backend == "sqlite" else 2)
        print(
            run(backend, args.clients, duration, args.warmup, workers, args.dup_share, args.metrics),
            flush=True,
        )


if __name__ == "__main__":
    main()
