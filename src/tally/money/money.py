"""Money: an amount in a credit type's unit. Arithmetic refuses to mix credit types."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tally.money.context import MONEY_CONTEXT
from tally.money.credit_types import CreditType
from tally.money.rounding import RoundingMode


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    credit_type: CreditType

    def _check(self, other: Money) -> None:
        if other.credit_type.id != self.credit_type.id:
            raise ValueError(f"cannot combine {self.credit_type.name} with {other.credit_type.name}")

    def __add__(self, other: Money) -> Money:
        self._check(other)
        return Money(MONEY_CONTEXT.add(self.amount, other.amount), self.credit_type)

    def __sub__(self, other: Money) -> Money:
        self._check(other)
        return Money(MONEY_CONTEXT.subtract(self.amount, other.amount), self.credit_type)

    def __neg__(self) -> Money:
        return Money(MONEY_CONTEXT.minus(self.amount), self.credit_type)

    def times(self, factor: Decimal) -> Money:
        return Money(MONEY_CONTEXT.multiply(self.amount, factor), self.credit_type)

    def rounded(self, mode: RoundingMode | str = RoundingMode.HALF_UP) -> Money:
        return Money(self.credit_type.round(self.amount, mode), self.credit_type)

    @classmethod
    def zero(cls, credit_type: CreditType) -> Money:
        return cls(Decimal(0), credit_type)
