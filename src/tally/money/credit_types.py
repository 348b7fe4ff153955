"""Credit types: the unit every amount is counted in (SPEC §0.1, §4.1, §6.7, §10).

* USD is "USD (cents)": amounts are cents, and a line rounds to whole cents (0 decimal places).
* Every other fiat currency counts whole units (€10.00 is ``10``); a line rounds to the currency's
  minor unit, i.e. 2 decimal places (0 for currencies without one).
* A custom pricing unit (CPU, e.g. "tokens") has the precision it was created with, and converts to
  the rate card's fiat currency at ``fiat_per_custom_credit`` fiat units (cents for USD) per 1 CPU.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from tally.money.context import MONEY_CONTEXT
from tally.money.rounding import RoundingMode, round_to

USD_CENTS_ID = "2714e483-4ff1-48e4-9e25-ac732e8f24f2"
# Fiat ids other than USD are uuid5 in this namespace: identical on every tally installation.
_FIAT_NAMESPACE = uuid.UUID("6f1f3c1e-7a52-4b8e-9d0f-8a7f0b6c2d11")

FIAT_CODES: tuple[str, ...] = (
    "USD",
    "AUD",
    "BRL",
    "CAD",
    "CHF",
    "CZK",
    "EUR",
    "GBP",
    "INR",
    "MXN",
    "NGN",
    "NOK",
    "PLN",
    "SEK",
    "TRY",
    "ZAR",
    "NZD",
    "SGD",
)


class CreditTypeKind(StrEnum):
    FIAT = "FIAT"
    CUSTOM = "CUSTOM"


@dataclass(frozen=True, slots=True)
class CreditType:
    """A pricing unit. ``decimal_places`` is the precision of a rounded amount in this unit."""

    id: str
    name: str
    kind: CreditTypeKind
    decimal_places: int
    code: str | None = None

    @property
    def is_fiat(self) -> bool:
        return self.kind is CreditTypeKind.FIAT

    def round(self, amount: Decimal, mode: RoundingMode | str = RoundingMode.HALF_UP) -> Decimal:
        return round_to(amount, self.decimal_places, mode)


def fiat_id(code: str) -> str:
    if code == "USD":
        return USD_CENTS_ID
    return str(uuid.uuid5(_FIAT_NAMESPACE, f"fiat:{code}"))


def fiat(code: str) -> CreditType:
    """The fiat credit type for an ISO code among Metronome's supported currencies."""
    code = code.upper()
    if code not in FIAT_CODES:
        raise ValueError(f"unsupported fiat currency {code!r}")
    if code == "USD":
        return CreditType(USD_CENTS_ID, "USD (cents)", CreditTypeKind.FIAT, 0, "USD")
    return CreditType(fiat_id(code), code, CreditTypeKind.FIAT, 2, code)


USD = fiat("USD")
FIAT_BY_ID: dict[str, CreditType] = {fiat_id(c): fiat(c) for c in FIAT_CODES}


def custom_pricing_unit(id: str, name: str, decimal_places: int = 6) -> CreditType:
    """A custom pricing unit; its precision is chosen when it is created (default 6 places)."""
    return CreditType(id, name, CreditTypeKind.CUSTOM, decimal_places)


@dataclass(frozen=True, slots=True)
class CreditTypeConversion:
    """``fiat_per_custom_credit`` = fiat amount (in the fiat type's unit: cents for USD) per 1 custom unit."""

    custom_credit_type_id: str
    fiat_per_custom_credit: Decimal

    def to_fiat(self, custom_amount: Decimal) -> Decimal:
        return MONEY_CONTEXT.multiply(custom_amount, self.fiat_per_custom_credit)

    def to_custom(self, fiat_amount: Decimal) -> Decimal:
        return MONEY_CONTEXT.divide(fiat_amount, self.fiat_per_custom_credit)
