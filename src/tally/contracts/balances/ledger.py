"""Balance ledgers (SPEC §7): derived from the grant (access schedule) plus append-only ledger rows.

Segment starts (and a POSTPAID commit's initial balance) are implied by the access schedule, and
expirations by time, so neither is stored: a ledger read synthesizes them, and edits to a schedule are
reflected without rewriting history. Everything else (invoice deductions, manual entries, rollovers) is a
stored, never-updated row. A segment's balance is the sum of its entries, clamped at 0; it counts only
while the segment is active (and the balance not archived).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Row

from tally.contracts import repository as repo
from tally.contracts.terms import model, to_engine
from tally.ids import new_id
from tally.money.context import add
from tally.money.context import total as money_total
from tally.rating import inputs as ri
from tally.rating.inputs import CommitType
from tally.wire import format_timestamp, parse_timestamp

ZERO = Decimal(0)
PREFIX = {
    CommitType.PREPAID: "PREPAID_COMMIT",
    CommitType.POSTPAID: "POSTPAID_COMMIT",
    CommitType.CREDIT: "CREDIT",
}


@dataclass(frozen=True)
class Entry:
    type: str
    amount: Decimal
    timestamp: datetime
    segment_id: str | None
    invoice_id: str | None = None
    contract_id: str | None = None
    reason: str | None = None
    new_contract_id: str | None = None

    @classmethod
    def of(cls, row: Row[Any]) -> Entry:
        return cls(
            row.type,
            row.amount,
            row.timestamp,
            row.segment_id,
            row.invoice_id,
            row.contract_id,
            row.reason,
            row.new_contract_id,
        )

    def to_wire(self, kind: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": self.type,
            "amount": self.amount,
            "timestamp": format_timestamp(self.timestamp),
        }
        # The SDK's POSTPAID initial/true-up/expiration and every *_MANUAL entry carry no segment_id.
        if self.segment_id is not None and not self.type.endswith("_MANUAL") and self.type not in _NO_SEGMENT:
            out["segment_id"] = self.segment_id
        for key in ("invoice_id", "reason", "new_contract_id"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.type.endswith("_MANUAL") and self.reason is None:
            out["reason"] = ""
        if self.contract_id is not None and self.type in _WITH_CONTRACT:
            out["contract_id"] = self.contract_id
        return out


_NO_SEGMENT = {"POSTPAID_COMMIT_INITIAL_BALANCE", "POSTPAID_COMMIT_TRUEUP", "POSTPAID_COMMIT_EXPIRATION"}
_WITH_CONTRACT = {
    "PREPAID_COMMIT_AUTOMATED_INVOICE_DEDUCTION",
    "PREPAID_COMMIT_CANCELED",
    "PREPAID_COMMIT_CREDITED",
    "POSTPAID_COMMIT_AUTOMATED_INVOICE_DEDUCTION",
    "POSTPAID_COMMIT_TRUEUP",
    "CREDIT_AUTOMATED_INVOICE_DEDUCTION",
    "CREDIT_CANCELED",
    "CREDIT_CREDITED",
}


@dataclass(frozen=True)
class Segment:
    id: str
    amount: Decimal
    starting_at: datetime
    ending_before: datetime


def segments(doc: dict[str, Any]) -> list[Segment]:
    return [
        Segment(
            s["id"],
            Decimal(s["amount"]),
            parse_timestamp(s["starting_at"], "starting_at"),
            parse_timestamp(s["ending_before"], "ending_before"),
        )
        for s in doc["access_schedule"]["schedule_items"]
    ]


def entries_by_balance(
    conn: Connection, tenant_id: str, balance_ids: Iterable[str]
) -> dict[str, list[Entry]]:
    out: dict[str, list[Entry]] = defaultdict(list)
    for row in repo.entries_of(conn, tenant_id, list(dict.fromkeys(balance_ids))):
        out[row.balance_id].append(Entry.of(row))
    return out


@dataclass
class Known:
    """Balance rows (by customer) and their stored entries (by balance), read for a batch of customers in
    two queries. A customer missing from `rows` was not read: callers fall back to the database."""

    rows: dict[str, list[Row[Any]]]
    entries: dict[str, list[Entry]]

    def row(self, balance_id: str) -> Row[Any] | None:
        for rows in self.rows.values():
            for r in rows:
                if r.id == balance_id:
                    return r
        return None

    def drop(self, customer_id: str) -> None:
        """Forget a customer whose balances or entries changed in this transaction."""
        for r in self.rows.pop(customer_id, []):
            self.entries.pop(r.id, None)


def prefetch(conn: Connection, tenant_id: str, customer_ids: list[str], *, lock: bool = False) -> Known:
    """The balances of `customer_ids` and their entries. With `lock`, the balance rows are locked (in id
    order, so concurrent batches wait rather than deadlock) until the transaction ends: a finalizer draws
    on them, and a second worker finalizing another contract of the same customer must see the first's
    deductions before it rates (a customer-level commit is shared by its contracts)."""
    rows = repo.balances_of_customers(conn, tenant_id, customer_ids, lock=lock)
    by_customer: dict[str, list[Row[Any]]] = {cid: [] for cid in customer_ids}
    for r in rows:
        by_customer[r.customer_id].append(r)
    entries = entries_by_balance(conn, tenant_id, [r.id for r in rows])
    return Known(by_customer, dict(entries))


def _end(seg: Segment, archived_at: datetime | None) -> datetime:
    return seg.ending_before if archived_at is None else min(seg.ending_before, archived_at)


def _live(seg: Segment, archived_at: datetime | None) -> bool:
    """A segment that started before the balance was archived ever existed."""
    return archived_at is None or seg.starting_at < archived_at


def segment_balance(seg: Segment, entries: list[Entry]) -> Decimal:
    """Granted amount plus every stored entry on the segment (future-dated manual entries included), ≥ 0."""
    total = add(seg.amount, money_total(e.amount for e in entries if e.segment_id == seg.id))
    return max(total, ZERO)


def ledger(
    kind: CommitType, doc: dict[str, Any], entries: list[Entry], archived_at: datetime | None, now: datetime
) -> list[Entry]:
    """The full ledger as of `now`: starts, stored entries, and expirations of segments that have ended."""
    prefix = PREFIX[kind]
    out: list[Entry] = []
    for seg in segments(doc):
        if not _live(seg, archived_at) or seg.starting_at > now:
            continue
        start_type = (
            "POSTPAID_COMMIT_INITIAL_BALANCE" if kind == CommitType.POSTPAID else f"{prefix}_SEGMENT_START"
        )
        out.append(Entry(start_type, seg.amount, seg.starting_at, seg.id))
        end = _end(seg, archived_at)
        if end <= now:
            left = segment_balance(seg, entries)
            if left > 0:
                out.append(Entry(f"{prefix}_EXPIRATION", -left, end, seg.id))
    out.extend(entries)
    return sorted(out, key=lambda e: (e.timestamp, _ORDER.get(e.type.rsplit("_", 1)[-1], 1)))


_ORDER = {"START": 0, "BALANCE": 0, "EXPIRATION": 2}


def balance_at(
    doc: dict[str, Any], entries: list[Entry], archived_at: datetime | None, at: datetime
) -> Decimal:
    """What is usable at `at`: segments active then (not expired, started, not archived), each ≥ 0."""
    total = ZERO
    for seg in segments(doc):
        if not _live(seg, archived_at):
            continue
        if seg.starting_at <= at < _end(seg, archived_at):
            total += segment_balance(seg, entries)
    return total


# ------------------------------------------------------------------------------ invoice interface


@dataclass(frozen=True)
class Deduction:
    """What one invoice drew from one segment. `amount` is positive (it is stored negated).
    `trueup`: a postpaid commit's shortfall billed by this invoice (`POSTPAID_COMMIT_TRUEUP`); its
    segment is the commit's only one when `segment_id` is None."""

    balance_id: str
    segment_id: str | None
    amount: Decimal
    timestamp: datetime  # the end of the invoice's service period (SPEC §7.1)
    invoice_id: str
    contract_id: str | None = None
    trueup: bool = False


def record_deductions(
    conn: Connection,
    tenant_id: str,
    deductions: list[Deduction],
    now: datetime,
    known: Known | None = None,
) -> None:
    """Append invoice deductions (call at finalization, in the finalizing transaction). `known`: balance
    rows already read in this transaction."""
    if not deductions:
        return
    rows = []
    for d in deductions:
        found = known.row(d.balance_id) if known is not None else None
        if found is None:
            found = repo.get_balance(conn, tenant_id, d.balance_id)
        if found is None:
            raise ValueError(f"unknown balance {d.balance_id}")
        if d.amount < 0:
            raise ValueError("a deduction amount is positive")
        if d.trueup and found.kind != CommitType.POSTPAID:
            raise ValueError(f"a true-up is for a POSTPAID commit, not {found.kind}")
        # Stored on the segment so the segment's balance drops to 0 and no expiration follows.
        segment_id = d.segment_id or segments(found.doc)[0].id
        kind = "TRUEUP" if d.trueup else "AUTOMATED_INVOICE_DEDUCTION"
        rows.append(
            {
                "id": new_id(),
                "tenant_id": tenant_id,
                "customer_id": found.customer_id,
                "contract_id": d.contract_id or found.contract_id,
                "balance_id": d.balance_id,
                "segment_id": segment_id,
                "type": f"{PREFIX[found.kind]}_{kind}",
                "amount": -d.amount,
                "timestamp": d.timestamp,
                "invoice_id": d.invoice_id,
                "created_at": now,
            }
        )
    repo.insert_entries(conn, rows)


def _usable(
    conn: Connection,
    tenant_id: str,
    customer_id: str,
    contract_id: str,
    at: datetime,
    known: Known | None,
) -> list[tuple[Row[Any], list[tuple[Decimal, Decimal]]]]:
    """The balance rows usable by `contract_id`, each with its segments' (amount, consumed): `amount` is
    the grant plus manual adjustments, `consumed` what stored entries already took. Expired, archived and
    other contracts' balances are excluded; `at` decides archival. `known`: what `prefetch` read in this
    transaction, used when it covers the customer."""
    cached = known.rows.get(customer_id) if known is not None else None
    rows = [
        r
        for r in (cached if cached is not None else repo.balances_of_customer(conn, tenant_id, customer_id))
        if (
            r.contract_id == contract_id
            or (
                r.contract_id is None
                and contract_id in (r.doc.get("applicable_contract_ids") or [contract_id])
            )
        )
        and (r.archived_at is None or r.archived_at > at)
    ]
    if cached is not None and known is not None:
        entries = {r.id: known.entries.get(r.id, []) for r in rows}
    else:
        entries = entries_by_balance(conn, tenant_id, [r.id for r in rows])
    out = []
    for r in rows:
        amounts = []
        for seg in segments(r.doc):
            mine = [e for e in entries.get(r.id, []) if e.segment_id == seg.id]
            added = money_total(e.amount for e in mine if e.type.endswith("_MANUAL") and e.amount > 0)
            taken = -money_total(e.amount for e in mine if not (e.type.endswith("_MANUAL") and e.amount > 0))
            granted = seg.amount + added
            amounts.append((granted, min(max(taken, ZERO), granted)))
        out.append((r, amounts))
    return out


def commits_for(
    conn: Connection,
    tenant_id: str,
    customer_id: str,
    contract_id: str,
    at: datetime,
    known: Known | None = None,
) -> list[ri.Commit]:
    """The commits and credits usable by `contract_id` (see `_usable`) as the rating engine's values."""
    return [
        to_engine.commit(
            model.parse(r.doc, model.Balance),
            CommitType(r.kind),
            amounts,
            customer_level=r.contract_id is None,
        )
        for r, amounts in _usable(conn, tenant_id, customer_id, contract_id, at, known)
    ]


def balances_for(
    conn: Connection, tenant_id: str, customer_id: str, contract_id: str, at: datetime
) -> list[dict[str, Any]]:
    """The commits and credits usable by `contract_id` (see `_usable`) as `rating.from_wire` commit
    documents whose segments carry `consumed` and `amount`. Only tests read it now (they check
    `commits_for` and the ledger against `rating.from_wire`); production code uses `commits_for`."""
    out = []
    for r, amounts in _usable(conn, tenant_id, customer_id, contract_id, at, None):
        doc = dict(r.doc)
        items = [
            {**raw, "amount": granted, "consumed": consumed}
            for raw, (granted, consumed) in zip(
                doc["access_schedule"]["schedule_items"], amounts, strict=True
            )
        ]
        doc["access_schedule"] = {**doc["access_schedule"], "schedule_items": items}
        if r.contract_id is None:
            doc["applicable_contract_ids"] = doc.get("applicable_contract_ids") or []
        doc["type"] = r.kind
        out.append(doc)
    return out


def release_invoice(
    conn: Connection, tenant_id: str, invoice_id: str, balance_ids: Iterable[str], now: datetime
) -> None:
    """Give back what a voided invoice drew (SPEC §6.9 [I]): one `*_CREDITED` entry per deduction or
    true-up it wrote (postpaid commits have no CREDITED type, so a `POSTPAID_COMMIT_MANUAL` entry says
    why)."""
    rows = []
    for row in repo.entries_of(conn, tenant_id, list(dict.fromkeys(balance_ids))):
        released = row.type.endswith("_AUTOMATED_INVOICE_DEDUCTION") or row.type == "POSTPAID_COMMIT_TRUEUP"
        if row.invoice_id != invoice_id or not released:
            continue
        prefix = row.type.removesuffix("_AUTOMATED_INVOICE_DEDUCTION").removesuffix("_TRUEUP")
        postpaid = prefix == "POSTPAID_COMMIT"
        rows.append(
            {
                "id": new_id(),
                "tenant_id": tenant_id,
                "customer_id": row.customer_id,
                "contract_id": row.contract_id,
                "balance_id": row.balance_id,
                "segment_id": row.segment_id,
                "type": f"{prefix}_MANUAL" if postpaid else f"{prefix}_CREDITED",
                "amount": -row.amount,
                "timestamp": now,
                "invoice_id": None if postpaid else invoice_id,
                "reason": f"invoice {invoice_id} voided" if postpaid else None,
                "created_at": now,
            }
        )
    if rows:
        repo.insert_entries(conn, rows)
