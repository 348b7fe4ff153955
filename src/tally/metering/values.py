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
import threading
from decimal import Context, Decimal, Inexact, InvalidOperation, Overflow
from typing import Any

import msgspec

# Sums of bounded quantities stay far inside 100 digits; trapping Inexact turns any surprise into an
# error instead of a silently rounded bill.
CONTEXT = Context(prec=100, Emax=999_999, Emin=-999_999, traps=[Inexact, InvalidOperation, Overflow])

MAX_ADJUSTED_EXPONENT = 38
MIN_EXPONENT = -20

_json = msgspec.json.Encoder(decimal_format="number")
_NUMERIC = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,3})?$")


def string_form(value: Any) -> str | None:
    """The string a filter or group compares; None for an absent/null value."""
    if type(value) is str or value is None:
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    # Nested lists/objects: their compact JSON text.
    return _json.encode(value).decode()


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


def _parse(text: str) -> Decimal | None:
    if len(text) > 80 or not _NUMERIC.match(text):
        return None
    try:
        return _bounded(Decimal(text))
    except InvalidOperation:
        return None


# Numeric strings repeat a lot ("1", "250", ...): parsing each once is most of metering's CPU at ingest.
_parsed: dict[str, Decimal | None] = {}
_parsed_lock = threading.Lock()
_MAX_PARSED = 50_000
_MISS = object()


def quantity(value: Any) -> Decimal | None:
    """The exact number a property holds, or None when it is not a number tally can sum exactly."""
    if type(value) is str:
        hit = _parsed.get(value, _MISS)
        if hit is not _MISS:
            return hit  # type: ignore[return-value]
        q = _parse(value)
        if len(_parsed) >= _MAX_PARSED:
            with _parsed_lock:
                _parsed.clear()
        _parsed[value] = q
        return q
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return _bounded(value)
    if isinstance(value, int):
        return _bounded(Decimal(value))
    return None


def add(a: Decimal, b: Decimal) -> Decimal:
    return CONTEXT.add(a, b)
