"""Finalizing what has fallen due: the invoice domain's share of the billing worker (tally.jobs.worker).

Work is durable because it is derived from the database, never held in memory: `billing_state` holds,
per contract, the next time something falls due (a usage period closing after the tenant's grace
period, or a SCHEDULED invoice date). `track` marks contracts that are new or edited since their schedule
was computed; `process_batch` claims a batch of due contracts (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so
concurrent `tally worker` processes never take the same one; SQLite serializes writers), finalizes their
due invoices (each contract in a savepoint) and stores their next due times, all in one transaction. A
crash rolls the batch back to due, and the next pass does it again; finalization is idempotent (the
invoice key is unique), so nothing is finalized twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Row

from tally.clock import Clock
from tally.contracts import service as contracts
from tally.contracts.balances import recurring
from tally.db import uow
from tally.db.uow import WriteConn
from tally.invoices import repository as repo
from tally.invoices import service
from tally.invoices.inputs import Catalog, Loader
from tally.usage import late_gate

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
    conn: WriteConn,
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
    contract_rows = contracts.rows(conn, tenant_id, contract_ids)
    settled = service.settled_keys(conn, tenant_id, contract_ids)
    loader = Loader(conn, tenant_id, catalog)
    # Lock order, as in every finalizer: the tenant's late-data slot, then balances, then invoice rows.
    # Both are taken here, outside the per-contract savepoints (a rolled-back savepoint drops its locks).
    late_gate.hold_for_finalize(conn, tenant_id)
    loader.prefetch(list(contract_rows.values()), lock_balances=True)
    next_due: dict[str, datetime | None] = {}
    for contract_id in contract_ids:
        result.contracts += 1
        contract_row = contract_rows.get(contract_id)
        next_due[contract_id] = (
            None
            if contract_row is None
            else _finalize_contract(
                conn, loader, contract_row, now, grace, settled.get(contract_id, set()), result
            )
        )
    return next_due


def _finalize_contract(
    conn: WriteConn,
    loader: Loader,
    contract_row: Row[Any],
    now: datetime,
    grace: timedelta,
    settled: set[tuple[str, datetime, datetime]],
    result: PassResult,
) -> datetime | None:
    """Finalize what is due on one contract, in a savepoint; returns when its next work falls due."""
    savepoint = conn.begin_nested()
    try:
        if contract_row.terms.get("recurring_commits") or contract_row.terms.get("recurring_credits"):
            # Open-ended recurring commits/credits: keep children stored ahead of time.
            recurring.materialize(
                conn,
                contract_row.tenant_id,
                contract_row.customer_id,
                contract_row.id,
                contract_row.terms,
                now,
            )
            loader.forget(contract_row.id)  # its balances may have new children
        due, nxt = service.due_keys(conn, loader, contract_row, now, grace, settled)
        for key in due:
            if service.finalize(conn, loader, contract_row, key, now, known_unsettled=True):
                result.finalized += 1
        savepoint.commit()
        return nxt
    except Exception:
        # One contract the engine refuses must not hold up everyone else: retry it later.
        savepoint.rollback()
        loader.forget(contract_row.id)  # what was read inside the savepoint may be gone
        log.exception("cannot finalize contract %s; retrying in %s", contract_row.id, RETRY_AFTER)
        return now + RETRY_AFTER


def backlog(engine: Engine, now: datetime) -> tuple[int, datetime | None]:
    """How many contracts are due now, and the oldest due time among them."""
    with uow.read(engine) as conn:
        return repo.due_backlog(conn, now)
