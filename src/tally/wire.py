"""Wire-level codecs shared by every endpoint: exact JSON, RFC 3339 timestamps, decimal quantities.

JSON numbers are decoded straight to Decimal (never float); datetimes go out as RFC 3339 UTC with `Z`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec

from tally.errors import BadRequest

# Largest magnitude and finest scale tally stores exactly (NUMERIC on PostgreSQL, text on SQLite).
MAX_ADJUSTED_EXPONENT = 38
MIN_EXPONENT = -20

# Bounds on any JSON number, checked on its text before anything converts it. `1e999999999` is 11 bytes,
# but turning it into an int (as a pydantic `int` field would) builds a billion-digit integer while holding
# the interpreter lock. Within these bounds every conversion is cheap; fields then apply their own ranges.
MAX_NUMBER_CHARS = 400
MAX_NUMBER_EXPONENT = 400


def _json_number(text: str) -> Decimal:
    """msgspec's hook for every non-integer JSON number: the raw text, parsed exactly to Decimal.

    Cost is linear in the text: the length is checked first, and `Decimal(text)` only records the exponent.
    Integers without a fraction or exponent never reach here; msgspec bounds those itself."""
    if len(text) > MAX_NUMBER_CHARS:
        raise _NumberOutOfRange(f"{text[:20]}... has more than {MAX_NUMBER_CHARS} characters")
    try:
        value = Decimal(text)
    except InvalidOperation:  # an exponent too large for the decimal module itself
        raise _NumberOutOfRange(f"{text[:40]} is out of range") from None
    if value and abs(value.adjusted()) > MAX_NUMBER_EXPONENT:
        raise _NumberOutOfRange(f"{text[:40]} is out of range (exponent beyond ±{MAX_NUMBER_EXPONENT})")
    return value


class _NumberOutOfRange(Exception):
    pass


_decoder = msgspec.json.Decoder(float_hook=_json_number)
_encoder = msgspec.json.Encoder(decimal_format="number")


def decode_json(raw: bytes) -> Any:
    try:
        return _decoder.decode(raw)
    except _NumberOutOfRange as exc:
        raise BadRequest(f"Request body has a number tally cannot accept: {exc}") from None
    except msgspec.DecodeError as exc:
        raise BadRequest(f"Request body is not valid JSON: {exc}") from None
    except UnicodeDecodeError as exc:
        raise BadRequest(f"Request body is not valid UTF-8 (byte {exc.start})") from None
    except RecursionError:
        raise BadRequest("Request body is nested too deeply") from None


def encode_json(value: Any) -> bytes:
    return _encoder.encode(value)


def check_decimal(value: Decimal, field: str) -> Decimal:
    """Reject values tally cannot store exactly: NaN, infinities, and absurd magnitudes or scales."""
    if not value.is_finite():
        raise BadRequest(f"{field}: must be a finite number")
    if value != 0 and (value.adjusted() > MAX_ADJUSTED_EXPONENT or value.as_tuple().exponent < MIN_EXPONENT):  # type: ignore[operator]
        raise BadRequest(f"{field}: number out of range (at most 38 integer digits and 20 decimal places)")
    return value


_DECIMAL_STRING = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,3})?$", re.ASCII)


def parse_decimal_string(text: str, field: str) -> Decimal:
    """Parse a numeric string exactly. Only ASCII digits; no underscores, spaces, NaN or infinities."""
    if not _DECIMAL_STRING.match(text):
        raise BadRequest(f"{field}: {text[:40]!r} is not a decimal number")
    try:
        return check_decimal(Decimal(text), field)
    except InvalidOperation:
        raise BadRequest(f"{field}: {text[:40]!r} is not a decimal number") from None


_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
    r"(?:([Zz])|([+-])(\d{2}):?(\d{2}))?$",
    re.ASCII,
)


def parse_timestamp(text: str, field: str) -> datetime:
    """Parse every RFC 3339 form the SDK sends; a missing offset means UTC. Result is aware UTC."""
    m = _RFC3339.match(text) if isinstance(text, str) else None
    if not m:
        raise BadRequest(f"{field}: {str(text)[:40]!r} is not an RFC 3339 timestamp")
    year, month, day, hour, minute = (int(m.group(i)) for i in range(1, 6))
    second = int(m.group(6) or 0)
    micro = int((m.group(7) or "0").ljust(6, "0")[:6])
    tz = UTC
    if m.group(9):
        oh, om = int(m.group(10)), int(m.group(11))
        if oh > 23 or om > 59:
            raise BadRequest(f"{field}: {text[:40]!r} has an invalid UTC offset")
        delta = timedelta(hours=oh, minutes=om)
        tz = timezone(-delta if m.group(9) == "-" else delta)
    try:
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=tz).astimezone(UTC)
    except (ValueError, OverflowError):
        raise BadRequest(f"{field}: {text[:40]!r} is not a valid date and time") from None


def as_timestamp(value: str | datetime, field: str = "timestamp") -> datetime:
    """A stored timestamp (an RFC 3339 string, or already a datetime) as an aware UTC datetime."""
    return value if isinstance(value, datetime) else parse_timestamp(value, field)


def optional_timestamp(value: str | datetime | None, field: str = "timestamp") -> datetime | None:
    return None if value is None else as_timestamp(value, field)


def format_timestamp(value: datetime) -> str:
    value = value.astimezone(UTC)
    base = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        base += (
            f".{value.microsecond // 1000:03d}"
            if value.microsecond % 1000 == 0
            else f".{value.microsecond:06d}"
        )
    return base + "Z"
