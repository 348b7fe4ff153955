"""Invoice schedules and scheduled charges: items, and recurring schedules expanded into items.

``amount_distribution`` [U, SPEC §5.4]: EACH = the amount on every occurrence; DIVIDED = amount / n
(fractional minor units kept exact); DIVIDED_ROUNDED = amount / n rounded to whole units of the credit
type with the remainder on the last occurrence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from tally.money import CreditType
from tally.money.context import MONEY_CONTEXT
from tally.money.rounding import RoundingMode, round_to
from tally.rating.inputs import AmountDistribution, RatingInputError, Schedule, ScheduleItem
from tally.rating.periods import boundary, utc


@dataclass(frozen=True, slots=True)
class DueItem:
    id: str
    timestamp: datetime
    amount: Decimal
    quantity: Decimal
    unit_price: Decimal


def _item_amount(amount: Decimal | None, unit_price: Decimal | None, quantity: Decimal | None) -> Decimal:
    if amount is not None:
        return amount
    if unit_price is None:
        raise RatingInputError("a schedule item needs amount or unit_price")
    return MONEY_CONTEXT.multiply(unit_price, quantity if quantity is not None else Decimal(1))


def expand(schedule: Schedule, owner_id: str, credit_type: CreditType) -> list[DueItem]:
    items: list[DueItem] = []
    for i, item in enumerate(schedule.schedule_items):
        items.append(_due(item, owner_id, i))
    rec = schedule.recurring_schedule
    if rec is not None:
        start, end = utc(rec.starting_at), utc(rec.ending_before)
        stamps: list[datetime] = []
        n = 0
        while (t := boundary(start, rec.frequency, n)) < end:
            stamps.append(t)
            n += 1
        whole = _item_amount(rec.amount, rec.unit_price, rec.quantity)
        if rec.amount_distribution is AmountDistribution.EACH or not stamps:
            amounts = [whole] * len(stamps)
        else:
            share = MONEY_CONTEXT.divide(whole, Decimal(len(stamps)))
            if rec.amount_distribution is AmountDistribution.DIVIDED_ROUNDED:
                share = round_to(share, credit_type.decimal_places, RoundingMode.ROUND_DOWN)
                last = MONEY_CONTEXT.subtract(whole, MONEY_CONTEXT.multiply(share, Decimal(len(stamps) - 1)))
                amounts = [share] * (len(stamps) - 1) + [last]
            else:
                amounts = [share] * len(stamps)
        for j, (t, amount) in enumerate(zip(stamps, amounts, strict=True)):
            items.append(DueItem(f"{owner_id}:r{j}", t, amount, Decimal(1), amount))
    return items


def _due(item: ScheduleItem, owner_id: str, i: int) -> DueItem:
    amount = _item_amount(item.amount, item.unit_price, item.quantity)
    quantity = item.quantity if item.amount is None and item.quantity is not None else Decimal(1)
    unit_price = item.unit_price if item.amount is None and item.unit_price is not None else amount
    return DueItem(item.id or f"{owner_id}:{i}", utc(item.timestamp), amount, quantity, unit_price)
