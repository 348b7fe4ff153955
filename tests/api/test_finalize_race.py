"""FT-5: 8 workers finalize the same (contract, period) at once -> exactly one FINALIZED invoice, one set
of ledger deductions, and a content hash that never changes afterwards. Both backends; the workers are
threads with their own connections (PostgreSQL: real row locks and SKIP LOCKED; SQLite: one writer)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from metronome import Metronome
from sqlalchemy import Engine, select

from tally.contracts.service import row as contract_row
from tally.db import uow
from tally.db.engine import make_engine
from tally.invoices import service
from tally.invoices.inputs import Loader
from tally.models.contracts import ledger_entries
from tally.models.invoices import invoices
from tally.models.tenants import tenants
from tally.settings import sqlite_url
from tests.conftest import Running
from tests.sdk.invoice_support import build, clock_now, clock_server, ingest, iso  # noqa: F401

WORKERS = 8
ROUNDS = 3


def engine_of(running: Running) -> Engine:
    env = running.server.env
    if "TALLY_DATABASE_URL" in env:
        return make_engine(
            "postgresql+psycopg://" + env["TALLY_DATABASE_URL"].split("://", 1)[1], pool_size=WORKERS
        )
    return make_engine(sqlite_url(Path(env["TALLY_DATA_DIR"])), pool_size=WORKERS)


@pytest.fixture(scope="module")
def engine(clock_server: Running) -> Iterator[Engine]:  # noqa: F811
    e = engine_of(clock_server)
    yield e
    e.dispose()


def _race(engine: Engine, tenant_id: str, contract_id: str, key: service.Key, now: object) -> list[bool]:
    barrier = threading.Barrier(WORKERS)
    results: list[bool] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work() -> None:
        try:
            barrier.wait()
            with uow.write(engine) as conn:
                crow = contract_row(conn, tenant_id, contract_id)
                ok = service.finalize(conn, Loader(conn, tenant_id), crow, key, now)  # type: ignore[arg-type]
            with lock:
                results.append(ok)
        except BaseException as exc:
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    return results


def test_eight_workers_finalize_once(clock_server: Running, engine: Engine) -> None:  # noqa: F811
    client: Metronome = clock_server.sdk()
    with clock_server.http() as h, uow.read(engine) as conn:
        tenant_id = conn.execute(select(tenants.c.id).where(tenants.c.name == "alpha")).scalar_one()
        for rnd in range(ROUNDS):
            uid = f"race{rnd}" + iso(clock_now(h)).replace(":", "")[-6:]
            s = build(client, h, uid)
            ingest(
                client,
                s,
                uid,
                "r",
                (s.token_event, clock_now(h) - timedelta(minutes=1), {"tokens": 1500, "region": "us"}),
            )
            key = service.Key(s.contract, service.USAGE, s.t0, s.t1)
            now = s.t1 + timedelta(days=2)  # due, whatever the test clock says
            results = _race(engine, tenant_id, s.contract, key, now)
            assert sorted(results) == [False] * (WORKERS - 1) + [True], results
            with uow.read(engine) as c2:
                rows = c2.execute(
                    select(invoices).where(invoices.c.contract_id == s.contract, invoices.c.kind == "USAGE")
                ).all()
                assert [(r.status, r.void_seq) for r in rows] == [("FINALIZED", 0)]
                digest = rows[0].content_hash
                entries = c2.execute(
                    select(ledger_entries.c.type, ledger_entries.c.amount).where(
                        ledger_entries.c.invoice_id == rows[0].id
                    )
                ).all()
            # 1,500 tokens = 1,000 x 2 + 500 x 1 = 2,500: credit 1,000 then commit 1,500, each drawn once.
            assert sorted((t, a) for t, a in entries) == [
                ("CREDIT_AUTOMATED_INVOICE_DEDUCTION", -1000),
                ("PREPAID_COMMIT_AUTOMATED_INVOICE_DEDUCTION", -1500),
            ]
            # Further attempts (a second scheduler, a late retry) change nothing.
            assert _race(engine, tenant_id, s.contract, key, now + timedelta(hours=1)) == [False] * WORKERS
            with uow.read(engine) as c3:
                again = c3.execute(
                    select(invoices.c.content_hash, invoices.c.status).where(invoices.c.id == rows[0].id)
                ).one()
            assert tuple(again) == (digest, "FINALIZED")
            print(
                f"RESULT FT-5 backend={clock_server.backend} round={rnd} workers={WORKERS} "
                f"invoices_per_key_max=1 finalized_hash_changes=0"
            )


def test_database_refuses_to_rewrite_a_finalized_invoice(clock_server: Running, engine: Engine) -> None:  # noqa: F811
    # Finalize an invoice of its own, so this test does not depend on which tests ran before it.
    client: Metronome = clock_server.sdk()
    with clock_server.http() as h, uow.read(engine) as conn:
        tenant_id = conn.execute(select(tenants.c.id).where(tenants.c.name == "alpha")).scalar_one()
        s = build(client, h, "immutable" + iso(clock_now(h)).replace(":", "")[-6:])
    key = service.Key(s.contract, service.USAGE, s.t0, s.t1)
    with uow.write(engine) as conn:
        crow = contract_row(conn, tenant_id, s.contract)
        assert service.finalize(conn, Loader(conn, tenant_id), crow, key, s.t1 + timedelta(days=2))  # type: ignore[arg-type]
    with uow.read(engine) as conn:
        row = conn.execute(
            select(invoices.c.id).where(
                invoices.c.contract_id == s.contract, invoices.c.status == "FINALIZED"
            )
        ).first()
    assert row is not None
    with pytest.raises(Exception, match="immutable"), uow.write(engine) as conn:
        conn.execute(invoices.update().where(invoices.c.id == row.id).values(content_hash="0" * 64))
    with pytest.raises(Exception, match="immutable"), uow.write(engine) as conn:
        conn.execute(invoices.delete().where(invoices.c.id == row.id))
