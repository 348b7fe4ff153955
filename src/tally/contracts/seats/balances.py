"""Per-seat balances (SPEC §5.8): each seat ever assigned on the contract's SEAT_BASED subscriptions,
with the prepaid commits and credits scoped to it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection

from tally.contracts.balances import ledger
from tally.contracts.balances.service import visible
from tally.contracts.seats.replay import SEAT_BASED, Doc, timeline
from tally.contracts.seats.schemas import ListSeatBalances
from tally.contracts.service import Balance, Contract
from tally.contracts.service import get as get_contract
from tally.errors import BadRequest
from tally.kit.pagination import decode_key, encode_cursor
from tally.money.context import ZERO, add, total
from tally.wire import format_timestamp

NULL_CREDIT_TYPE = "00000000-0000-0000-0000-000000000000"
MAX_BALANCES_PER_PAGE = 100


def _pins(doc: Doc) -> set[tuple[str, str]]:
    """(group key, value) pairs that every specifier of a balance requires: usage carrying another
    value for that key can never draw it. No specifiers = nothing pinned."""
    specs = doc.get("specifiers") or []
    if not specs or doc.get("applicable_product_ids") or doc.get("applicable_product_tags"):
        return set()
    pinned: set[tuple[str, str]] | None = None
    for sp in specs:
        pairs = {
            *(sp.get("pricing_group_values") or {}).items(),
            *(sp.get("presentation_group_values") or {}).items(),
        }
        pinned = pairs if pinned is None else pinned & pairs
    return pinned or set()


_LEDGER_TYPES = {
    "PREPAID": {
        "PREPAID_COMMIT_SEGMENT_START",
        "PREPAID_COMMIT_AUTOMATED_INVOICE_DEDUCTION",
        "PREPAID_COMMIT_ROLLOVER",
        "PREPAID_COMMIT_EXPIRATION",
        "PREPAID_COMMIT_CANCELED",
        "PREPAID_COMMIT_CREDITED",
        "PREPAID_COMMIT_MANUAL",
        "PREPAID_COMMIT_SEAT_BASED_ADJUSTMENT",
    },
    "CREDIT": {
        "CREDIT_SEGMENT_START",
        "CREDIT_AUTOMATED_INVOICE_DEDUCTION",
        "CREDIT_EXPIRATION",
        "CREDIT_CANCELED",
        "CREDIT_CREDITED",
        "CREDIT_MANUAL",
        "CREDIT_SEAT_BASED_ADJUSTMENT",
        "CREDIT_ROLLOVER",
    },
}


@dataclass(frozen=True)
class _Seat:
    seat_id: str
    keys: frozenset[str]


def _seats(c: Contract, req: ListSeatBalances) -> list[_Seat]:
    subs = list(c.terms.get("subscriptions") or [])
    if req.subscription_ids:
        chosen = []
        for i, sid in enumerate(req.subscription_ids):
            found = [s for s in subs if s["id"] == sid]
            if not found:
                raise BadRequest(f"subscription_ids[{i}]: subscription {sid} is not on this contract")
            if found[0].get("quantity_management_mode") != SEAT_BASED:
                raise BadRequest(f"subscription_ids[{i}]: subscription {sid} is not SEAT_BASED")
            chosen.append(found[0])
    else:
        chosen = [s for s in subs if s.get("quantity_management_mode") == SEAT_BASED]
    keys: dict[str, set[str]] = {}
    for s in chosen:
        key = s["seat_config"]["seat_group_key"]
        for seg in timeline(s):
            for x in seg.assigned:
                keys.setdefault(x, set()).add(key)
    if req.seat_ids:
        for i, x in enumerate(req.seat_ids):
            if x not in keys and not req.skip_missing_seat_ids:
                raise BadRequest(
                    f"seat_ids[{i}]: seat {x} is not on this contract's seat-based subscriptions"
                )
        wanted = set(req.seat_ids)
        keys = {x: k for x, k in keys.items() if x in wanted}
    return [_Seat(x, frozenset(keys[x])) for x in sorted(keys)]


def _balance_item(b: Balance, entries: list[ledger.Entry], at: datetime, now: datetime, ledgers: bool) -> Doc:
    segs = ledger.segments(b.doc)
    access = b.doc["access_schedule"].get("access_type", "SPEND")
    item: Doc = {
        "id": b.id,
        "balance": ledger.balance_at(b.doc, entries, b.archived_at, at),
        "start_date": format_timestamp(min(g.starting_at for g in segs)),
        "end_date": format_timestamp(max(g.ending_before for g in segs)),
        "access_type": access,
        "credit_type_id": b.doc["access_schedule"].get("credit_type_id") or NULL_CREDIT_TYPE,
    }
    if ledgers:
        allowed = _LEDGER_TYPES[b.kind]
        item["ledger_entries"] = [
            {"amount": e.amount, "timestamp": format_timestamp(e.timestamp), "type": e.type}
            for e in ledger.ledger(b.kind, b.doc, entries, b.archived_at, now)
            if e.type in allowed
        ]
    return item


def _starting(b: Balance, at: datetime) -> Decimal:
    return total(g.amount for g in ledger.segments(b.doc) if g.starting_at <= at < g.ending_before)


def seat_balances(
    conn: Connection, tenant_id: str, req: ListSeatBalances, limit: int, now: datetime
) -> tuple[list[Doc], Doc]:
    """Each seat ever assigned on the contract's SEAT_BASED subscriptions (by seat id), with the
    contract's prepaid commits and credits scoped to that seat: those whose every specifier pins the
    subscription's seat_group_key to the seat id (usage of other seats can never draw them)."""
    if req.covering_date is not None and (req.starting_at is not None or req.effective_before is not None):
        raise BadRequest("covering_date: cannot be combined with starting_at or effective_before")
    c = get_contract(conn, tenant_id, req.customer_id, req.contract_id)
    seats = _seats(c, req)
    after = decode_key(req.cursor, str)
    if after is not None:
        seats = [x for x in seats if x.seat_id > after[0]]
    at = req.covering_date or now
    pool = [
        b
        for b in c.balances
        if b.kind in _LEDGER_TYPES
        and (b.archived_at is None or b.archived_at > at)
        and visible(b, req.covering_date, req.starting_at, req.effective_before)
    ]
    pins = {b.id: _pins(b.doc) for b in pool}
    entries = ledger.entries_by_balance(conn, tenant_id, [b.id for b in pool])
    detailed = bool(req.include_credits_and_commits)
    out: list[Doc] = []
    listed = 0
    for seat in seats:
        if len(out) >= limit or (detailed and out and listed >= MAX_BALANCES_PER_PAGE):
            break
        mine = [b for b in pool if any((k, seat.seat_id) in pins[b.id] for k in seat.keys)]
        sums: dict[tuple[str, str], tuple[Decimal, Decimal]] = {}
        for b in mine:
            acc = b.doc["access_schedule"]
            key = (acc.get("credit_type_id") or NULL_CREDIT_TYPE, acc.get("access_type", "SPEND"))
            bal, start = sums.get(key, (ZERO, ZERO))
            sums[key] = (
                add(bal, ledger.balance_at(b.doc, entries[b.id], b.archived_at, at)),
                add(start, _starting(b, at)),
            )
        item: Doc = {
            "seat_id": seat.seat_id,
            "balances": [
                {"credit_type_id": ct, "access_type": access, "balance": bal, "starting_balance": start}
                for (ct, access), (bal, start) in sorted(sums.items())
            ],
        }
        if detailed:
            ledgers = bool(req.include_ledgers)
            item["commits"] = [
                _balance_item(b, entries[b.id], at, now, ledgers) for b in mine if b.kind == "PREPAID"
            ]
            item["credits"] = [
                _balance_item(b, entries[b.id], at, now, ledgers) for b in mine if b.kind == "CREDIT"
            ]
            listed += len(mine)
        out.append(item)
    rest = len(seats) - len(out)
    pagination: Doc = {
        "seats_included": len(out),
        "seats_available_for_next_page": rest,
        "next_page": encode_cursor([out[-1]["seat_id"]]) if rest > 0 and out else None,
    }
    return out, pagination
