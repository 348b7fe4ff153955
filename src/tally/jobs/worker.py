"""The billing worker: finalize what has fallen due, a batch of contracts per transaction.

Work is durable because it is derived from the database, never held in memory: `billing_state` holds,
per contract, the next time something falls due (a usage period closing after the tenant's grace
period, or a SCHEDULED invoice date). A pass (1) tracks contracts that are new or edited since their
schedule was computed, then (2) repeatedly claims a batch of due contracts (`FOR UPDATE SKIP LOCKED` on
PostgreSQL, so concurrent `tally worker` processes never take the same one; SQLite serializes writers),
finalizes their due invoices (each contract in a savepoint) and stores their next due times, all in one
transaction. A crash rolls the batch back to due, and the next pass (after a restart) does it again;
finalization is idempotent (the invoice key is unique), so nothing is finalized twice.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Row

from tally import tracing
from tally.alerts.evaluate import evaluate_due
from tally.clock import Clock
from tally.collection import sync as stripe_sync
from tally.contracts import recurring
from tally.contracts import service as contracts
from tally.db import uow
from tally.invoices import repository as repo
from tally.invoices import service, thresholds
from tally.invoices.inputs import Catalog, Loader
from tally.kit import metrics
from tally.notifications.lifecycle import fire_due
from tally.settings import load
from tally.usage import late_gate
from tally.webhooks.delivery import deliver_due, prune

log = logging.getLogger("tally.worker")
RETRY_AFTER = timedelta(minutes=15)
BATCH = 50  # contracts per transaction


@dataclass
class PassResult:
    contracts: int = 0
    finalized: int = 0


def track(engine: Engine, clock: Clock, batch: int = 1000) -> int:
    """Mark contracts that are new or edited since their schedule was computed as due now, so the claim
    loop recomputes them. Returns how many were marked."""
    done = 0
    while True:
        with uow.write(engine) as conn:
            now = clock.now()
            todo = repo.untracked_or_edited(conn, batch)
            repo.track_states(conn, todo, now)
        done += len(todo)
        if len(todo) < batch:
            return done


def process_batch(
    engine: Engine,
    clock: Clock,
    graces: dict[str, timedelta] | None = None,
    catalogs: dict[str, Catalog] | None = None,
    size: int = BATCH,
) -> PassResult | None:
    """Claim up to `size` due contracts and finalize what is due on them, in one transaction (each
    contract in its own savepoint); None when nothing is due."""
    graces = {} if graces is None else graces
    catalogs = {} if catalogs is None else catalogs
    with uow.write(engine) as conn:
        now = clock.now()
        states = repo.claim_due(conn, now, size)
        if not states:
            return None
        result = PassResult()
        next_due: dict[str, datetime | None] = {}
        by_tenant: dict[str, list[str]] = {}
        for state in states:
            by_tenant.setdefault(state.tenant_id, []).append(state.contract_id)
        for tenant_id, ids in sorted(by_tenant.items()):  # one tenant order: slots never wait in a cycle
            if tenant_id not in graces:
                graces[tenant_id] = service.grace(conn, tenant_id)
            catalog = catalogs.setdefault(tenant_id, Catalog())
            next_due |= finalize_contracts(conn, tenant_id, ids, now, graces[tenant_id], catalog, result)
        repo.set_next_due(conn, next_due, now)
        return result


def finalize_contracts(
    conn: Connection,
    tenant_id: str,
    contract_ids: list[str],
    now: datetime,
    grace: timedelta,
    catalog: Catalog,
    result: PassResult,
) -> dict[str, datetime | None]:
    """Finalize what is due on a tenant's contracts (claimed by the caller); returns each one's next due
    time. What they all need is read in a few queries, not several per contract, and their balances stay
    locked until commit (`ledger.prefetch`)."""
    crows = contracts.rows(conn, tenant_id, contract_ids)
    settled = service.settled_keys(conn, tenant_id, contract_ids)
    loader = Loader(conn, tenant_id, catalog)
    # Lock order, as in every finalizer: the tenant's late-data slot, then balances, then invoice rows.
    # Both are taken here, outside the per-contract savepoints (a rolled-back savepoint drops its locks).
    late_gate.hold_for_finalize(conn, tenant_id)
    loader.prefetch(list(crows.values()), lock_balances=True)
    next_due: dict[str, datetime | None] = {}
    for contract_id in contract_ids:
        result.contracts += 1
        crow = crows.get(contract_id)
        next_due[contract_id] = (
            None
            if crow is None
            else _finalize_contract(conn, loader, crow, now, grace, settled.get(contract_id, set()), result)
        )
    return next_due


def _finalize_contract(
    conn: Connection,
    loader: Loader,
    crow: Row[Any],
    now: datetime,
    grace: timedelta,
    settled: set[tuple[str, datetime, datetime]],
    result: PassResult,
) -> datetime | None:
    """Finalize what is due on one contract, in a savepoint; returns when its next work falls due."""
    savepoint = conn.begin_nested()
    try:
        if crow.terms.get("recurring_commits") or crow.terms.get("recurring_credits"):
            # Open-ended recurring commits/credits: keep children stored ahead of time.
            recurring.materialize(conn, crow.tenant_id, crow.customer_id, crow.id, crow.terms, now)
            loader.forget(crow.id)  # its balances may have new children
        due, nxt = service.due_keys(conn, loader, crow, now, grace, settled)
        for key in due:
            if service.finalize(conn, loader, crow, key, now, known_unsettled=True):
                result.finalized += 1
        savepoint.commit()
        return nxt
    except Exception:
        # One contract the engine refuses must not hold up everyone else: retry it later.
        savepoint.rollback()
        loader.forget(crow.id)  # what was read inside the savepoint may be gone
        log.exception("cannot finalize contract %s; retrying in %s", crow.id, RETRY_AFTER)
        return now + RETRY_AFTER


def run_pass(engine: Engine, clock: Clock, stop: threading.Event | None = None) -> PassResult:
    """Do everything that is due now; with `stop` set, return after the batch in hand (each batch
    commits or rolls back whole, so nothing stays claimed)."""
    started = time.monotonic()
    with tracing.span("worker.pass") as span:
        try:
            result = _run_pass(engine, clock, stop)
        finally:
            metrics.WORKER_PASS_DURATION.observe(time.monotonic() - started)
        if span is not None:
            span.set_attribute("tally.contracts", result.contracts)
            span.set_attribute("tally.invoices_finalized", result.finalized)
        return result


def _backlog(engine: Engine, clock: Clock) -> None:
    """The due-contract backlog and its lag (metrics), read once at the start of a pass."""
    try:
        with uow.read(engine) as conn:
            now = clock.now()
            count, oldest = repo.due_backlog(conn, now)
    except Exception:
        log.exception("cannot read the billing backlog")
        return
    metrics.WORKER_DUE_CONTRACTS.set(count)
    metrics.WORKER_LAG.set(max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0)


def _run_pass(engine: Engine, clock: Clock, stop: threading.Event | None) -> PassResult:
    track(engine, clock)
    _backlog(engine, clock)
    total = PassResult()
    graces: dict[str, timedelta] = {}
    catalogs: dict[str, Catalog] = {}
    while stop is None or not stop.is_set():
        try:
            r = process_batch(engine, clock, graces, catalogs)
        except Exception:
            log.exception("billing pass failed; will retry on the next pass")
            break
        if r is None:
            break
        total.contracts += r.contracts
        total.finalized += r.finalized
        metrics.INVOICES_FINALIZED.inc(r.finalized)
    if stop is not None and stop.is_set():
        return total
    # threshold billing (SPEC §5.10-5.11); logs its own failures
    metrics.RECHARGES.inc(thresholds.run(engine, clock))
    evaluate_due(engine, clock)  # alerts (SPEC §8.1); logs its own failures, before delivery sends them
    settings = load()
    try:
        # Stripe collection (collection/sync.py): staged invoices out, missed webhooks reconciled.
        stripe_sync.sync_due(engine, clock, settings)
    except Exception:
        log.exception("Stripe sync pass failed; will retry on the next pass")
    try:
        # Lifecycle moments (contract.start, segment ends, offsets) the clock has reached, into the outbox.
        fire_due(engine, clock)
    except Exception:
        log.exception("lifecycle notifications failed; will retry on the next pass")
    try:
        # After billing, so this pass's invoice.finalized events go out now.
        deliver_due(engine, clock, settings)
        prune(engine, clock, timedelta(days=settings.webhooks_retention_days))
    except Exception:
        log.exception("webhook delivery pass failed; will retry on the next pass")
    return total


class Worker:
    """The loop `tally serve` runs in a thread (SQLite, embedded) and `tally worker` runs in production."""

    def __init__(self, engine: Engine, clock: Clock, interval: float = 5.0) -> None:
        self.engine = engine
        self.clock = clock
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_forever(self) -> None:
        while not self._stop.is_set():
            try:
                result = run_pass(self.engine, self.clock, self._stop)
                if result.finalized:
                    log.info("finalized %d invoice(s) on %d contract(s)", result.finalized, result.contracts)
            except Exception:
                log.exception("billing worker pass failed")
            self._stop.wait(self.interval)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run_forever, name="tally-billing-worker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
