"""How tally writes a decimal as text: plain notation, no exponent, trailing zeros dropped."""

from __future__ import annotations

from decimal import Decimal


def plain(value: Decimal) -> str:
    """``Decimal("1.2E+3")`` -> ``"1200"``, ``Decimal("85.50")`` -> ``"85.5"``, any zero -> ``"0"``."""
    if value == 0:
        return "0"
    return format(value.normalize(), "f")
