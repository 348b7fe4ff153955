"""Rate resolution (SPEC §4.2, §5.2, §5.3): which price applies to a product, group and hour.

1. The rate-card rate in force at t for (product, pricing_group_values[, billing_frequency]).
   An exact pricing-group match wins; otherwise a rate without pricing_group_values is the default.
2. Entitlement: the rate's ``entitled``, replaced by the winning override that sets ``entitled``.
3. Overrides: an OVERWRITE beats everything; otherwise LOWEST_MULTIPLIER picks the smallest multiplier,
   and EXPLICIT chains tiered and multiplier overrides by priority (tiered bands fall through).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from tally.money.context import ONE
from tally.rating.inputs import (
    NO_GROUP,
    BalanceRateType,
    Contract,
    Frequency,
    GroupValues,
    Override,
    OverrideTarget,
    OverrideType,
    Prioritization,
    Product,
    Rate,
    RateType,
    RatingInputError,
    Specifier,
    Tier,
)
from tally.rating.prices.curve import Curve, flat_curve, reshape, scale
from tally.rating.prices.tiered import tiered_price_curve

_INF = Decimal("Infinity")
IndexedOverride = tuple[int, Override]


def _active(start: datetime, end: datetime | None, t: datetime) -> bool:
    return start <= t and (end is None or t < end)


def _overlaps(a: Rate, b: Rate) -> bool:
    a_end, b_end = a.ending_before, b.ending_before
    return (b_end is None or a.starting_at < b_end) and (a_end is None or b.starting_at < a_end)


def group_matches(wanted: GroupValues, actual: GroupValues) -> bool:
    """Every key named in ``wanted`` has the same value in ``actual``."""
    if not wanted:
        return True
    values = dict(actual)
    return all(k in values and values[k] == v for k, v in wanted)


def specifier_matches(
    s: Specifier, product: Product, pgv: GroupValues, prgv: GroupValues, frequency: Frequency | None
) -> bool:
    if s.product_id is not None and s.product_id != product.id:
        return False
    if s.product_tags and not set(s.product_tags) <= set(product.tags):
        return False
    if s.pricing_group_values and not (
        {k for k, _ in s.pricing_group_values} <= set(product.pricing_group_key)
        and group_matches(s.pricing_group_values, pgv)
    ):
        return False
    if not group_matches(s.presentation_group_values, prgv):
        return False
    return s.billing_frequency is None or s.billing_frequency == frequency


def override_targets(
    o: Override, product: Product, pgv: GroupValues, prgv: GroupValues, frequency: Frequency | None
) -> bool:
    if o.override_specifiers:
        return any(specifier_matches(s, product, pgv, prgv, frequency) for s in o.override_specifiers)
    if o.product_id is not None or o.applicable_product_tags:
        return o.product_id == product.id or any(t in product.tags for t in o.applicable_product_tags)
    return True


def rate_at(
    rates: Iterable[Rate], pgv: GroupValues, t: datetime, frequency: Frequency | None = None
) -> Rate | None:
    """The rate of a product in force at `t` for pricing group values `pgv`: the one with exactly those
    values, else the one with none; only rates of `frequency` when it is given (SPEC §4.2-4.3)."""
    default: Rate | None = None
    for rate in rates:
        if rate.billing_frequency != frequency and frequency is not None:
            continue
        if not _active(rate.starting_at, rate.ending_before, t):
            continue
        if rate.pricing_group_values == pgv:
            return rate
        if rate.pricing_group_values == NO_GROUP:
            default = rate
    return default


def subscription_rate(rates: Sequence[Rate], t: datetime, frequency: Frequency) -> Rate | None:
    """The rate a subscription is billed at: the product's rate for its billing frequency, else one of
    any frequency (SPEC §4.3)."""
    return rate_at(rates, NO_GROUP, t, frequency) or rate_at(rates, NO_GROUP, t)


def unit_price(
    rate: Rate, overrides: Sequence[IndexedOverride], prioritization: Prioritization
) -> Decimal | None:
    """A flat unit price (a subscription's) under the active `overrides`; None when they leave it not
    entitled."""
    if not is_entitled(rate, overrides):
        return None
    return price_curve(rate, overrides, prioritization).curve[0].unit_price


class RateIndex:
    """Rates of one rate card indexed by product; overlapping rates are refused (SPEC §4.2 [U])."""

    def __init__(self, contract: Contract) -> None:
        self.by_product: dict[str, list[Rate]] = {}
        for rate in contract.rate_card.rates:
            self.by_product.setdefault(rate.product_id, []).append(rate)
        for rates in self.by_product.values():
            rates.sort(key=lambda r: r.starting_at)
            for i, a in enumerate(rates):
                for b in rates[i + 1 :]:
                    if (
                        a.pricing_group_values == b.pricing_group_values
                        and a.billing_frequency == b.billing_frequency
                        and _overlaps(a, b)
                    ):
                        raise RatingInputError(
                            f"overlapping rates for product {a.product_id} at {b.starting_at.isoformat()}"
                        )
        self.overrides: tuple[IndexedOverride, ...] = tuple(enumerate(contract.overrides))
        self._targeting: dict[tuple[str, GroupValues, GroupValues, Frequency | None], list[IndexedOverride]]
        self._targeting = {}
        #: caches owned by the index, valid as long as the (immutable) contract is
        self.plan_cache: dict[object, object] = {}
        self.price_cache: dict[tuple[int, tuple[int, ...]], Priced] = {}
        #: instants where some balance segment starts or ends: usage pieces never straddle one
        points = {
            t
            for c in (*contract.commits, *contract.credits)
            for seg in c.access_schedule
            for t in (seg.starting_at, seg.ending_before)
        }
        self.balance_bounds: list[datetime] = sorted(points)

    def rate_at(
        self, product_id: str, pgv: GroupValues, t: datetime, frequency: Frequency | None = None
    ) -> Rate | None:
        return rate_at(self.by_product.get(product_id, ()), pgv, t, frequency)

    def targeting(
        self, product: Product, pgv: GroupValues, prgv: GroupValues, frequency: Frequency | None = None
    ) -> list[IndexedOverride]:
        key = (product.id, pgv, prgv, frequency)
        found = self._targeting.get(key)
        if found is None:
            found = [(i, o) for i, o in self.overrides if override_targets(o, product, pgv, prgv, frequency)]
            self._targeting[key] = found
        return found

    def boundaries(self, product_id: str, overrides: Sequence[IndexedOverride]) -> list[datetime]:
        """Instants at which the price of this product may change."""
        points: set[datetime] = set()
        for rate in self.by_product.get(product_id, ()):
            points.add(rate.starting_at)
            if rate.ending_before is not None:
                points.add(rate.ending_before)
        for _, o in overrides:
            points.add(o.starting_at)
            if o.ending_before is not None:
                points.add(o.ending_before)
        return sorted(points)


def active_overrides(targeting: Sequence[IndexedOverride], t: datetime) -> tuple[IndexedOverride, ...]:
    return tuple((i, o) for i, o in targeting if _active(o.starting_at, o.ending_before, t))


def _rank(item: IndexedOverride) -> tuple[Decimal, int]:
    """Explicit priority first (lower wins), then the most recently added."""
    i, o = item
    return (o.priority if o.priority is not None else _INF, -i)


def is_entitled(rate: Rate, overrides: Sequence[IndexedOverride]) -> bool:
    setting = [item for item in overrides if item[1].entitled is not None and not item[1].is_commit_specific]
    if not setting:
        return rate.entitled
    return bool(min(setting, key=_rank)[1].entitled)


def _tiers_curve(rate_type: RateType, price: Decimal | None, tiers: Sequence[Tier]) -> Curve:
    if rate_type in (RateType.TIERED, RateType.TIERED_PERCENTAGE):
        return tiered_price_curve(tiers)
    if price is None:
        raise RatingInputError(f"a {rate_type} rate needs a price")
    return flat_curve(price)


def base_curve(rate: Rate, target: OverrideTarget) -> Curve:
    if target is OverrideTarget.COMMIT_RATE and rate.commit_rate is not None:
        cr = rate.commit_rate
        return _tiers_curve(cr.rate_type, cr.price, cr.tiers)
    return _tiers_curve(rate.rate_type, rate.price, rate.tiers)


@dataclass(frozen=True, slots=True)
class Priced:
    """The outcome of applying overrides: a curve, and the quantity an OVERWRITE may set."""

    curve: Curve
    quantity: Decimal | None
    override_ids: tuple[str, ...]


def price_curve(
    rate: Rate,
    overrides: Sequence[IndexedOverride],
    prioritization: Prioritization,
    *,
    balance_rate_type: BalanceRateType | None = None,
    commit_id: str | None = None,
) -> Priced:
    """The effective price curve of ``rate`` under ``overrides`` (all active and targeting it).

    ``balance_rate_type`` / ``commit_id`` describe the balance paying for the usage, when one does:
    a COMMIT_RATE balance uses the rate's commit_rate (if any, else the list rate), and commit-specific
    overrides apply only then.
    """
    use_commit = balance_rate_type is BalanceRateType.COMMIT_RATE and rate.commit_rate is not None
    target = OverrideTarget.COMMIT_RATE if use_commit else OverrideTarget.LIST_RATE
    eligible: list[IndexedOverride] = []
    for i, o in overrides:
        if o.type is None or o.target is not target:
            continue
        if o.is_commit_specific and (
            balance_rate_type is None or (o.commit_ids and commit_id not in o.commit_ids)
        ):
            continue
        eligible.append((i, o))
    base = base_curve(rate, target)
    quantity = rate.quantity
    overwrites = [item for item in eligible if item[1].type is OverrideType.OVERWRITE]
    if overwrites:
        _, winner = min(overwrites, key=_rank)
        ow = winner.overwrite_rate
        if ow is None:
            raise RatingInputError(f"OVERWRITE override {winner.id} has no overwrite_rate")
        q = ow.quantity if ow.quantity is not None else quantity
        return Priced(_tiers_curve(ow.rate_type, ow.price, ow.tiers), q, (winner.id,))
    multipliers = [item for item in eligible if item[1].type is OverrideType.MULTIPLIER]
    tiered = [item for item in eligible if item[1].type is OverrideType.TIERED]
    if prioritization is Prioritization.LOWEST_MULTIPLIER:
        if tiered:
            raise RatingInputError("TIERED overrides need EXPLICIT multiplier_override_prioritization")
        if not multipliers:
            return Priced(base, quantity, ())
        _, best = min(multipliers, key=lambda item: (_multiplier(item[1]), -item[0]))
        return Priced(scale(base, _multiplier(best)), quantity, (best.id,))
    chain = sorted(tiered + multipliers, key=lambda item: (_rank(item)[0], _discount_rank(item[1]), -item[0]))
    if not chain:
        return Priced(base, quantity, ())
    bands = [_override_bands(o) if o.type is OverrideType.TIERED else None for _, o in chain]
    breakpoints = [end for b in bands if b is not None for _, end, _ in b if end is not None]

    def factor(x: Decimal) -> Decimal:
        # Walk the chain: a tiered override prices the units inside its bands; past its last band the
        # unit falls through to the next override in priority order, else the list rate (SPEC §5.3 [I]).
        for (_, o), own in zip(chain, bands, strict=True):
            if own is None:
                return _multiplier(o)
            for start, end, mult in own:
                if start <= x and (end is None or x < end):
                    return mult
        return ONE

    return Priced(reshape(base, breakpoints, factor), quantity, tuple(o.id for _, o in chain))


def _override_bands(o: Override) -> list[tuple[Decimal, Decimal | None, Decimal]]:
    """Absolute bands of the period's cumulative quantity; a bounded last band stays bounded."""
    if not o.tiers:
        raise RatingInputError(f"TIERED override {o.id} has no tiers")
    out: list[tuple[Decimal, Decimal | None, Decimal]] = []
    start = Decimal(0)
    for t in o.tiers:
        end = None if t.size is None else start + t.size
        out.append((start, end, t.multiplier))
        if end is None:
            break
        start = end
    return out


def _multiplier(o: Override) -> Decimal:
    if o.multiplier is None:
        raise RatingInputError(f"MULTIPLIER override {o.id} has no multiplier")
    return o.multiplier


def _discount_rank(o: Override) -> Decimal:
    if o.type is OverrideType.MULTIPLIER:
        return _multiplier(o)
    return min((t.multiplier for t in o.tiers), default=ONE)
