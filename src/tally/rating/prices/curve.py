"""Price curves: the unit price as a step function of the cumulative quantity in the period.

Every usage price model reduces to a curve: FLAT is one unbounded band, TIERED one band per tier,
and overrides reshape the curve (a multiplier scales it, a tiered override scales bands of it).
The charge for the quantity between cumulative positions c0 and c1 is ``G(c1) - G(c0)`` where G is
the curve's integral. That makes graduated tiers exact at every boundary and independent of how the
period's usage is split into buckets.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from tally.money.context import MONEY_CONTEXT, ZERO


@dataclass(frozen=True, slots=True)
class Band:
    """Units in ``[start, end)`` of the period's cumulative quantity cost ``unit_price`` each."""

    start: Decimal
    end: Decimal | None
    unit_price: Decimal


Curve = tuple[Band, ...]


def flat_curve(price: Decimal) -> Curve:
    return (Band(ZERO, None, price),)


def curve_from_sizes(steps: Sequence[tuple[Decimal | None, Decimal]]) -> Curve:
    """Bands from ``(size, value)`` pairs; ``size=None`` (only last) is unbounded.

    If the last step is bounded, the curve continues past it at the last value (SPEC §4.3 says the
    last tier is unbounded; a bounded last tier is treated the same way).
    """
    if not steps:
        raise ValueError("a tiered price needs at least one tier")
    bands: list[Band] = []
    start = ZERO
    for i, (size, value) in enumerate(steps):
        last = i == len(steps) - 1
        if size is None or last:
            bands.append(Band(start, None, value))
            break
        if size <= 0:
            raise ValueError("tier sizes must be positive")
        end = MONEY_CONTEXT.add(start, size)
        bands.append(Band(start, end, value))
        start = end
    return tuple(bands)


def unit_price_at(curve: Curve, x: Decimal) -> Decimal:
    """Unit price of the unit starting at position ``x`` (a boundary belongs to the next band)."""
    for band in curve:
        if band.end is None or x < band.end:
            return band.unit_price
    return curve[-1].unit_price


def integral(curve: Curve, x: Decimal) -> Decimal:
    """G(x): the charge for cumulative quantity 0..x. Below zero the first band extends linearly."""
    ctx = MONEY_CONTEXT
    if x <= 0:
        return ctx.multiply(x, curve[0].unit_price)
    acc = ZERO
    for band in curve:
        if band.end is None or x <= band.end:
            return ctx.add(acc, ctx.multiply(ctx.subtract(x, band.start), band.unit_price))
        acc = ctx.add(acc, ctx.multiply(ctx.subtract(band.end, band.start), band.unit_price))
    return acc  # pragma: no cover - the last band is unbounded


def charge(curve: Curve, c0: Decimal, quantity: Decimal) -> Decimal:
    """The charge for ``quantity`` units following cumulative position ``c0``."""
    if len(curve) == 1:
        return MONEY_CONTEXT.multiply(quantity, curve[0].unit_price)
    return MONEY_CONTEXT.subtract(integral(curve, MONEY_CONTEXT.add(c0, quantity)), integral(curve, c0))


def band_split(curve: Curve, c0: Decimal, quantity: Decimal) -> list[tuple[int, Decimal, Decimal]]:
    """``(band index, quantity, charge)`` for each band the interval [c0, c0+quantity) touches."""
    ctx = MONEY_CONTEXT
    c1 = ctx.add(c0, quantity)
    lo, hi, sign = (c0, c1, 1) if quantity >= 0 else (c1, c0, -1)
    out: list[tuple[int, Decimal, Decimal]] = []
    for i, band in enumerate(curve):
        start = band.start if i > 0 else min(band.start, lo)
        a = max(lo, start)
        b = hi if band.end is None else min(hi, band.end)
        if b > a:
            q = ctx.subtract(b, a) if sign > 0 else ctx.subtract(a, b)
            out.append((i, q, ctx.multiply(q, band.unit_price)))
    return out


def reshape(base: Curve, breakpoints: Sequence[Decimal], factor: Callable[[Decimal], Decimal]) -> Curve:
    """A new curve: the base price times ``factor(position)``, constant between breakpoints."""
    points = sorted({b.start for b in base} | {b.end for b in base if b.end is not None} | set(breakpoints))
    points = [p for p in points if p >= 0]
    bands: list[Band] = []
    for i, start in enumerate(points):
        end = points[i + 1] if i + 1 < len(points) else None
        price = MONEY_CONTEXT.multiply(unit_price_at(base, start), factor(start))
        if bands and bands[-1].unit_price == price:
            bands[-1] = Band(bands[-1].start, end, price)
        else:
            bands.append(Band(start, end, price))
    return tuple(bands)


def scale(curve: Curve, multiplier: Decimal) -> Curve:
    return tuple(Band(b.start, b.end, MONEY_CONTEXT.multiply(b.unit_price, multiplier)) for b in curve)
