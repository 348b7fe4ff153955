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
import itertools
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
    Rate,
    RateType,
    UsageRecord,
)
from tally.rating.periods import Period, utc
from tally.rating.prices.curve import band_split, charge
from tally.rating.prices.custom import CustomPricer, custom_processor_name
from tally.rating.rates import (
    IndexedOverride,
    Priced,
    RateIndex,
    active_overrides,
    is_entitled,
    price_curve,
)
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
        hour = t.replace(minute=0, second=0, microsecond=0) if (t.minute or t.second or t.microsecond) else t
        gv = record.group_values
        pgv = project(gv, product.pricing_group_key) if gv and product.pricing_group_key else ()
        prgv = project(gv, product.presentation_group_key) if gv and product.presentation_group_key else ()
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
    cache = index.price_cache
    plan_cache = index.plan_cache
    balance_bounds = index.balance_bounds
    for (product_id, pgv), buckets in sorted(aggregate(contract, usage, window, warnings).items()):
        product = contract.products[product_id]
        keys = sorted(buckets)
        if product.quantity_conversion is None:
            converted = [buckets[k] for k in keys]
        else:
            converted = [convert(buckets[k], product) for k in keys]
        rounding = product.quantity_rounding
        if rounding is not None:
            exact = sum(converted, ZERO)
            rounded = round_to(exact, rounding.decimal_places, rounding.rounding_method)
            converted[-1] = MONEY_CONTEXT.add(converted[-1], MONEY_CONTEXT.subtract(rounded, exact))
        plans: dict[GroupValues, _Plan] = {}
        # Consecutive buckets with the same presentation values, price segment and balance window are
        # priced as one run: G(c1) - G(c0) is additive, so this is exact and only saves work.
        runs: list[_Run] = []
        for (hour, prgv), quantity in zip(keys, converted, strict=True):
            plan = plans.get(prgv)
            if plan is None:
                pk = (window, product_id, pgv, prgv)
                cached = plan_cache.get(pk)
                if not isinstance(cached, _Plan):
                    cached = _Plan(contract, index, window, product, pgv, prgv)
                    plan_cache[pk] = cached
                plan = plans[prgv] = cached
            segs = plan.segments
            seg = segs[0] if len(segs) == 1 else segs[bisect.bisect_right(plan.starts, hour) - 1]
            bw = bisect.bisect_right(balance_bounds, hour) if balance_bounds else 0
            if runs and runs[-1].seg is seg and runs[-1].bw == bw:
                runs[-1].quantity = MONEY_CONTEXT.add(runs[-1].quantity, quantity)
            else:
                runs.append(_Run(hour, seg, bw, quantity))
        cumulative = ZERO
        for run in runs:
            cumulative = _price_run(
                contract,
                product,
                pgv,
                run.seg,
                run.hour,
                run.bw,
                run.quantity,
                cumulative,
                charges,
                cache,
                order,
                custom_pricers,
                warnings,
            )
    return [c for c in charges.values() if c.pieces]


def _price_run(
    contract: Contract,
    product: Product,
    pgv: GroupValues,
    seg: _Segment,
    hour: datetime,
    bw: int,
    quantity: Decimal,
    cumulative: Decimal,
    charges: dict[str, Charge],
    cache: dict[tuple[int, tuple[int, ...]], Priced],
    order: Callable[[str], int],
    custom_pricers: Mapping[str, CustomPricer],
    warnings: list[str],
) -> Decimal:
    """Price one run of usage at cumulative position ``cumulative``; returns the new position."""
    rate = seg.rate
    product_id = product.id
    if rate is None:
        warnings.append(f"no rate for product {product_id} {gv_key(pgv)} at {hour.isoformat()}")
        return cumulative
    if not seg.entitled:
        return cumulative
    overrides = seg.overrides
    key = seg.key
    line = charges.get(key)
    if line is None:
        line = Charge(
            key=key,
            type=LineType.USAGE,
            name=product.name,
            credit_type_id=_credit_type_id(contract, rate.credit_type_id),
            starting_at=seg.starting_at,
            ending_before=seg.ending_before,
            product=product,
            pricing_group_values=pgv,
            presentation_group_values=seg.prgv,
            sort_rank=(order(product_id), 0, key),
        )
        charges[key] = line
    if rate.rate_type is RateType.CUSTOM:
        name = custom_processor_name(rate.custom_rate)
        pricer = custom_pricers.get(name) if name else None
        if pricer is None or rate.custom_rate is None:
            warnings.append(f"CUSTOM rate of product {product_id} has no registered processor")
            return cumulative
        amount = pricer(quantity, rate.custom_rate)
        line.pieces.append(Piece(hour, quantity, amount, cumulative))
        return MONEY_CONTEXT.add(cumulative, quantity)
    if rate.rate_type not in (RateType.FLAT, RateType.TIERED):
        warnings.append(f"{rate.rate_type} rate cannot price usage of product {product_id}")
        return cumulative
    priced = seg.priced
    if priced is None:
        ck = (id(rate), tuple(i for i, _ in overrides))
        priced = cache.get(ck)
        if priced is None:
            priced = price_curve(rate, overrides, contract.multiplier_override_prioritization)
            cache[ck] = priced
        seg.priced = priced
        seg.flat_price = priced.curve[0].unit_price if len(priced.curve) == 1 else None
        seg.banded = rate.rate_type is RateType.TIERED or len(priced.curve) > 1
    curve = priced.curve
    amount = charge(curve, cumulative, quantity)
    last = line.pieces[-1] if line.pieces else None
    if (
        last is not None
        and last.rate is rate
        and last.overrides is overrides
        and last.balance_window == bw
        and MONEY_CONTEXT.add(last.c0, last.quantity) == cumulative
    ):
        # Contiguous usage under the same price and the same balances: one piece is enough.
        last.quantity = MONEY_CONTEXT.add(last.quantity, quantity)
        last.amount = MONEY_CONTEXT.add(last.amount, amount)
    else:
        line.pieces.append(Piece(hour, quantity, amount, cumulative, rate, overrides, balance_window=bw))
    price = seg.flat_price
    if price is None or (line.unit_price != price and len(line.pieces) > 1):
        line.unit_price = None
    else:
        line.unit_price = price
    if seg.banded:
        for band_index, q, subtotal in band_split(curve, cumulative, quantity):
            band = curve[band_index]
            acc = line.tiers.setdefault((band.start, band.unit_price), TierAcc())
            acc.quantity += q
            acc.subtotal += subtotal
    return MONEY_CONTEXT.add(cumulative, quantity)


def _credit_type_id(contract: Contract, credit_type_id: str | None) -> str:
    return credit_type_id if credit_type_id is not None else contract.rate_card.fiat_credit_type.id


class _Run:
    __slots__ = ("bw", "hour", "quantity", "seg")

    def __init__(self, hour: datetime, seg: _Segment, bw: int, quantity: Decimal) -> None:
        self.hour = hour
        self.seg = seg
        self.bw = bw
        self.quantity = quantity


class _Segment:
    """A stretch of the window with one rate and one set of active overrides."""

    __slots__ = (
        "banded",
        "ending_before",
        "entitled",
        "flat_price",
        "key",
        "overrides",
        "prgv",
        "priced",
        "rate",
        "starting_at",
    )

    def __init__(
        self,
        starting_at: datetime,
        ending_before: datetime,
        rate: Rate | None,
        overrides: tuple[IndexedOverride, ...],
        key: str,
        prgv: GroupValues,
    ) -> None:
        self.prgv = prgv
        self.starting_at = starting_at
        self.ending_before = ending_before
        self.rate = rate
        self.overrides = overrides
        self.entitled = rate is not None and is_entitled(rate, overrides)
        self.key = key
        self.priced: Priced | None = None
        self.flat_price: Decimal | None = None
        self.banded = False


class _Plan:
    """The price segments of one (product, pricing values, presentation values) over the window."""

    def __init__(
        self,
        contract: Contract,
        index: RateIndex,
        window: Period,
        product: Product,
        pgv: GroupValues,
        prgv: GroupValues,
    ) -> None:
        targeting = index.targeting(product, pgv, prgv)
        w_start, w_end = window.starting_at, window.ending_before
        inner = [b for b in index.boundaries(product.id, targeting) if w_start < b < w_end]
        points = [w_start, *inner, w_end]
        self.starts = points[:-1]
        self.segments: list[_Segment] = []
        prefix = f"usage:{product.id}:{gv_key(pgv)}:{gv_key(prgv)}@"
        for a, b in itertools.pairwise(points):
            rate = index.rate_at(product.id, pgv, a)
            overrides = active_overrides(targeting, a)
            key = prefix + a.strftime("%Y-%m-%dT%H:%M:%SZ")
            self.segments.append(_Segment(a, b, rate, overrides, key, prgv))
