"""Largest-remainder allocation: split an amount into rounded parts that sum exactly to the whole."""

from __future__ import annotations

import decimal
from collections.abc import Sequence
from decimal import Decimal

from tally.money.context import MONEY_CONTEXT, ZERO
from tally.money.rounding import exponent


def allocate(whole: Decimal, weights: Sequence[Decimal], decimal_places: int = 0) -> tuple[Decimal, ...]:
    """Split ``whole`` (already at ``decimal_places``) in proportion to non-negative ``weights``.

    Each part is its exact share truncated toward zero to ``decimal_places``; the units left over go one
    each to the parts with the largest truncated remainders (ties: the earlier part). Properties:
    the parts sum to ``whole`` exactly, no part is more than one unit from its exact share, and for a
    non-negative whole no part is negative. All weights zero -> an even split.
    """
    n = len(weights)
    if n == 0:
        if whole != 0:
            raise ValueError("cannot allocate a non-zero amount over no parts")
        return ()
    if any(w < 0 for w in weights):
        raise ValueError("allocation weights must be non-negative")
    unit = exponent(decimal_places)
    if whole.quantize(unit, context=MONEY_CONTEXT) != whole:
        raise ValueError(f"{whole} is not a whole amount at {decimal_places} decimal places")
    weight_sum = ZERO
    for w in weights:
        weight_sum = MONEY_CONTEXT.add(weight_sum, w)
    if weight_sum == 0:
        weights = [Decimal(1)] * n
        weight_sum = Decimal(n)
    sign = -1 if whole < 0 else 1
    magnitude = abs(whole)
    floors: list[Decimal] = []
    remainders: list[Decimal] = []
    for w in weights:
        exact = MONEY_CONTEXT.divide(MONEY_CONTEXT.multiply(magnitude, w), weight_sum)
        floor = exact.quantize(unit, rounding=decimal.ROUND_DOWN, context=MONEY_CONTEXT)
        floors.append(floor)
        remainders.append(MONEY_CONTEXT.subtract(exact, floor))
    left = MONEY_CONTEXT.subtract(magnitude, sum_exact(floors))
    units_left = int(MONEY_CONTEXT.divide(left, unit))
    order = sorted(range(n), key=lambda i: (-remainders[i], i))
    for i in order[:units_left]:
        floors[i] = MONEY_CONTEXT.add(floors[i], unit)
    if sign < 0:
        return tuple(-f for f in floors)
    return tuple(floors)


def split_evenly(whole: Decimal, parts: int, decimal_places: int = 0) -> tuple[Decimal, ...]:
    """``whole`` in ``parts`` equal shares; the remainder goes one unit each to the earliest parts."""
    return allocate(whole, [Decimal(1)] * parts, decimal_places)


def sum_exact(values: Sequence[Decimal]) -> Decimal:
    acc = ZERO
    for v in values:
        acc = MONEY_CONTEXT.add(acc, v)
    return acc
