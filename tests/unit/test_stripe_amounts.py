"""tally invoice JSON -> Stripe items in minor units (collection/amounts.py), and the sealing of the
Stripe key at rest (billing_providers/sealing.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tally.billing_providers import sealing
from tally.collection import amounts
from tally.money.credit_types import USD_CENTS_ID, fiat_id

EUR = fiat_id("EUR")


def _doc(ct: str, lines: list[Decimal]) -> dict[str, Any]:
    return {
        "credit_type": {"id": ct, "name": "x"},
        "total": sum(lines, Decimal(0)),
        "start_timestamp": "2026-01-01T00:00:00Z",
        "end_timestamp": "2026-02-01T00:00:00Z",
        "line_items": [
            {"credit_type": {"id": ct, "name": "x"}, "name": f"L{i}", "total": v, "type": "scheduled"}
            for i, v in enumerate(lines)
        ],
    }


def test_usd_cents_are_sent_as_they_are_and_euros_times_100() -> None:
    # USD (cents): 1500 + 250 = 1750 cents. EUR counts whole euros: 12.34 + 0.66 = 13.00 EUR = 1300 cents.
    usd = amounts.plan(_doc(USD_CENTS_ID, [Decimal(1500), Decimal(250), Decimal(0)]))
    assert (usd.currency, usd.total, [i.amount for i in usd.items]) == ("usd", 1750, [1500, 250])
    assert [i.index for i in usd.items] == [0, 1]  # the zero line is not sent
    assert usd.items[0].period_start == 1767225600  # 2026-01-01T00:00:00Z: the invoice period
    eur = amounts.plan(_doc(EUR, [Decimal("12.34"), Decimal("0.66")]))
    assert (eur.currency, eur.total, [i.amount for i in eur.items]) == ("eur", 1300, [1234, 66])


def test_a_custom_pricing_unit_is_not_sendable() -> None:
    with pytest.raises(amounts.NotSendable):
        amounts.plan(_doc("00000000-0000-0000-0000-000000000000", [Decimal(1)]))


@given(st.lists(st.decimals(min_value=-(10**6), max_value=10**6, places=2), min_size=0, max_size=12))
def test_items_always_add_up_to_the_invoice_total(values: list[Decimal]) -> None:
    # Lines in EUR with cents; sent x100 and rounded half-up; the items (plus a rounding item if ever
    # needed) add up to the rounded invoice total exactly.
    p = amounts.plan(_doc(EUR, values))
    assert sum(i.amount for i in p.items) == p.total
    assert all(i.amount != 0 for i in p.items)


def test_sealed_secrets_round_trip_and_need_the_server_key() -> None:
    key, other = b"k" * 32, b"o" * 32
    sealed = sealing.seal(key, "salt1", "stripe secret key", "sk_test_123")
    assert "sk_test_123" not in sealed
    assert sealing.unseal(key, "salt1", "stripe secret key", sealed) == "sk_test_123"
    assert sealing.unseal(other, "salt1", "stripe secret key", sealed) is None
    assert sealing.unseal(key, "salt2", "stripe secret key", sealed) is None
    assert sealing.unseal(key, "salt1", "stripe webhook secret", sealed) is None
