"""PERCENTAGE / TIERED_PERCENTAGE composite products: a share of other products' spend (SPEC §3.5).

The basis is the pre-draw-down, unrounded spend of the applicable products in the window, walked in
time order so a TIERED_PERCENTAGE rate is graduated over cumulative spend. One composite line per
credit type of the basis. ``minimum`` on the rate: charge = max(percentage amount, minimum), not
prorated for partial periods [I].
"""

from __future__ import annotations

from collections.abc import Sequence

from tally.money.context import MONEY_CONTEXT, ZERO
from tally.rating.charges import Charge, Piece
from tally.rating.inputs import Contract, Product, ProductType, RateType
from tally.rating.periods import Period
from tally.rating.prices.curve import charge
from tally.rating.rates import RateIndex, active_overrides, is_entitled, price_curve
from tally.rating.results import LineType


def applies_to(composite: Product, product: Product) -> bool:
    return product.id in composite.composite_product_ids or any(
        t in product.tags for t in composite.composite_tags
    )


def composite_charges(
    contract: Contract,
    index: RateIndex,
    window: Period,
    composite: Product,
    rank: int,
    basis: Sequence[Charge],
    warnings: list[str],
) -> list[Charge]:
    rate = index.rate_at(composite.id, (), window.starting_at)
    if rate is None:
        return []
    if rate.rate_type not in (RateType.PERCENTAGE, RateType.TIERED_PERCENTAGE):
        warnings.append(f"composite product {composite.id} has a {rate.rate_type} rate")
        return []
    targeting = index.targeting(composite, (), ())
    if not is_entitled(rate, active_overrides(targeting, window.starting_at)):
        return []
    by_credit_type: dict[str, list[Piece]] = {}
    for c in basis:
        if c.product is None or c.product.id == composite.id or not applies_to(composite, c.product):
            continue
        if c.product.type is ProductType.COMPOSITE and not composite.include_composite_spend:
            continue
        if composite.exclude_free_usage and c.amount == 0:
            continue
        by_credit_type.setdefault(c.credit_type_id, []).extend(c.pieces)
    out: list[Charge] = []
    for credit_type_id, pieces in sorted(by_credit_type.items()):
        spend = ZERO
        amount = ZERO
        unit_price = None
        for p in sorted(pieces, key=lambda p: p.time):
            overrides = active_overrides(targeting, p.time)
            curve = price_curve(rate, overrides, contract.multiplier_override_prioritization).curve
            amount = MONEY_CONTEXT.add(amount, charge(curve, spend, p.amount))
            spend = MONEY_CONTEXT.add(spend, p.amount)
            unit_price = curve[0].unit_price if len(curve) == 1 else None
        if rate.minimum is not None and amount < rate.minimum:
            amount = rate.minimum
        key = f"usage:{composite.id}:composite:{credit_type_id}"
        out.append(
            Charge(
                key=key,
                type=LineType.USAGE,
                name=composite.name,
                credit_type_id=credit_type_id,
                starting_at=window.starting_at,
                ending_before=window.ending_before,
                product=composite,
                pieces=[Piece(window.starting_at, spend, amount)],
                unit_price=unit_price,
                sort_rank=(rank, 2, key),
            )
        )
    return out
