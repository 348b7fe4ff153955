"""TIERED: graduated over the period's cumulative quantity (SPEC §4.3).

Tier i covers the next ``size`` units; the last tier is unbounded. A quantity exactly on a boundary
fills the lower tier: with ``[{size: 10000, price: 1}, {price: 0.5}]`` unit 10,000 costs 1 and unit
10,001 costs 0.5.
"""

from __future__ import annotations

from collections.abc import Sequence

from tally.rating.inputs import Tier
from tally.rating.prices.curve import Curve, curve_from_sizes


def tiered_price_curve(tiers: Sequence[Tier]) -> Curve:
    return curve_from_sizes([(t.size, t.price) for t in tiers])
