"""Rollover on a RENEWAL transition (SPEC §5.13): the old contract's commits and credits carry
`rollover_fraction x remaining` into new balances on the renewal; the unrolled remainder expires.

The arithmetic is the engine's (`tally.rating.adjustments.rollover.roll_over`); this module only loads
the balances (with what finalized invoices already drew, via `ledger.commits_for`), stores the new
commits/credits and the old ledger's `*_ROLLOVER` / `*_EXPIRATION` rows. Decisions (docs/decisions.md):
the rollover happens when the renewal is created, from the balance as of then, stamped at the renewal's
start; a segment counts if it is active at that start or ends exactly there (the usual annual commit
ending with its contract); POSTPAID commits never roll over (they are trued up).

When (issue 12): once the old contract's final usage invoice is finalized, so its last period draws on
its own segments first and `rollover_fraction` applies to what that invoice left. A renewal created
before then marks the transition `rollover_pending`; finalizing that invoice (`complete_pending`, in
the finalizer's transaction) rolls over and marks it `rollover_done`. A renewal created after that
invoice is final rolls over at once.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, and_, exists, select

from tally.contracts import repository as repo
from tally.contracts.balances import ledger
from tally.contracts.terms import model, to_engine
from tally.contracts.terms.normalize import Doc
from tally.ids import new_id
from tally.models.invoices import InvoiceKind, InvoiceStatus, invoices
from tally.rating.adjustments.rollover import roll_over
from tally.rating.inputs import Commit, CommitType
from tally.rating.periods import add_months, period_containing
from tally.rating.results import LedgerEntry, LedgerEntryKind

_SUFFIX = {LedgerEntryKind.ROLLOVER: "ROLLOVER", LedgerEntryKind.EXPIRATION: "EXPIRATION"}


def entry_type(e: LedgerEntry) -> str:
    """The stored type of a rollover's entry: `PREPAID_COMMIT_ROLLOVER`, `CREDIT_EXPIRATION`..."""
    return f"{ledger.PREFIX[e.commit_type]}_{_SUFFIX[e.kind]}"


_BUMP = {CommitType.PREPAID: "commit", CommitType.CREDIT: "credit"}
# A rollover balance is a fresh grant: no invoice, and not a child or duplicate of anything.
_NOT_CARRIED = (
    "invoice_schedule",
    "uniqueness_key",
    "temporary_id",
    "recurring_commit_id",
    "recurring_credit_id",
)


def _eligible(commit: Commit, at: datetime) -> Commit:
    """Segments ending exactly at the renewal start are still unexpired then: widen them by an instant
    so the engine counts them (amounts and ids are unchanged)."""
    segs = tuple(
        replace(s, ending_before=at + timedelta(microseconds=1)) if s.ending_before == at else s
        for s in commit.access_schedule
    )
    return replace(commit, access_schedule=segs)


def _access_end(at: datetime, new_end: datetime | None) -> datetime:
    """The new balance lasts to the renewal's end, or one year when the renewal is open-ended."""
    return new_end if new_end is not None else add_months(at, 12)


def roll_over_contract(
    conn: Connection,
    tenant_id: str,
    old_contract_id: str,
    new_contract_id: str,
    customer_id: str,
    at: datetime,
    new_end: datetime | None,
    now: datetime,
) -> list[Doc]:
    """Store the old contract's rollover entries; return the new balance documents for the caller to
    insert on the new contract."""
    mine = {
        r.id: r
        for r in repo.balances_of_contracts(conn, tenant_id, [old_contract_id])
        if r.archived_at is None and r.kind in _BUMP and model.parse(r.doc, model.Balance).rollover_fraction
    }
    if not mine:
        return []
    usable = [
        c for c in ledger.commits_for(conn, tenant_id, customer_id, old_contract_id, at) if c.id in mine
    ]
    out: list[Doc] = []
    rows: list[dict[str, Any]] = []
    for c in usable:
        old = mine[c.id]
        new_id_ = new_id()
        commit = _eligible(c, at)
        result = roll_over(
            commit, at=at, new_commit_id=new_id_, access_ending_before=_access_end(at, new_end)
        )
        for e in result.ledger_entries:
            rows.append(
                {
                    "id": new_id(),
                    "tenant_id": tenant_id,
                    "customer_id": old.customer_id,
                    "contract_id": old_contract_id,
                    "balance_id": old.id,
                    "segment_id": e.segment_id,
                    "type": entry_type(e),
                    "amount": e.amount,
                    "timestamp": e.timestamp,
                    "new_contract_id": new_contract_id if e.kind is LedgerEntryKind.ROLLOVER else None,
                    "created_at": now,
                }
            )
        if result.new_commit is None:
            continue
        seg = result.new_commit.access_schedule[0]
        new_doc = {k: v for k, v in old.doc.items() if k not in _NOT_CARRIED}
        new_doc["id"] = new_id_
        new_doc["access_schedule"] = {
            **old.doc["access_schedule"],
            "schedule_items": [
                {
                    "id": new_id(),
                    "amount": seg.amount,
                    "starting_at": seg.starting_at,
                    "ending_before": seg.ending_before,
                }
            ],
        }
        new_doc["rolled_over_from"] = {"commit_id": old.id, "contract_id": old_contract_id}
        new_doc["created_at"] = at
        if result.new_commit.cost_basis is not None:
            new_doc["cost_basis"] = result.new_commit.cost_basis
        out.append(new_doc)
    if rows:
        repo.insert_entries(conn, rows)
    return out


def final_usage_end(old: Row[Any], at: datetime) -> datetime | None:
    """End of the old contract's last usage period before the renewal starts at `at` (its final usage
    invoice's issue date); None when it has no period before `at`."""
    ends = [t for t in (old.ending_before, old.archived_at, at) if t is not None]
    last = min(ends)
    if last <= old.starting_at:
        return None
    sched = to_engine.usage_statement_schedule(model.parse(old.terms, model.Terms).usage_statement_schedule)
    return period_containing(
        sched, old.starting_at, old.ending_before, last - timedelta(microseconds=1)
    ).ending_before


def final_invoice_finalized(conn: Connection, tenant_id: str, old: Row[Any], final_end: datetime) -> bool:
    """Is the old contract's USAGE invoice ending at `final_end` finalized (its live generation)?"""
    i = invoices.c
    q = select(
        exists().where(
            and_(
                i.tenant_id == tenant_id,
                i.contract_id == old.id,
                i.kind == InvoiceKind.USAGE,
                i.period_end == final_end,
                i.void_seq == 0,
                i.status == InvoiceStatus.FINALIZED,
            )
        )
    )
    return bool(conn.execute(q).scalar())
