"""SUBSCRIPTION: quantity x price per billing period, prorated by time (SPEC §5.8).

Proration [U, SPEC §12] is linear in seconds of the billing period: a partial period [a, b) of the
full period [A, B) costs price x quantity x (b - a) / (B - A). ``prorate`` splits a price over
sub-intervals with largest remainder, so the rounded pieces always sum to the full price.

Placement (Metronome, "Set up seat-based billing": charged at the beginning of the billing period; a
seat added mid-period makes a new invoice). Every charge has an issue time T:
- ARREARS period: T = the period's end; on the usage invoice whose period contains T (start
  exclusive, end inclusive).
- ADVANCE period: T = the period's start, at the quantity then. It is on the usage invoice issued at T
  (the one whose period ends at T) when there is one, else on a SCHEDULED invoice dated T (the first
  period, and billing cycles whose anchor is not on the usage-statement grid).
- ADVANCE increase inside a period, prorated for the rest of it: BILL_IMMEDIATELY, T = the change, on a
  SCHEDULED invoice dated T; BILL_ON_NEXT_COLLECTION_DATE, T = the period's end (the next collection
  date), placed like an ADVANCE period starting there. Decreases are not refunded.
- ``billing_cycle_config.invoice_placement = ON_SCHEDULED_INVOICE``: every charge on a SCHEDULED
  invoice dated T.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from tally.money.allocation import allocate
from tally.money.context import MONEY_CONTEXT, ONE, ZERO
from tally.money.rounding import round_to
from tally.rating.charges import Charge, Piece
from tally.rating.inputs import (
    CollectionSchedule,
    Contract,
    RatingInputError,
    Subscription,
)
from tally.rating.periods import Period, boundary, index_at, is_usage_period_end, schedule_anchor, utc
from tally.rating.rates import RateIndex, active_overrides, subscription_rate, unit_price
from tally.rating.results import LineType


def proration_factor(part: Period, whole: Period) -> Decimal:
    return MONEY_CONTEXT.divide(Decimal(part.seconds), Decimal(whole.seconds))


def prorate(amount: Decimal, durations: Sequence[int], decimal_places: int = 0) -> tuple[Decimal, ...]:
    """Split a (rounded) full-period ``amount`` over consecutive durations (seconds); exact sum."""
    return allocate(amount, [Decimal(d) for d in durations], decimal_places)


def quantity_at(sub: Subscription, t: datetime) -> Decimal:
    """Quantity in force at t: updates applied by date, and in the order sent on equal dates."""
    q = sub.initial_quantity
    for update in sorted(sub.quantity_updates, key=lambda u: utc(u.starting_at)):
        if utc(update.starting_at) > t:
            break
        if update.quantity is not None:
            q = update.quantity
        elif update.quantity_delta is not None:
            q = MONEY_CONTEXT.add(q, update.quantity_delta)
        if q < 0:
            raise RatingInputError(f"subscription {sub.id} quantity would become negative")
    return q


def _mul3(a: Decimal, b: Decimal, c: Decimal) -> Decimal:
    return MONEY_CONTEXT.multiply(MONEY_CONTEXT.multiply(a, b), c)


def _stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def subscription_charges(
    contract: Contract,
    index: RateIndex,
    window: Period,
    rank: int,
    sub: Subscription,
    warnings: list[str],
    *,
    scheduled: bool = False,
) -> list[Charge]:
    """Charges of ``sub`` issued in ``window``: on the usage invoice of that period (issue times in
    (start, end]), or with ``scheduled`` on SCHEDULED invoices (issue times in [start, end)); each
    charge's ``placed_at`` is its issue time."""
    product = contract.products.get(sub.product_id)
    if product is None:
        warnings.append(f"subscription {sub.id}: unknown product {sub.product_id}")
        return []
    sub_start = max(utc(sub.starting_at), utc(contract.starting_at))
    ends = [utc(e) for e in (sub.ending_before, contract.ending_before) if e is not None]
    sub_end = min(ends) if ends else None
    if sub_end is not None and sub_end <= sub_start:
        return []
    anchor = (
        utc(sub.billing_anchor_date)
        if sub.billing_anchor_date is not None
        else schedule_anchor(contract.usage_statement_schedule, contract.starting_at)
    )
    freq = sub.billing_frequency
    advance = sub.collection_schedule is CollectionSchedule.ADVANCE

    def on_usage(t: datetime, kind: str) -> bool:
        if sub.on_scheduled_invoice or kind == "immediate":
            return False
        if kind == "arrears":
            return True
        sched = contract.usage_statement_schedule
        return is_usage_period_end(sched, contract.starting_at, contract.ending_before, t)

    def wanted(t: datetime, kind: str) -> bool:
        if scheduled:
            return window.starting_at <= t < window.ending_before and not on_usage(t, kind)
        return window.starting_at < t <= window.ending_before and on_usage(t, kind)

    out: list[Charge] = []
    # Billing periods that can matter: from the one before the window start (a period ending inside the
    # window) to the one containing the window end.
    n = index_at(anchor, freq, max(window.starting_at, sub_start)) - 1
    stop = window.ending_before if sub_end is None else min(window.ending_before, sub_end)
    last = index_at(anchor, freq, stop)
    for k in range(n, last + 1):
        full = Period(boundary(anchor, freq, k), boundary(anchor, freq, k + 1))
        lo = max(full.starting_at, sub_start)
        hi = full.ending_before if sub_end is None else min(full.ending_before, sub_end)
        if hi <= lo:
            continue
        part = Period(lo, hi)
        rate = subscription_rate(index.by_product.get(product.id, ()), lo, freq)
        if rate is None:
            warnings.append(f"subscription {sub.id}: no rate for product {product.id} at {_stamp(lo)}")
            continue
        overrides = active_overrides(index.targeting(product, (), (), freq), lo)
        price = unit_price(rate, overrides, contract.multiplier_override_prioritization)
        if price is None:
            continue
        placed = lo if advance else hi
        if wanted(placed, "advance" if advance else "arrears"):
            # ADVANCE (or unprorated): the quantity at the period start, for the whole part. ARREARS,
            # prorated: one line per quantity segment, each its quantity x price x its share of the period
            # (docs/rating.md rule 29), so every line's quantity, unit price and total agree.
            if advance or not sub.is_prorated:
                segments = [(lo, hi, quantity_at(sub, lo))]
            else:
                # A segment without seats bills nothing and shows no line (unless it is the only one).
                segments = [g for g in _quantity_segments(sub, part) if g[2] != 0] or [(lo, hi, ZERO)]
            for a, b, qty in segments:
                seg = Period(a, b)
                f = proration_factor(seg, full) if sub.is_prorated else ONE
                charge = _charge(
                    contract,
                    sub,
                    product.name,
                    rate.credit_type_id,
                    seg,
                    rank,
                    price,
                    qty,
                    _mul3(qty, price, f),
                    f"subscription:{sub.id}@{_stamp(a)}",
                    f != ONE,
                )
                charge.placed_at = placed
                out.append(charge)
        if advance:
            for charge in _advance_increases(
                contract, sub, product.name, rate.credit_type_id, full, part, price, rank
            ):
                assert charge.placed_at is not None
                kind = "immediate" if sub.bill_immediately else "advance"
                if wanted(charge.placed_at, kind):
                    out.append(charge)
    for c in out:
        if sub.proration_rounding is not None and c.is_prorated:
            p = c.pieces[0]
            r = sub.proration_rounding
            p.amount = round_to(p.amount, r.decimal_places, r.rounding_method)
    return out


def _quantity_segments(sub: Subscription, part: Period) -> list[tuple[datetime, datetime, Decimal]]:
    cuts = sorted({utc(u.starting_at) for u in sub.quantity_updates if part.contains(utc(u.starting_at))})
    points = [part.starting_at, *[c for c in cuts if c > part.starting_at], part.ending_before]
    return [(a, b, quantity_at(sub, a)) for a, b in itertools.pairwise(points) if b > a]


def _advance_increases(
    contract: Contract,
    sub: Subscription,
    name: str,
    credit_type_id: str | None,
    full: Period,
    part: Period,
    price: Decimal,
    rank: int,
) -> list[Charge]:
    """Every increase inside ``part``, prorated for the rest of it, with its issue time."""
    out: list[Charge] = []
    segments = _quantity_segments(sub, part)
    for (_, _, before), (a, _b, q) in itertools.pairwise(segments):
        delta = MONEY_CONTEXT.subtract(q, before)
        if delta <= 0:
            continue
        rest = Period(a, part.ending_before)
        f = proration_factor(rest, full) if sub.is_prorated else ONE
        amount = MONEY_CONTEXT.multiply(MONEY_CONTEXT.multiply(delta, price), f)
        charge = _charge(
            contract,
            sub,
            name,
            credit_type_id,
            rest,
            rank,
            price,
            delta,
            amount,
            f"subscription:{sub.id}:increase@{_stamp(a)}",
            f != ONE,
        )
        charge.placed_at = a if sub.bill_immediately else part.ending_before
        out.append(charge)
    return out


def _charge(
    contract: Contract,
    sub: Subscription,
    name: str,
    credit_type_id: str | None,
    part: Period,
    rank: int,
    price: Decimal,
    quantity: Decimal,
    amount: Decimal,
    key: str,
    prorated: bool,
) -> Charge:
    return Charge(
        key=key,
        type=LineType.SUBSCRIPTION,
        name=sub.name or name,
        credit_type_id=credit_type_id or contract.rate_card.fiat_credit_type.id,
        starting_at=part.starting_at,
        ending_before=part.ending_before,
        product=contract.products[sub.product_id],
        pieces=[Piece(part.starting_at, quantity, amount)],
        unit_price=price,
        subscription_id=sub.id,
        is_prorated=prorated,
        sort_rank=(rank, 1, key),
    )
