"""Discounts (SPEC §5.17 [U]): schedule items dated inside the usage period reduce that invoice.

A discount item is applied after draw-down and true-ups, as a negative line, and never takes the
invoice below zero; the part that does not fit is dropped (reported in the invoice warnings).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from tally.money import CreditType
from tally.rating.inputs import Discount
from tally.rating.periods import Period
from tally.rating.schedules import DueItem, expand


@dataclass(frozen=True, slots=True)
class DiscountDue:
    discount: Discount
    item: DueItem


def due_discounts(discounts: Sequence[Discount], period: Period, fiat: CreditType) -> list[DiscountDue]:
    out: list[DiscountDue] = []
    for d in discounts:
        for item in expand(d.schedule, d.id, fiat):
            if period.starting_at <= item.timestamp < period.ending_before:
                out.append(DiscountDue(d, item))
    return out


def capped(amount: Decimal, due: Decimal) -> Decimal:
    return max(Decimal(0), min(amount, due))
