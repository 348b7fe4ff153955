"""How event property values are read: their string form (filters, groups, UNIQUE) and exact quantities.

Decisions (SPEC §1.5 leaves them to tally):
- A JSON `null` property is treated exactly like an absent property.
- The string form of a value is the text it was sent as: strings verbatim, JSON numbers as their exact
  decimal text (`1.50` stays "1.50"), booleans as "true"/"false". Filters compare this form exactly.
- A quantity is a JSON number or a numeric string ("12.5", "-3", "1e3"; no "1_000", spaces, NaN or
  infinities), parsed exactly. Anything else (including numbers outside 38 integer digits / 20 decimal
  places) is "not a number": the event then does not match SUM, MAX or LATEST metrics at all.
"""

from __future__ import annotations

import re
from decimal import Context, Decimal, Inexact, InvalidOperation, Overflow
from typing import Any

# Sums of bounded quantities stay far inside 100 digits; trapping Inexact turns any surprise into an
# error instead of a silently rounded bill.
CONTEXT = Context(prec=100, Emax=999_999, Emin=-999_999, traps=[Inexact, InvalidOperation, Overflow])

MAX_ADJUSTED_EXPONENT = 38
MIN_EXPONENT = -20

_NUMERIC = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,3})?$")


def string_form(value: Any) -> str | None:
    """The string a filter or group compares; None for an absent/null value."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    return str(value)


def _bounded(value: Decimal) -> Decimal | None:
    if not value.is_finite():
        return None
    if value == 0:
        return value
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    if value.adjusted() > MAX_ADJUSTED_EXPONENT or exponent < MIN_EXPONENT:
        return None
    return value


def quantity(value: Any) -> Decimal | None:
    """The exact number a property holds, or None when it is not a number tally can sum exactly."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return _bounded(value)
    if isinstance(value, int):
        return _bounded(Decimal(value))
    if isinstance(value, str):
        if len(value) > 80 or not _NUMERIC.match(value):
            return None
        try:
            return _bounded(Decimal(value))
        except InvalidOperation:
            return None
    return None


def add(a: Decimal, b: Decimal) -> Decimal:
    return CONTEXT.add(a, b)
