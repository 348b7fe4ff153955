from __future__ import annotations

import decimal
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tally.money import (
    USD,
    CreditTypeConversion,
    Money,
    RoundingMode,
    allocate,
    custom_pricing_unit,
    fiat,
    money_context,
    round_to,
    split_evenly,
    to_decimal,
)
from tally.money.context import MONEY_CONTEXT


def test_usd_is_cents_and_other_fiat_whole_units() -> None:
    assert USD.id == "2714e483-4ff1-48e4-9e25-ac732e8f24f2"
    assert USD.decimal_places == 0
    assert USD.round(Decimal("85.5")) == Decimal(86)
    eur = fiat("EUR")
    assert eur.decimal_places == 2
    assert eur.round(Decimal("10.005")) == Decimal("10.01")
    with pytest.raises(ValueError, match="unsupported"):
        fiat("XXX")


def test_custom_pricing_unit_precision_and_conversion() -> None:
    tokens = custom_pricing_unit("tok", "tokens", decimal_places=3)
    assert tokens.round(Decimal("1.23456")) == Decimal("1.235")
    conv = CreditTypeConversion("tok", Decimal(2))
    assert conv.to_fiat(Decimal(3500)) == Decimal(7000)
    assert conv.to_custom(Decimal(7000)) == Decimal(3500)


@pytest.mark.parametrize(
    ("mode", "value", "places", "expected"),
    [
        (RoundingMode.ROUND_UP, "3.41796875", 0, "4"),
        (RoundingMode.ROUND_DOWN, "3.9", 0, "3"),
        (RoundingMode.ROUND_HALF_UP, "3.415", 2, "3.42"),
        (RoundingMode.HALF_UP, "548.387", 0, "548"),
        (RoundingMode.FLOOR, "-1.5", 0, "-2"),
        (RoundingMode.CEILING, "1.1", 0, "2"),
        (RoundingMode.HALF_EVEN, "2.5", 0, "2"),
        (RoundingMode.HALF_UP, "1250", -2, "1300"),  # negative places: whole dollars on cents
        (RoundingMode.FLOOR, "1299", -2, "1200"),
    ],
)
def test_named_rounding_modes(mode: RoundingMode, value: str, places: int, expected: str) -> None:
    assert round_to(Decimal(value), places, mode) == Decimal(expected)


def test_money_refuses_mixed_credit_types() -> None:
    with pytest.raises(ValueError, match="cannot combine"):
        _ = Money(Decimal(1), USD) + Money(Decimal(1), fiat("EUR"))
    assert (Money(Decimal("1.5"), USD) + Money(Decimal(2), USD)).rounded().amount == Decimal(4)


def test_floats_are_refused() -> None:
    with pytest.raises(TypeError):
        to_decimal(0.1)
    assert to_decimal("0.1") == Decimal("0.1")
    with pytest.raises(ValueError, match="finite"):
        to_decimal("NaN")


def test_owned_context_ignores_thread_default() -> None:
    ctx = decimal.getcontext()
    old = ctx.prec
    try:
        ctx.prec = 3
        assert MONEY_CONTEXT.multiply(Decimal("1.23456"), Decimal(1)) == Decimal("1.23456")
        with money_context():
            assert Decimal("1.23456") * 1 == Decimal("1.23456")
    finally:
        ctx.prec = old


def test_allocation_examples() -> None:
    assert allocate(Decimal(100), [Decimal(1)] * 3) == (Decimal(34), Decimal(33), Decimal(33))
    assert split_evenly(Decimal(1000000), 3) == (Decimal(333334), Decimal(333333), Decimal(333333))
    assert allocate(Decimal(-10), [Decimal(1), Decimal(3)]) == (Decimal(-3), Decimal(-7)) or allocate(
        Decimal(-10), [Decimal(1), Decimal(3)]
    ) == (Decimal(-2), Decimal(-8))
    assert allocate(Decimal(0), [Decimal(0), Decimal(0)]) == (Decimal(0), Decimal(0))


# PB-2: parts sum to the whole; no part moves more than one unit; no part negative.
@settings(max_examples=200, deadline=None)
@given(
    whole=st.integers(min_value=0, max_value=10**9),
    weights=st.lists(st.decimals(min_value=0, max_value=10**6, places=3), min_size=1, max_size=12),
    places=st.integers(min_value=0, max_value=3),
)
def test_pb2_largest_remainder(whole: int, weights: list[Decimal], places: int) -> None:
    amount = Decimal(whole).scaleb(-places)
    parts = allocate(amount, weights, places)
    assert sum(parts, Decimal(0)) == amount
    unit = Decimal(1).scaleb(-places)
    total_w = sum(weights, Decimal(0))
    for part, w in zip(parts, weights, strict=True):
        assert part >= 0
        exact = amount * w / total_w if total_w else amount / len(weights)
        assert abs(part - exact) <= unit
