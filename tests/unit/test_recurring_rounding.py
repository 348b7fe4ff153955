"""Prorated recurring commit/credit amounts round to the credit type's own precision unless the template
says otherwise (SPEC §5.7, §10): whole cents for USD, the minor unit for other fiat."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tally.contracts.balances.recurring import _round
from tally.contracts.terms import model
from tally.money.credit_types import USD_CENTS_ID, fiat_id

EXACT = Decimal("548.387096774193548387")  # 1000 x 17/31


@pytest.mark.parametrize(
    ("credit_type_id", "rounding", "expected"),
    [
        (USD_CENTS_ID, None, Decimal("548")),
        (None, None, Decimal("548")),
        (fiat_id("EUR"), None, Decimal("548.39")),
        ("custom-tokens", None, Decimal("548.387097")),
        (USD_CENTS_ID, {"decimal_places": 0, "rounding_method": "FLOOR"}, Decimal("548")),
        (USD_CENTS_ID, {"decimal_places": -2, "rounding_method": "CEILING"}, Decimal("600")),
        (fiat_id("EUR"), {"decimal_places": 1, "rounding_method": "HALF_UP"}, Decimal("548.4")),
    ],
)
def test_proration_rounding(
    credit_type_id: str | None, rounding: dict[str, object] | None, expected: Decimal
) -> None:
    typed = None if rounding is None else model.parse(rounding, model.Rounding)
    assert _round(EXACT, typed, credit_type_id) == expected
