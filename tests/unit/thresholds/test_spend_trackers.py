"""Spend trackers as threshold billing reads them (tally.invoices.thresholds.spend_trackers),
hand-computed: which commit purchases a tracker counts, and the payment fraction its cap leaves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from tally.contracts.terms import model
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

    @property
    def parsed(self) -> model.Balance:
        return model.parse(self.doc, model.Balance)


def _purchase(
    *items: tuple[str, str], threshold: bool = False, discounted: bool | None = None, **sched: Any
) -> _Balance:
    sched.setdefault("credit_type_id", USD_CENTS_ID)
    doc: dict[str, Any] = {
        "id": "b",
        "product_id": "p",
        "type": "PREPAID",
        "created_at": "2025-01-01T00:00:00Z",
        "access_schedule": {"schedule_items": []},
        "invoice_schedule": {**sched, "schedule_items": [{"timestamp": t, "amount": a} for t, a in items]},
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
    # Built without validation: two specs hold values a stored tracker cannot (a spend type other than
    # COMMIT_PURCHASE, an unknown discount mode), to pin what `counts` makes of them.
    typed = model.SpendSpecifier(
        sources=tuple(model.SpendSource(x) for x in spec.get("sources", ())),
        spend_type=spec.get("spend_type", model.SpendType.COMMIT_PURCHASE),
        discounted=spec.get("discounted"),
    )
    assert st.counts(typed, model.SpendSource(source), discounted) is counted


def test_tracked_sums_the_counted_purchases_invoiced_in_the_period() -> None:
    tracker = _tracker(
        credit_type_id=USD_CENTS_ID,
        applicable_spend_specifiers=[{"sources": ["THRESHOLD_RECHARGE"], "discounted": "DISCOUNTED_ONLY"}],
    )
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


def _tracker(**fields: Any) -> model.SpendTracker:
    specs = [{"spend_type": "COMMIT_PURCHASE", **s} for s in fields.pop("applicable_spend_specifiers")]
    doc = {"alias": "t", "credit_type_id": USD_CENTS_ID, "reset_frequency": "BILLING_PERIOD", **fields}
    return model.parse({**doc, "applicable_spend_specifiers": specs}, model.SpendTracker)


def _cfg(fraction: str | None, cap: dict[str, Any] | None = None) -> model.DiscountConfiguration:
    dc: dict[str, Any] = {} if fraction is None else {"payment_fraction": fraction}
    if cap is not None:
        dc["cap"] = cap
    return model.parse(dc, model.DiscountConfiguration)


TRACKERS = (_tracker(alias="t", applicable_spend_specifiers=[{"sources": ["MANUAL"]}]),)
SPENT_600 = [_purchase(("2025-01-10T00:00:00Z", "600"))]  # 600 of MANUAL purchases in January


def _never() -> list[_Balance]:
    raise AssertionError("balances are read only when a cap applies")


def test_payment_fraction_without_discount_is_the_full_price() -> None:
    assert st.payment_fraction(None, TRACKERS, PERIOD, _never) == Decimal(1)
    assert st.payment_fraction(_cfg(None), TRACKERS, PERIOD, _never) == Decimal(1)


def test_payment_fraction_without_cap() -> None:
    assert st.payment_fraction(_cfg("0.75"), TRACKERS, PERIOD, _never) == Decimal("0.75")


@pytest.mark.parametrize(("cap", "fraction"), [("601", "0.75"), ("600", "1"), ("599", "1")])
def test_payment_fraction_is_full_once_the_cap_is_tracked(cap: str, fraction: str) -> None:
    # tracked 600: below a cap of 601 the discount holds; at 600 or over it is used up
    cfg = _cfg("0.75", {"spend_tracker_alias": "t", "amount": cap})
    assert st.payment_fraction(cfg, TRACKERS, PERIOD, lambda: SPENT_600) == Decimal(fraction)


def test_payment_fraction_cap_without_its_tracker_or_period_keeps_the_discount() -> None:
    cfg = _cfg("0.75", {"spend_tracker_alias": "missing", "amount": "1"})
    assert st.payment_fraction(cfg, TRACKERS, PERIOD, lambda: SPENT_600) == Decimal("0.75")
    capped = _cfg("0.75", {"spend_tracker_alias": "t", "amount": "1"})
    assert st.payment_fraction(capped, TRACKERS, None, _never) == Decimal("0.75")
