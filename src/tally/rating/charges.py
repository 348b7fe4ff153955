"""Working values of one rating run: charges under construction, before rounding.

These are mutable on purpose and never leave the engine; the engine turns them into frozen
``InvoiceLine`` values at the rounding step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from tally.money.context import ZERO
from tally.rating.inputs import NO_GROUP, GroupValues, Product, Rate
from tally.rating.rates import IndexedOverride
from tally.rating.results import LineType


def gv_key(values: GroupValues) -> str:
    return ",".join(f"{k}={'' if v is None else v}" for k, v in values)


@dataclass(slots=True)
class Piece:
    """Part of a charge stamped at one instant: what balances active at that instant may draw down."""

    time: datetime
    quantity: Decimal
    amount: Decimal  # list-rate amount
    c0: Decimal = ZERO  # cumulative period quantity before this piece (tiered repricing)
    rate: Rate | None = None
    overrides: tuple[IndexedOverride, ...] = ()
    covered: Decimal = ZERO  # fraction of the piece paid by balances, 0..1
    repriced_quantity: Decimal = ZERO  # quantity paid by balances at a different (commit) rate
    repriced_amount: Decimal = ZERO
    repriced_list_amount: Decimal = ZERO
    balance_window: int = 0  # index between balance-segment boundaries (pieces merge only within one)


@dataclass(slots=True)
class TierAcc:
    quantity: Decimal = ZERO
    subtotal: Decimal = ZERO


@dataclass(slots=True)
class Charge:
    key: str
    type: LineType
    name: str
    credit_type_id: str
    starting_at: datetime
    ending_before: datetime
    product: Product | None = None
    pricing_group_values: GroupValues = NO_GROUP
    presentation_group_values: GroupValues = NO_GROUP
    pieces: list[Piece] = field(default_factory=list)
    unit_price: Decimal | None = None
    tiers: dict[tuple[Decimal, Decimal], TierAcc] = field(default_factory=dict)
    subscription_id: str | None = None
    scheduled_charge_id: str | None = None
    is_prorated: bool | None = None
    #: may balances draw this charge down (usage, subscription, composite, cpu conversion)
    drawable: bool = True
    sort_rank: tuple[int, int, str] = (0, 0, "")
    #: subscriptions: when the charge is invoiced (the issue date of the invoice that carries it)
    placed_at: datetime | None = None

    @property
    def quantity(self) -> Decimal:
        acc = ZERO
        for p in self.pieces:
            acc += p.quantity
        return acc

    @property
    def amount(self) -> Decimal:
        acc = ZERO
        for p in self.pieces:
            acc += p.amount
        return acc
