"""Spend trackers as threshold billing reads them (tally.invoices.thresholds.spend_trackers),
hand-computed: which commit purchases a tracker counts, and the payment fraction its cap leaves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from tally.invoices.thresholds import spend_trackers as st
from tally.money.credit_types import USD_CENTS_ID
from tally.rating.periods import Period

JAN = datetime(2025, 1, 1, tzinfo=UTC)
FEB = datetime(2025, 2, 1, tzinfo=UTC)
PERIOD = Period(JAN, FEB)


@dataclass(frozen=True)
class _Balance:
    doc: dict[str, Any]
    kind: str = "PREPAID"
    archived_at: datetime | None = None


def _purchase(
    *items: tuple[str, str], threshold: bool = False, discounted: bool | None = None, **sched: Any
) -> _Balance:
    doc: dict[str, Any] = {
        "invoice_schedule": {**sched, "schedule_items": [{"timestamp": t, "amount": a} for t, a in items]}
    }
    if threshold:
        doc["threshold_billing"] = {"source": "SPEND_THRESHOLD"}
    if discounted is not None:
        doc["spend_tracker_attributes"] = {"counts_as_discounted": discounted}
    return _Balance(doc)


@pytest.mark.parametrize(
    ("spec", "source", "discounted", "counted"),
    [
        ({"sources": ["MANUAL"]}, "MANUAL", False, True),
        ({"sources": ["MANUAL"]}, "THRESHOLD_RECHARGE", False, False),
        ({"sources": ["MANUAL"], "spend_type": "USAGE"}, "MANUAL", False, False),
        ({"sources": ["MANUAL"], "discounted": "DISCOUNTED_ONLY"}, "MANUAL", True, True),
        ({"sources": ["MANUAL"], "discounted": "DISCOUNTED_ONLY"}, "MANUAL", False, False),
        ({"sources": ["MANUAL"], "discounted": "NON_DISCOUNTED_ONLY"}, "MANUAL", False, True),
        ({"sources": ["MANUAL"], "discounted": "NON_DISCOUNTED_ONLY"}, "MANUAL", True, False),
        ({}, "MANUAL", False, False),  # no sources: counts nothing
    ],
)
def test_counts(spec: dict[str, Any], source: str, discounted: bool, counted: bool) -> None:
    assert st.counts(spec, source, discounted) is counted


def test_tracked_sums_the_counted_purchases_invoiced_in_the_period() -> None:
    tracker = {
        "credit_type_id": USD_CENTS_ID,
        "applicable_spend_specifiers": [{"sources": ["THRESHOLD_RECHARGE"], "discounted": "DISCOUNTED_ONLY"}],
    }
    balances = [
        # counted: a discounted threshold commit, two items in January (300 + 200) and one in February
        _purchase(
            ("2025-01-05T00:00:00Z", "300"),
            ("2025-01-31T23:00:00Z", "200"),
            ("2025-02-01T00:00:00Z", "999"),
            threshold=True,
            discounted=True,
        ),
        _purchase(("2025-01-10T00:00:00Z", "40"), threshold=True, discounted=False),  # not discounted
        _purchase(("2025-01-10T00:00:00Z", "50"), discounted=True),  # MANUAL
        _purchase(("2025-01-10T00:00:00Z", "60"), threshold=True, discounted=True, do_not_invoice=True),
        _purchase(("2025-01-10T00:00:00Z", "70"), threshold=True, discounted=True, credit_type_id="eur"),
        _Balance(
            _purchase(("2025-01-10T00:00:00Z", "80"), threshold=True, discounted=True).doc, kind="CREDIT"
        ),
        _Balance(
            _purchase(("2025-01-10T00:00:00Z", "90"), threshold=True, discounted=True).doc, archived_at=JAN
        ),
    ]
    # 300 + 200 = 500
    assert st.tracked(balances, tracker, PERIOD) == Decimal("500")


def _cfg(fraction: str | None, cap: dict[str, Any] | None = None) -> dict[str, Any]:
    dc: dict[str, Any] = {} if fraction is None else {"payment_fraction": fraction}
    if cap is not None:
        dc["cap"] = cap
    return {"discount_configuration": dc}


TERMS = {"spend_trackers": [{"alias": "t", "applicable_spend_specifiers": [{"sources": ["MANUAL"]}]}]}
SPENT_600 = [_purchase(("2025-01-10T00:00:00Z", "600"))]  # 600 of MANUAL purchases in January


def _never() -> list[_Balance]:
    raise AssertionError("balances are read only when a cap applies")


def test_payment_fraction_without_discount_is_the_full_price() -> None:
    assert st.payment_fraction({}, TERMS, PERIOD, _never) == Decimal(1)
    assert st.payment_fraction(_cfg(None), TERMS, PERIOD, _never) == Decimal(1)


def test_payment_fraction_without_cap() -> None:
    assert st.payment_fraction(_cfg("0.75"), TERMS, PERIOD, _never) == Decimal("0.75")


@pytest.mark.parametrize(("cap", "fraction"), [("601", "0.75"), ("600", "1"), ("599", "1")])
def test_payment_fraction_is_full_once_the_cap_is_tracked(cap: str, fraction: str) -> None:
    # tracked 600: below a cap of 601 the discount holds; at 600 or over it is used up
    cfg = _cfg("0.75", {"spend_tracker_alias": "t", "amount": cap})
    assert st.payment_fraction(cfg, TERMS, PERIOD, lambda: SPENT_600) == Decimal(fraction)


def test_payment_fraction_cap_without_its_tracker_or_period_keeps_the_discount() -> None:
    cfg = _cfg("0.75", {"spend_tracker_alias": "missing", "amount": "1"})
    assert st.payment_fraction(cfg, TERMS, PERIOD, lambda: SPENT_600) == Decimal("0.75")
    capped = _cfg("0.75", {"spend_tracker_alias": "t", "amount": "1"})
    assert st.payment_fraction(capped, TERMS, None, _never) == Decimal("0.75")
