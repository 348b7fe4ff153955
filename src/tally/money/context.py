"""The decimal context every money, metering and rating computation runs in.

The thread's default context is never used: it can be changed by any library at any time. Every helper
here passes ``MONEY_CONTEXT`` explicitly, and ``money_context()`` installs it for a block of code that
uses operators.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable
from contextlib import AbstractContextManager
from decimal import Decimal

#: 50 significant digits (SPEC §10), banker's rounding for the rare intermediate result that exceeds
#: it, and traps on every operation that would otherwise silently lose exactness or produce NaN.
MONEY_CONTEXT = decimal.Context(
    prec=50,
    rounding=decimal.ROUND_HALF_EVEN,
    Emin=-999999,
    Emax=999999,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)

ZERO = Decimal(0)
ONE = Decimal(1)


def money_context() -> AbstractContextManager[decimal.Context]:
    """``with money_context(): ...`` runs operator arithmetic in ``MONEY_CONTEXT``."""
    return decimal.localcontext(MONEY_CONTEXT)


def add(a: Decimal, b: Decimal) -> Decimal:
    return MONEY_CONTEXT.add(a, b)


def sub(a: Decimal, b: Decimal) -> Decimal:
    return MONEY_CONTEXT.subtract(a, b)


def mul(a: Decimal, b: Decimal) -> Decimal:
    return MONEY_CONTEXT.multiply(a, b)


def div(a: Decimal, b: Decimal) -> Decimal:
    return MONEY_CONTEXT.divide(a, b)


def total(values: Iterable[Decimal]) -> Decimal:
    acc = ZERO
    for v in values:
        acc = MONEY_CONTEXT.add(acc, v)
    return acc


def to_decimal(value: object) -> Decimal:
    """Parse a wire value (str, int or Decimal) to Decimal. Floats are refused: they are already inexact."""
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except decimal.InvalidOperation:
            raise ValueError(f"not a decimal number: {value!r}") from None
    else:
        raise TypeError(f"money and quantities must be str, int or Decimal, not {type(value).__name__}")
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return result
