"""Named rounding modes and the one function that rounds an amount or quantity."""

from __future__ import annotations

import decimal
from decimal import Decimal
from enum import StrEnum

from tally.money.context import MONEY_CONTEXT


class RoundingMode(StrEnum):
    """Every rounding mode tally uses, under the names Metronome's API gives them.

    ROUND_UP / ROUND_DOWN are the product ``quantity_rounding`` names (away from / toward zero);
    HALF_UP / FLOOR / CEILING are the proration-rounding names.
    """

    ROUND_UP = "ROUND_UP"
    ROUND_DOWN = "ROUND_DOWN"
    ROUND_HALF_UP = "ROUND_HALF_UP"
    HALF_UP = "HALF_UP"
    HALF_EVEN = "HALF_EVEN"
    FLOOR = "FLOOR"
    CEILING = "CEILING"


_DECIMAL_MODE = {
    RoundingMode.ROUND_UP: decimal.ROUND_UP,
    RoundingMode.ROUND_DOWN: decimal.ROUND_DOWN,
    RoundingMode.ROUND_HALF_UP: decimal.ROUND_HALF_UP,
    RoundingMode.HALF_UP: decimal.ROUND_HALF_UP,
    RoundingMode.HALF_EVEN: decimal.ROUND_HALF_EVEN,
    RoundingMode.FLOOR: decimal.ROUND_FLOOR,
    RoundingMode.CEILING: decimal.ROUND_CEILING,
}

_EXPONENTS: dict[int, Decimal] = {}


def exponent(decimal_places: int) -> Decimal:
    """``Decimal('1E-n')`` for n decimal places; negative places give powers of ten (-2 -> 100)."""
    found = _EXPONENTS.get(decimal_places)
    if found is None:
        found = Decimal(1).scaleb(-decimal_places, MONEY_CONTEXT)
        _EXPONENTS[decimal_places] = found
    return found


def round_to(value: Decimal, decimal_places: int, mode: RoundingMode | str) -> Decimal:
    """Round ``value`` to ``decimal_places`` with a named mode.

    Negative ``decimal_places`` round to powers of ten (SPEC §10.5: -2 on USD cents = whole dollars);
    the result is then returned with exponent 0 so it prints as a plain integer.
    """
    rounding = _DECIMAL_MODE[mode if isinstance(mode, RoundingMode) else RoundingMode(mode)]
    if decimal_places >= 0:
        return value.quantize(exponent(decimal_places), rounding=rounding, context=MONEY_CONTEXT)
    scale = exponent(decimal_places)  # e.g. 100
    units = MONEY_CONTEXT.divide(value, scale).quantize(Decimal(1), rounding=rounding, context=MONEY_CONTEXT)
    return MONEY_CONTEXT.multiply(units, scale).quantize(Decimal(1), context=MONEY_CONTEXT)
