"""Recurring commits and credits (SPEC §5.7): the templates in a contract's terms spawn one child
commit/credit per recurrence period, stored as ordinary balances so reads, balance lists, ledgers, the
invoice layer and deductions treat them like any other commit or credit.

Children are stored when the contract is written (create, amend, edit) and topped up by the billing
worker for open-ended templates; ids derive from the parent id and the period index, so materializing
again inserts only what is missing. Periods follow the usage-statement cadence, or the template's
`recurrence_frequency` anchored on its `starting_at`. A partial first/last period is prorated linearly
in time (per `proration`) and rounded per `proration_rounding` (default HALF_UP to whole minor units
for USD cents, 6 places for other credit types).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import Connection

from tally.contracts import repository as repo
from tally.contracts.terms.normalize import Doc, plain
from tally.credit_types.builtin import FIAT_BY_ID, USD_CENTS_ID
from tally.money.context import MONEY_CONTEXT
from tally.money.rounding import round_to
from tally.rating.inputs import Frequency
from tally.rating.periods import boundary, index_at
from tally.wire import as_timestamp

HORIZON = timedelta(days=400)  # open-ended templates: children up to this far past now
CUSTOM_DECIMAL_PLACES = 6  # the engine's default precision for a custom pricing unit
_CARRIED = (
    "product_id",
    "name",
    "description",
    "priority",
    "rate_type",
    "rollover_fraction",
    "applicable_product_ids",
    "applicable_product_tags",
    "specifiers",
    "netsuite_sales_order_id",
    "hierarchy_configuration",
)


def _child_id(parent_id: str, n: int, part: str = "") -> str:
    return str(uuid.uuid5(uuid.UUID(parent_id), f"{n}{part}"))


def _round(value: Decimal, rounding: Doc | None, credit_type_id: str | None) -> Decimal:
    """A prorated amount rounded with the template's proration_rounding, else to the credit type's own
    precision (whole cents for USD, the minor unit for other fiat, 6 places for custom pricing units)."""
    places = (rounding or {}).get("decimal_places")
    if places is None:
        fiat = FIAT_BY_ID.get(credit_type_id or USD_CENTS_ID)
        places = fiat.decimal_places if fiat is not None else CUSTOM_DECIMAL_PLACES
    return round_to(value, int(places), (rounding or {}).get("rounding_method", "HALF_UP"))


def _periods(
    terms: Doc, r: Doc, until: datetime
) -> Iterator[tuple[int, datetime, datetime, datetime, datetime]]:
    """(index, clipped start, clipped end, full start, full end) of each recurrence period."""
    start = max(as_timestamp(r["starting_at"]), as_timestamp(terms["starting_at"]))
    ends = [as_timestamp(x) for x in (r.get("ending_before"), terms.get("ending_before")) if x is not None]
    stop = min([*ends, until])
    if r.get("recurrence_frequency"):
        anchor, freq = as_timestamp(r["starting_at"]), Frequency(r["recurrence_frequency"])
    else:
        uss = terms["usage_statement_schedule"]
        anchor, freq = as_timestamp(uss["billing_anchor_date"]), Frequency(uss["frequency"])
    n = index_at(anchor, freq, start)
    while True:
        full_lo, full_hi = boundary(anchor, freq, n), boundary(anchor, freq, n + 1)
        lo = max(full_lo, start)
        if lo >= stop:
            return
        yield n, lo, min(full_hi, min(ends) if ends else full_hi), full_lo, full_hi
        n += 1


def children(terms: Doc, r: Doc, credit: bool, until: datetime) -> list[Doc]:
    """The child balance documents of template `r` whose periods start before `until`."""
    proration = r.get("proration", "FIRST_AND_LAST")
    duration = int(r["commit_duration"]["value"])
    ends = [as_timestamp(x) for x in (r.get("ending_before"), terms.get("ending_before")) if x is not None]
    out: list[Doc] = []
    for i, (n, lo, hi, full_lo, full_hi) in enumerate(_periods(terms, r, until)):
        first, last = i == 0 and lo > full_lo, hi < full_hi
        prorated = (first and proration in ("FIRST", "FIRST_AND_LAST")) or (
            last and proration in ("LAST", "FIRST_AND_LAST")
        )
        fraction = Decimal(1)
        if prorated:
            fraction = MONEY_CONTEXT.divide(
                Decimal(int((hi - lo).total_seconds())), Decimal(int((full_hi - full_lo).total_seconds()))
            )
        acc = r["access_amount"]
        ct = acc.get("credit_type_id")
        granted = MONEY_CONTEXT.multiply(Decimal(acc["unit_price"]), Decimal(acc.get("quantity") or 1))
        rounding = r.get("proration_rounding") or {}
        if prorated:
            granted = _round(MONEY_CONTEXT.multiply(granted, fraction), rounding.get("access"), ct)
        # Access lasts `commit_duration` periods from the child's start (on the same grid).
        access_end = _nth_end(terms, r, full_lo, n, duration)
        if ends:
            access_end = min(access_end, min(ends))
        cid = _child_id(r["id"], n)
        doc: Doc = {k: r[k] for k in _CARRIED if r.get(k) is not None}
        doc["id"] = cid
        doc["type"] = "CREDIT" if credit else "PREPAID"
        doc["access_schedule"] = {
            "access_type": acc.get("access_type", "SPEND"),
            "schedule_items": [
                {
                    "id": _child_id(r["id"], n, ":access"),
                    "amount": granted,
                    "starting_at": lo,
                    "ending_before": access_end,
                }
            ],
        }
        if ct is not None:
            doc["access_schedule"]["credit_type_id"] = ct
        doc.setdefault("rate_type", "LIST_RATE")
        doc["created_at"] = lo
        doc["recurring_credit_id" if credit else "recurring_commit_id"] = r["id"]
        doc["cost_basis"] = Decimal(0)
        inv = None if credit else r.get("invoice_amount")
        if inv is not None:
            paid = MONEY_CONTEXT.multiply(Decimal(inv["unit_price"]), Decimal(inv["quantity"]))
            if prorated:
                paid = _round(
                    MONEY_CONTEXT.multiply(paid, fraction), rounding.get("invoice"), inv["credit_type_id"]
                )
            doc["invoice_schedule"] = {
                "credit_type_id": inv["credit_type_id"],
                "schedule_items": [
                    {
                        "id": _child_id(r["id"], n, ":invoice"),
                        "timestamp": lo,
                        "amount": paid,
                        "unit_price": paid,
                        "quantity": Decimal(1),
                    }
                ],
            }
            doc["cost_basis"] = MONEY_CONTEXT.divide(paid, granted) if granted else Decimal(0)
        out.append(doc)
    return out


def _nth_end(terms: Doc, r: Doc, full_lo: datetime, n: int, duration: int) -> datetime:
    if r.get("recurrence_frequency"):
        return boundary(as_timestamp(r["starting_at"]), Frequency(r["recurrence_frequency"]), n + duration)
    uss = terms["usage_statement_schedule"]
    return boundary(as_timestamp(uss["billing_anchor_date"]), Frequency(uss["frequency"]), n + duration)


def materialize(
    conn: Connection, tenant_id: str, customer_id: str, contract_id: str, terms: Doc, now: datetime
) -> int:
    """Store the children of every recurring template of the contract that are missing; idempotent."""
    until = now + HORIZON
    wanted: list[Doc] = []
    for key, credit in (("recurring_commits", False), ("recurring_credits", True)):
        for r in terms.get(key) or []:
            wanted.extend(children(terms, r, credit, until))
    if not wanted:
        return 0
    have = {row.id for row in repo.balances_of_contracts(conn, tenant_id, [contract_id])}
    added = 0
    for doc in wanted:
        if doc["id"] in have:
            continue
        repo.insert_balance(conn, tenant_id, customer_id, contract_id, plain(doc), now)
        added += 1
    return added
