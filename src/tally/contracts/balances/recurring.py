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
from tally.contracts.terms import model
from tally.contracts.terms.model import plain
from tally.contracts.terms.normalize import Doc
from tally.credit_types.builtin import FIAT_BY_ID, USD_CENTS_ID
from tally.money.context import MONEY_CONTEXT
from tally.money.rounding import round_to
from tally.rating.inputs import AccessType, CommitType, Frequency
from tally.rating.periods import boundary, index_at

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


def _round(value: Decimal, rounding: model.Rounding | None, credit_type_id: str | None) -> Decimal:
    """A prorated amount rounded with the template's proration_rounding, else to the credit type's own
    precision (whole cents for USD, the minor unit for other fiat, 6 places for custom pricing units)."""
    if rounding is not None:
        return round_to(value, int(rounding.decimal_places), rounding.rounding_method)
    fiat = FIAT_BY_ID.get(credit_type_id or USD_CENTS_ID)
    return round_to(value, fiat.decimal_places if fiat is not None else CUSTOM_DECIMAL_PLACES, "HALF_UP")


def _grid(terms: model.Terms, r: model.Recurring) -> tuple[datetime, Frequency]:
    """The anchor and frequency of the template's periods: its own, else the usage statements'."""
    if r.recurrence_frequency is not None:
        return r.starting_at, r.recurrence_frequency
    uss = terms.usage_statement_schedule
    assert uss.billing_anchor_date is not None  # set when the contract is created
    return uss.billing_anchor_date, uss.frequency


def _ends(terms: model.Terms, r: model.Recurring) -> list[datetime]:
    return [x for x in (r.ending_before, terms.ending_before) if x is not None]


def _periods(
    terms: model.Terms, r: model.Recurring, until: datetime
) -> Iterator[tuple[int, datetime, datetime, datetime, datetime]]:
    """(index, clipped start, clipped end, full start, full end) of each recurrence period."""
    start = max(r.starting_at, terms.starting_at)
    ends = _ends(terms, r)
    stop = min([*ends, until])
    anchor, freq = _grid(terms, r)
    n = index_at(anchor, freq, start)
    while True:
        full_lo, full_hi = boundary(anchor, freq, n), boundary(anchor, freq, n + 1)
        lo = max(full_lo, start)
        if lo >= stop:
            return
        yield n, lo, min(full_hi, min(ends) if ends else full_hi), full_lo, full_hi
        n += 1


def children(terms: model.Terms, r: model.Recurring, credit: bool, until: datetime) -> list[Doc]:
    """The child balance documents of template `r` whose periods start before `until`."""
    proration = r.proration
    duration = int(r.commit_duration.value)
    ends = _ends(terms, r)
    anchor, freq = _grid(terms, r)
    first_prorated = proration in (model.Proration.FIRST, model.Proration.FIRST_AND_LAST)
    last_prorated = proration in (model.Proration.LAST, model.Proration.FIRST_AND_LAST)
    rounding = r.proration_rounding or model.ProrationRounding()
    acc = r.access_amount
    ct = acc.credit_type_id
    out: list[Doc] = []
    for i, (n, lo, hi, full_lo, full_hi) in enumerate(_periods(terms, r, until)):
        first, last = i == 0 and lo > full_lo, hi < full_hi
        prorated = (first and first_prorated) or (last and last_prorated)
        fraction = Decimal(1)
        if prorated:
            fraction = MONEY_CONTEXT.divide(
                Decimal(int((hi - lo).total_seconds())), Decimal(int((full_hi - full_lo).total_seconds()))
            )
        granted = MONEY_CONTEXT.multiply(acc.unit_price, acc.quantity or Decimal(1))
        if prorated:
            granted = _round(MONEY_CONTEXT.multiply(granted, fraction), rounding.access, ct)
        # Access lasts `commit_duration` periods from the child's start (on the same grid).
        access_end = boundary(anchor, freq, n + duration)
        if ends:
            access_end = min(access_end, min(ends))
        doc: Doc = model.pick(r, _CARRIED)
        doc["id"] = _child_id(r.id, n)
        doc["type"] = CommitType.CREDIT if credit else CommitType.PREPAID
        doc["access_schedule"] = {
            "access_type": acc.access_type or AccessType.SPEND,
            "schedule_items": [
                {
                    "id": _child_id(r.id, n, ":access"),
                    "amount": granted,
                    "starting_at": lo,
                    "ending_before": access_end,
                }
            ],
        }
        if ct is not None:
            doc["access_schedule"]["credit_type_id"] = ct
        doc["created_at"] = lo
        doc["recurring_credit_id" if credit else "recurring_commit_id"] = r.id
        doc["cost_basis"] = Decimal(0)
        inv = None if credit else r.invoice_amount
        if inv is not None:
            paid = MONEY_CONTEXT.multiply(inv.unit_price, inv.quantity)
            if prorated:
                paid = _round(MONEY_CONTEXT.multiply(paid, fraction), rounding.invoice, inv.credit_type_id)
            doc["invoice_schedule"] = {
                "credit_type_id": inv.credit_type_id,
                "schedule_items": [
                    {
                        "id": _child_id(r.id, n, ":invoice"),
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


def materialize(
    conn: Connection, tenant_id: str, customer_id: str, contract_id: str, terms: Doc, now: datetime
) -> int:
    """Store the children of every recurring template of the contract that are missing; idempotent."""
    until = now + HORIZON
    typed = model.parse(plain(terms), model.Terms)
    wanted: list[Doc] = []
    for templates, credit in ((typed.recurring_commits, False), (typed.recurring_credits, True)):
        for r in templates:
            wanted.extend(children(typed, r, credit, until))
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
