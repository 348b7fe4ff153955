"""FLAT: amount = quantity x price (SPEC §4.3)."""

from __future__ import annotations

from decimal import Decimal

from tally.rating.prices.curve import Curve, flat_curve


def flat_price_curve(price: Decimal) -> Curve:
    if price < 0:
        raise ValueError("a FLAT price must be >= 0")
    return flat_curve(price)
