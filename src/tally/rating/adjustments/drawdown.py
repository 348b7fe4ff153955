"""Commit and credit draw-down (SPEC §5.4-5.6, §6.4 step 7-8, §6.5).

Balances are taken one access segment at a time in the §6.5 order; each segment pays the eligible
charges in invoice-line order [U: Metronome's line order is not retrievable], and within a charge the
pieces stamped inside the segment's access window, earliest first. A COMMIT_RATE balance re-prices
the share of a piece it pays at the rate's commit_rate (list rate when there is none); commit-specific
overrides apply only to shares paid by a balance. Balances never go below zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from tally.money import USD_CENTS_ID
from tally.money.context import MONEY_CONTEXT, ONE, ZERO
from tally.rating.charges import Charge, Piece
from tally.rating.inputs import (
    AccessSegment,
    AccessType,
    BalanceRateType,
    Commit,
    CommitType,
    Contract,
    Prioritization,
    Product,
)
from tally.rating.periods import utc
from tally.rating.prices.curve import charge
from tally.rating.rates import price_curve, specifier_matches

_INF = Decimal("Infinity")


def commit_applies(commit: Commit, product: Product | None, charge_line: Charge | None = None) -> bool:
    """SPEC §5.6: no restriction = all products; ids/tags = any match; specifiers = OR of ANDs."""
    restricted = commit.applicable_product_ids or commit.applicable_product_tags or commit.specifiers
    if not restricted:
        return True
    if product is None:
        return False
    if commit.specifiers:
        pgv = charge_line.pricing_group_values if charge_line else ()
        prgv = charge_line.presentation_group_values if charge_line else ()
        return any(specifier_matches(s, product, pgv, prgv, None) for s in commit.specifiers)
    return product.id in commit.applicable_product_ids or any(
        t in product.tags for t in commit.applicable_product_tags
    )


def cost_basis(commit: Commit) -> Decimal:
    if commit.cost_basis is not None:
        return commit.cost_basis
    if commit.type is CommitType.CREDIT or commit.invoice_schedule is None:
        return ZERO
    if commit.type is CommitType.POSTPAID:
        return ONE
    granted = sum((s.amount for s in commit.access_schedule), ZERO)
    paid = ZERO
    for item in commit.invoice_schedule.schedule_items:
        if item.amount is not None:
            paid += item.amount
        elif item.unit_price is not None:
            paid += item.unit_price * (item.quantity if item.quantity is not None else ONE)
    return paid / granted if granted else ZERO


@dataclass(slots=True)
class Slot:
    """One access segment of one commit or credit, as a balance this invoice may draw down."""

    commit: Commit
    segment: AccessSegment
    credit_type_id: str | None  # None for QUANTITY balances
    available: Decimal
    used: Decimal = ZERO  # in the balance's unit (money, or units for QUANTITY)
    used_money: Decimal = ZERO  # charge amount paid, in the charge's credit type

    @property
    def postpaid(self) -> bool:
        return self.commit.type is CommitType.POSTPAID


def ordered_slots(contract: Contract, balances: Iterable[Commit]) -> list[Slot]:
    """Segments in SPEC §6.5 order; ties beyond the documented chain are broken by commit/segment id."""
    products = list(contract.products.values())
    slots: list[tuple[tuple[object, ...], Slot]] = []
    for commit in balances:
        if not commit.payment_gate_released:
            continue
        ids = commit.applicable_contract_ids
        if ids and contract.id not in ids:
            continue
        n_products = sum(1 for p in products if commit_applies(commit, p))
        n_specifiers = len(commit.specifiers)
        priority = commit.priority if commit.priority is not None else _INF
        contracts_rank = 1 if ids is None else (len(ids) if ids else 1_000_000)
        level = 0 if ids is None else 1
        for seg in commit.access_schedule:
            end, start = utc(seg.ending_before), utc(seg.starting_at)
            if commit.is_rollover:
                postpaid_first = 0 if commit.type is CommitType.POSTPAID else 1
                key: tuple[object, ...] = (0, postpaid_first, priority, n_products, n_specifiers, end, start)
            elif commit.type is CommitType.POSTPAID:
                key = (2, 0, priority, n_products, n_specifiers, end, start)
            else:
                key = (1, priority, cost_basis(commit), n_products, end, start, contracts_rank, level)
            credit_type_id = None
            if commit.access_type is AccessType.SPEND:
                credit_type_id = commit.credit_type_id or USD_CENTS_ID
            available = max(ZERO, seg.amount - seg.consumed)
            slots.append(((*key, commit.id, seg.id), Slot(commit, seg, credit_type_id, available)))
    slots.sort(key=lambda item: item[0])
    return [s for _, s in slots]


class Repricer:
    """The amount of a piece when a given balance pays for it (cached per rate/override/balance)."""

    def __init__(self, prioritization: Prioritization) -> None:
        self.prioritization = prioritization
        self.cache: dict[tuple[int, tuple[int, ...], BalanceRateType, str], Decimal] = {}

    def amount(self, piece: Piece, commit: Commit) -> Decimal:
        rate = piece.rate
        if rate is None:
            return piece.amount
        commit_rate = commit.rate_type is BalanceRateType.COMMIT_RATE and rate.commit_rate is not None
        if not commit_rate and not any(o.is_commit_specific for _, o in piece.overrides):
            return piece.amount
        curve = price_curve(
            rate,
            piece.overrides,
            self.prioritization,
            balance_rate_type=commit.rate_type,
            commit_id=commit.id,
        ).curve
        return charge(curve, piece.c0, piece.quantity)


def draw_down(slots: Sequence[Slot], charges: Sequence[Charge], repricer: Repricer) -> None:
    ctx = MONEY_CONTEXT
    commit_specific = any(o.is_commit_specific for c in charges for p in c.pieces for _, o in p.overrides)
    for slot in slots:
        seg_start, seg_end = utc(slot.segment.starting_at), utc(slot.segment.ending_before)
        quantity_based = slot.commit.access_type is AccessType.QUANTITY
        plain = not commit_specific and slot.commit.rate_type is BalanceRateType.LIST_RATE
        for c in charges:
            if slot.used >= slot.available:
                break
            if not c.drawable:
                continue
            if slot.credit_type_id is not None and c.credit_type_id != slot.credit_type_id:
                continue
            if not commit_applies(slot.commit, c.product, c):
                continue
            for p in c.pieces:
                left = ctx.subtract(slot.available, slot.used)
                if left <= 0:
                    break
                if not (seg_start <= p.time < seg_end):
                    continue
                rem = ctx.subtract(ONE, p.covered)
                if rem <= 0:
                    continue
                amount = p.amount if plain else repricer.amount(p, slot.commit)
                if quantity_based:
                    units = ctx.multiply(rem, p.quantity)
                    if units <= 0:
                        continue
                    take = min(left, units)
                    d = ctx.multiply(rem, ctx.divide(take, units))
                    money = ctx.multiply(d, amount)
                else:
                    due = ctx.multiply(rem, amount)
                    if due <= 0:
                        continue
                    take = min(left, due)
                    d = ctx.multiply(rem, ctx.divide(take, due))
                    money = take
                p.covered = ctx.add(p.covered, d)
                if amount != p.amount:
                    p.repriced_quantity = ctx.add(p.repriced_quantity, ctx.multiply(d, p.quantity))
                    p.repriced_amount = ctx.add(p.repriced_amount, money)
                    p.repriced_list_amount = ctx.add(p.repriced_list_amount, ctx.multiply(d, p.amount))
                slot.used = ctx.add(slot.used, take)
                slot.used_money = ctx.add(slot.used_money, money)
