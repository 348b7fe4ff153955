"""FT-1: SIGKILL the server under ingest load, restart it on the same database, retry what was not
acknowledged with the same ids. Every acknowledged event must be stored exactly once, with the payload
first accepted; nothing that was never sent may appear."""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

from tests.support.servers import drop_pg_database, make_server

CLIENTS = 4
KILLS = 3


class Load:
    def __init__(self, url: str, token: str, prefix: str) -> None:
        self.url = url
        self.token = token
        self.prefix = prefix
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.sent: dict[str, str] = {}  # id -> the payload marker of its first send
        self.acked: set[str] = set()
        self.first_acked_payload: dict[str, str] = {}
        self.errors = 0
        self.ts = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _batch(self, client: int, seq: int, rng: random.Random, reusable: list[str]) -> list[dict[str, Any]]:
        events = []
        for i in range(100):
            if reusable and rng.random() < 0.1:
                tid, marker = rng.choice(reusable), f"again-{client}-{seq}"  # a duplicate, different payload
            else:
                tid, marker = f"{self.prefix}-{client}-{seq}-{i}", "first"
            events.append(
                {
                    "transaction_id": tid,
                    "customer_id": "crash-customer",
                    "event_type": "api_call",
                    "timestamp": self.ts,
                    "properties": {"marker": marker, "n": i},
                }
            )
        return events

    def client(self, n: int) -> None:
        rng = random.Random(n)
        reusable: list[str] = []
        seq = 0
        pending: list[dict[str, Any]] | None = None
        with httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=10
        ) as http:
            while True:
                if pending is None:
                    if self.stop.is_set():
                        return
                    pending = self._batch(n, seq, rng, reusable)
                    seq += 1
                    with self.lock:
                        for e in pending:
                            self.sent.setdefault(e["transaction_id"], e["properties"]["marker"])
                try:
                    r = http.post("/v1/ingest", json=pending)
                except httpx.TransportError:
                    self.errors += 1
                    time.sleep(0.05)
                    continue  # unknown outcome: retry the same batch, same ids
                if r.status_code != 200:
                    self.errors += 1
                    time.sleep(0.05)
                    continue
                with self.lock:
                    for e, item in zip(pending, r.json()["data"], strict=True):
                        assert item["transaction_id"] == e["transaction_id"]
                        self.acked.add(e["transaction_id"])
                        if item["status"] == "accepted":
                            self.first_acked_payload.setdefault(
                                e["transaction_id"], e["properties"]["marker"]
                            )
                reusable += [e["transaction_id"] for e in pending[:10]]
                pending = None


def _stored(
    backend: str, workdir: Path, pg_url: str | None, prefix: str
) -> tuple[list[tuple[str, str]], str]:
    sql = "SELECT transaction_id, properties FROM events WHERE transaction_id LIKE '" + prefix + "-%'"
    if backend == "sqlite":
        with sqlite3.connect(workdir / "data" / "tally.db") as db:
            rows = db.execute(sql).fetchall()
            integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        return rows, integrity
    assert pg_url is not None
    with psycopg.connect(pg_url) as db:
        rows = db.execute(sql).fetchall()  # type: ignore[arg-type]
    return [(r[0], r[1]) for r in rows], "ok"


def test_sigkill_mid_ingest(backend: str, tmp_path: Path) -> None:
    started = time.monotonic()
    server, pg_url = make_server(backend, tmp_path)
    prefix = f"ft1{uuid.uuid4().hex[:8]}"
    try:
        server.cli("migrate")
        load = Load(server.url, server.token("crash"), prefix)
        server.start()
        threads = [threading.Thread(target=load.client, args=(n,)) for n in range(CLIENTS)]
        for t in threads:
            t.start()
        rng = random.Random(7)
        for _ in range(KILLS):
            time.sleep(rng.uniform(1.0, 2.5))
            server.stop(sig_kill=True)
            server.start()
        time.sleep(1.0)
        load.stop.set()
        for t in threads:
            t.join(timeout=60)
            assert not t.is_alive(), "a client never got its batch acknowledged"
        rows, integrity = _stored(backend, tmp_path, pg_url, prefix)
    finally:
        server.stop()
        if pg_url:
            drop_pg_database(pg_url)

    stored_ids = [r[0] for r in rows]
    stored = set(stored_ids)
    acked_lost = len(load.acked - stored)
    duplicated = len(stored_ids) - len(stored)
    phantom = len(stored - set(load.sent))
    payload = {tid: json.loads(p)["marker"] for tid, p in rows}
    mismatch = sum(1 for tid, m in load.first_acked_payload.items() if payload.get(tid) != m)
    never_first = sum(1 for tid in load.acked if payload.get(tid) != load.sent[tid])
    print(
        f"\nRESULT FT-1 backend={backend} kills={KILLS} clients={CLIENTS} sent={len(load.sent)} "
        f"acked={len(load.acked)} stored={len(stored)} unknown_retries={load.errors} "
        f"acked_lost={acked_lost} duplicated={duplicated} phantom={phantom} "
        f"payload_mismatch={mismatch + never_first} integrity={integrity} "
        f"elapsed_s={time.monotonic() - started:.1f}"
    )
    assert load.acked, "no batch was ever acknowledged"
    assert acked_lost == 0
    assert duplicated == 0
    assert phantom == 0
    assert mismatch == 0
    assert never_first == 0
    assert integrity == "ok"
