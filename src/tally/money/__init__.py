"""Pure money: credit types, exact Decimal arithmetic in an owned context, rounding, allocation."""

from tally.money.allocation import allocate, split_evenly
from tally.money.context import MONEY_CONTEXT, money_context, to_decimal
from tally.money.credit_types import (
    USD,
    USD_CENTS_ID,
    CreditType,
    CreditTypeConversion,
    CreditTypeKind,
    custom_pricing_unit,
    fiat,
)
from tally.money.money import Money
from tally.money.rounding import RoundingMode, round_to

__all__ = [
    "MONEY_CONTEXT",
    "USD",
    "USD_CENTS_ID",
    "CreditType",
    "CreditTypeConversion",
    "CreditTypeKind",
    "Money",
    "RoundingMode",
    "allocate",
    "custom_pricing_unit",
    "fiat",
    "money_context",
    "round_to",
    "split_evenly",
    "to_decimal",
]
