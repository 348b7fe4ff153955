"""Usage charges: usage records -> per-line pieces priced on the period's cumulative quantity.

SPEC §6.4 steps 2-4. Records are summed per (product, pricing values, presentation values, hour), so
any order or batching of the same usage gives the same invoice. Quantity conversion and rounding are
applied once per (product, pricing group values) over the whole period (SPEC §3.3 [I]); the rounding
difference is carried by the period's last bucket. Tier position is cumulative per (product, pricing
group values) across presentation groups and across mid-period price changes; each bucket is priced
with the rate and overrides in force at its hour (SPEC §4.3 [U], recommended rule).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal

from tally.money.context import MONEY_CONTEXT, ZERO
from tally.money.rounding import round_to
from tally.rating.charges import Charge, Piece, TierAcc, gv_key
from tally.rating.inputs import (
    Contract,
    ConversionOperation,
    GroupValues,
    Product,
    ProductType,
    RateType,
    UsageRecord,
)
from tally.rating.periods import Period, utc
from tally.rating.prices.curve import band_split, charge
from tally.rating.prices.custom import CustomPricer, custom_processor_name
from tally.rating.rates import Priced, RateIndex, active_overrides, is_entitled, price_curve
from tally.rating.results import LineType


def project(values: GroupValues, keys: tuple[str, ...]) -> GroupValues:
    if not keys:
        return ()
    found = dict(values)
    return tuple(sorted((k, found.get(k)) for k in keys))


def convert(quantity: Decimal, product: Product) -> Decimal:
    conv = product.quantity_conversion
    if conv is None:
        return quantity
    if conv.operation is ConversionOperation.MULTIPLY:
        return MONEY_CONTEXT.multiply(quantity, conv.conversion_factor)
    return MONEY_CONTEXT.divide(quantity, conv.conversion_factor)


Bucket = tuple[datetime, GroupValues]


def aggregate(
    contract: Contract, usage: Iterable[UsageRecord], window: Period, warnings: list[str]
) -> dict[tuple[str, GroupValues], dict[Bucket, Decimal]]:
    groups: dict[tuple[str, GroupValues], dict[Bucket, Decimal]] = {}
    unknown: set[str] = set()
    for record in usage:
        product = contract.products.get(record.product_id)
        if product is None or product.type is not ProductType.USAGE:
            unknown.add(record.product_id)
            continue
        t = utc(record.timestamp)
        if not (window.starting_at <= t < window.ending_before):
            continue
        hour = t.replace(minute=0, second=0, microsecond=0)
        pgv = project(record.group_values, product.pricing_group_key)
        prgv = project(record.group_values, product.presentation_group_key)
        buckets = groups.setdefault((product.id, pgv), {})
        key = (hour, prgv)
        buckets[key] = MONEY_CONTEXT.add(buckets.get(key, ZERO), record.quantity)
    warnings.extend(f"usage for unknown or non-USAGE product {pid} was ignored" for pid in sorted(unknown))
    return groups


def usage_charges(
    contract: Contract,
    index: RateIndex,
    window: Period,
    usage: Iterable[UsageRecord],
    order: Callable[[str], int],
    custom_pricers: Mapping[str, CustomPricer],
    warnings: list[str],
) -> list[Charge]:
    charges: dict[str, Charge] = {}
    cache: dict[tuple[int, tuple[int, ...]], Priced] = {}
    prioritization = contract.multiplier_override_prioritization
    for (product_id, pgv), buckets in sorted(aggregate(contract, usage, window, warnings).items()):
        product = contract.products[product_id]
        keys = sorted(buckets)
        converted = [convert(buckets[k], product) for k in keys]
        rounding = product.quantity_rounding
        if rounding is not None:
            exact = sum(converted, ZERO)
            rounded = round_to(exact, rounding.decimal_places, rounding.rounding_method)
            converted[-1] = MONEY_CONTEXT.add(converted[-1], MONEY_CONTEXT.subtract(rounded, exact))
        cumulative = ZERO
        for (hour, prgv), quantity in zip(keys, converted, strict=True):
            rate = index.rate_at(product_id, pgv, hour)
            if rate is None:
                warnings.append(f"no rate for product {product_id} {gv_key(pgv)} at {hour.isoformat()}")
                continue
            targeting = index.targeting(product, pgv, prgv)
            overrides = active_overrides(targeting, hour)
            if not is_entitled(rate, overrides):
                continue
            bounds = index.boundaries(product_id, targeting)
            seg_i = bisect.bisect_right(bounds, hour)
            w_start, w_end = window.starting_at, window.ending_before
            seg_start = max(w_start, bounds[seg_i - 1]) if seg_i else w_start
            seg_end = min(w_end, bounds[seg_i]) if seg_i < len(bounds) else w_end
            stamp = seg_start.strftime("%Y-%m-%dT%H:%M:%SZ")
            key = f"usage:{product_id}:{gv_key(pgv)}:{gv_key(prgv)}@{stamp}"
            line = charges.get(key)
            if line is None:
                line = Charge(
                    key=key,
                    type=LineType.USAGE,
                    name=product.name,
                    credit_type_id=_credit_type_id(contract, rate.credit_type_id),
                    starting_at=seg_start,
                    ending_before=seg_end,
                    product=product,
                    pricing_group_values=pgv,
                    presentation_group_values=prgv,
                    sort_rank=(order(product_id), 0, key),
                )
                charges[key] = line
            if rate.rate_type is RateType.CUSTOM:
                name = custom_processor_name(rate.custom_rate)
                pricer = custom_pricers.get(name) if name else None
                if pricer is None or rate.custom_rate is None:
                    warnings.append(f"CUSTOM rate of product {product_id} has no registered processor")
                    continue
                amount = pricer(quantity, rate.custom_rate)
                line.pieces.append(Piece(hour, quantity, amount, cumulative))
                cumulative += quantity
                continue
            if rate.rate_type not in (RateType.FLAT, RateType.TIERED):
                warnings.append(f"{rate.rate_type} rate cannot price usage of product {product_id}")
                continue
            ck = (id(rate), tuple(i for i, _ in overrides))
            priced = cache.get(ck)
            if priced is None:
                priced = price_curve(rate, overrides, prioritization)
                cache[ck] = priced
            curve = priced.curve
            amount = charge(curve, cumulative, quantity)
            line.pieces.append(Piece(hour, quantity, amount, cumulative, rate, overrides))
            if len(curve) == 1:
                price = curve[0].unit_price
                line.unit_price = price if len(line.pieces) == 1 or line.unit_price == price else None
            else:
                line.unit_price = None
            if rate.rate_type is RateType.TIERED or len(curve) > 1:
                for band_index, q, subtotal in band_split(curve, cumulative, quantity):
                    band = curve[band_index]
                    acc = line.tiers.setdefault((band.start, band.unit_price), TierAcc())
                    acc.quantity += q
                    acc.subtotal += subtotal
            cumulative = MONEY_CONTEXT.add(cumulative, quantity)
    return [c for c in charges.values() if c.pieces]


def _credit_type_id(contract: Contract, credit_type_id: str | None) -> str:
    return credit_type_id if credit_type_id is not None else contract.rate_card.fiat_credit_type.id
