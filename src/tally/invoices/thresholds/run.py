"""Threshold billing's entry points: the worker step and the immediate evaluation after a contract
write. Each contract is evaluated in its own transaction: looked at first in a read transaction (no lock,
no SQLite write lock held while drafts are rated), then evaluated again under its lock only when
something is due."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from tally.clock import Clock
from tally.contracts.terms import model
from tally.db import uow
from tally.invoices.inputs import Catalog
from tally.invoices.thresholds import decide
from tally.invoices.thresholds import repository as repo
from tally.invoices.thresholds.evaluate import evaluate

log = logging.getLogger("tally.thresholds")

SYNC_BATCH = 1000


def run(engine: Engine, clock: Clock) -> int:
    """The worker's share (end of every pass): refresh which contracts have an enabled configuration,
    then evaluate each of those in its own transaction. Returns how many commits were granted."""
    try:
        sync(engine, clock)
        with uow.read(engine) as conn:
            todo = repo.enabled_contracts(conn)
    except Exception:
        log.exception("threshold pass failed; will retry on the next pass")
        return 0
    catalogs: dict[str, Catalog] = {}
    granted = 0
    for tenant_id, contract_id in todo:
        catalog = catalogs.setdefault(tenant_id, Catalog())
        try:
            with uow.read(engine) as conn:
                due = evaluate(conn, tenant_id, contract_id, clock.now(), catalog, dry_run=True)
            if not due:
                continue
            with uow.write(engine) as conn:
                found = evaluate(conn, tenant_id, contract_id, clock.now(), catalog, skip_locked=True)
        except Exception:
            log.exception("cannot evaluate thresholds of contract %s; retrying next pass", contract_id)
            continue
        granted += len(found)
        for g in found:
            log.info("contract %s: %s commit %s of %s", contract_id, g.source, g.commit_id, g.amount)
    return granted


def evaluate_now(engine: Engine, tenant_id: str, contract_id: str, now: datetime) -> None:
    """The immediate evaluation after a contract create / v2 edit (SPEC §5.10: is_enabled triggers one)."""
    with uow.write(engine) as conn:
        evaluate(conn, tenant_id, contract_id, now, Catalog(), skip_locked=False)


def sync(engine: Engine, clock: Clock) -> int:
    """Record, per contract created or edited since last read, whether a configuration is enabled."""
    done = 0
    while True:
        with uow.write(engine) as conn:
            now = clock.now()
            rows = repo.unsynced(conn, SYNC_BATCH)
            flags = [(r, decide.enabled(_terms(r.terms), r.archived_at)) for r in rows]
            repo.record_synced(conn, flags, now)
        done += len(rows)
        if len(rows) < SYNC_BATCH:
            return done


def _terms(doc: dict[str, Any] | None) -> model.Terms | None:
    """A contract's terms, when `repo.unsynced` read them (they may name a configuration)."""
    return None if doc is None else model.parse(doc, model.Terms)
