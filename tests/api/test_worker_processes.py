"""`tally worker` processes (issue 5): several of them on PostgreSQL never finalize an invoice twice, and
work pending when one is SIGKILLed mid-pass is done after it restarts.

The API server runs without its embedded billing worker; the clock is the persisted test clock, moved by
writing its row directly (the test-clock endpoint would run the due work itself, in the API process). Then
worker A starts alone and is killed as soon as its first batch of finalized invoices commits (so it dies
inside a later batch); workers B and C start (PostgreSQL), A restarts, and every contract must end with
exactly one FINALIZED invoice per key and one set of ledger deductions, whose figures are computed by hand
below. SQLite runs the same scenario with one worker (its writers are serialized anyway)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from metronome import Metronome
from sqlalchemy import Engine, func, select, update

from tally.db import uow
from tally.models.contracts import ledger_entries
from tally.models.invoices import invoices, test_clock
from tests.conftest import Running, serving
from tests.sdk.invoice_support import add_months, fresh_month, iso, prepaid_commit, welcome_credit
from tests.support.servers import eventually

CONTRACTS = 120  # more than two worker batches (50 contracts each)
PRICE = 3  # cents per token


@pytest.fixture(scope="module")
def api(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    workdir = tmp_path_factory.mktemp(f"workers-{backend}")
    with serving(backend, workdir, "--test-clock", "--no-billing-worker") as running:
        yield running


class Worker:
    def __init__(self, running: Running, name: str, logs: Path) -> None:
        self.log = logs / f"worker-{name}.log"
        env = dict(running.server.env, TALLY_WORKER_INTERVAL_SECONDS="0.3")
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tally", "worker", "--test-clock"], env=env, stdout=out, stderr=out
            )

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(20)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


def _setup(client: Metronome, running: Running, uid: str) -> tuple[list[tuple[str, int]], datetime, datetime]:
    """One catalog; CONTRACTS customers, each with a contract (a 5,000 prepaid commit invoiced at the
    start, a 1,000 free credit) and one event of 1,000 + i tokens in the first month."""
    with running.http() as h:
        t0 = fresh_month(h)
    t1 = add_months(t0, 1)
    event_type = f"work_{uid}"
    metric = client.v1.billable_metrics.create(
        name=f"tokens {uid}",
        aggregation_type="SUM",
        aggregation_key="tokens",
        event_type_filter={"in_values": [event_type]},
        property_filters=[{"name": "tokens", "exists": True}],
    ).data.id
    product = client.v1.contracts.products.create(
        name=f"Tokens {uid}", type="USAGE", billable_metric_id=metric
    ).data.id
    fixed = client.v1.contracts.products.create(name=f"Prepaid {uid}", type="FIXED").data.id
    card = client.v1.contracts.rate_cards.create(name=f"card {uid}").data.id
    client.v1.contracts.rate_cards.rates.add(
        rate_card_id=card, product_id=product, entitled=True, rate_type="FLAT", price=PRICE, starting_at=t0
    )
    year = add_months(t0, 12)
    made: list[tuple[str, int]] = []
    for i in range(CONTRACTS):
        alias = f"w-{uid}-{i}"
        customer = client.v1.customers.create(name=f"worker customer {i}", ingest_aliases=[alias]).data.id
        contract = client.v1.contracts.create(
            customer_id=customer,
            starting_at=t0,
            rate_card_id=card,
            commits=[prepaid_commit(fixed, t0, year)],
            credits=[welcome_credit(fixed, t0, year)],
        ).data.id
        client.v1.usage.ingest(
            usage=[
                {
                    "transaction_id": f"{uid}-{i}",
                    "customer_id": alias,
                    "event_type": event_type,
                    "timestamp": iso(t0 + timedelta(hours=2)),
                    "properties": {"tokens": 1000 + i},
                }
            ]
        )
        made.append((contract, i))
    return made, t0, t1


def _finalized(db: Engine, contract_ids: list[str]) -> int:
    with uow.read(db) as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(invoices)
                .where(invoices.c.contract_id.in_(contract_ids), invoices.c.status == "FINALIZED")
            ).scalar_one()
        )


def test_worker_processes_finalize_once_and_survive_a_kill(
    api: Running, backend: str, uid: str, tmp_path: Path
) -> None:
    client = api.sdk()
    made, t0, t1 = _setup(client, api, uid)
    ids = [c for c, _ in made]
    db = api.server.engine()
    try:
        assert (
            _finalized(db, ids) == 0
        )  # no worker yet: nothing finalized, though the commit invoices are due
        with uow.write(db) as conn:  # past January's end and the 24 h grace, without running any work here
            conn.execute(update(test_clock).where(test_clock.c.id == 1).values(now=t1 + timedelta(hours=25)))
        workers = [Worker(api, "a", tmp_path)]
        try:
            eventually(lambda: _finalized(db, ids) > 0, 120, interval=0.02)
            workers[0].kill()  # inside a later batch: its transaction is rolled back
            at_kill = _finalized(db, ids)
            extra = 2 if backend == "postgres" else 0
            workers += [Worker(api, n, tmp_path) for n in ("b", "c")[:extra]]
            workers.append(Worker(api, "a-restarted", tmp_path))
            eventually(lambda: _finalized(db, ids) == 2 * len(ids), 300, interval=0.02)
            time.sleep(1.5)  # a few more passes of every worker: nothing may change
        finally:
            for w in workers:
                w.stop()

        with uow.read(db) as conn:
            rows = conn.execute(
                select(invoices).where(invoices.c.contract_id.in_(ids)).order_by(invoices.c.contract_id)
            ).all()
            entries = conn.execute(
                select(ledger_entries.c.invoice_id, ledger_entries.c.type, ledger_entries.c.amount).where(
                    ledger_entries.c.contract_id.in_(ids), ledger_entries.c.invoice_id.is_not(None)
                )
            ).all()
        by_contract: dict[str, list[object]] = {}
        for r in rows:
            by_contract.setdefault(r.contract_id, []).append(r)
        drawn: dict[str, list[tuple[str, Decimal]]] = {}
        for e in entries:
            drawn.setdefault(e.invoice_id, []).append((e.type, Decimal(e.amount)))
        for contract, i in made:
            mine = by_contract[contract]
            keys = sorted((r.kind, r.period_start, r.period_end, r.status, r.void_seq) for r in mine)  # type: ignore[attr-defined]
            assert keys == [
                ("SCHEDULED", t0, t0, "FINALIZED", 0),
                ("USAGE", t0, t1, "FINALIZED", 0),
            ], (contract, keys)
            usage = next(r for r in mine if r.kind == "USAGE")  # type: ignore[attr-defined]
            # (1,000 + i) tokens x 3 = 3,000 + 3i: the credit (priority 1) pays 1,000, the commit the rest.
            assert sorted(drawn[usage.id]) == [
                ("CREDIT_AUTOMATED_INVOICE_DEDUCTION", Decimal(-1000)),
                ("PREPAID_COMMIT_AUTOMATED_INVOICE_DEDUCTION", Decimal(-(2000 + 3 * i))),
            ], (contract, drawn[usage.id])
        assert len(drawn) == len(ids)  # deductions only on the usage invoices, once each
        logs = "".join(p.read_text() for p in tmp_path.glob("worker-*.log"))
        assert "Traceback" not in logs, logs[-3000:]
        print(
            f"RESULT workers backend={backend} processes={1 + extra} contracts={len(ids)} "
            f"finalized_at_kill={at_kill} finalized={2 * len(ids)} duplicates=0"
        )
    finally:
        db.dispose()
