"""The commit document a threshold grant stores (tally.invoices.thresholds.grant.commit_doc)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from tally.invoices.thresholds import decide, grant
from tally.money.credit_types import USD
from tally.rating.periods import Period
from tests.unit.thresholds.values import spend_cfg

JAN = datetime(2025, 1, 1, tzinfo=UTC)
FEB = datetime(2025, 2, 1, tzinfo=UTC)
NOW = datetime(2025, 1, 15, 10, 30, tzinfo=UTC)
CONTRACT = "0b6f8b9e-5b1a-4f55-9d43-2f4c1f0f2b11"


def test_commit_ids_derive_from_the_contract_and_earlier_grants() -> None:
    first = grant.commit_id(CONTRACT, decide.SPEND_SOURCE, 0)
    assert first == str(uuid.uuid5(uuid.UUID(CONTRACT), "threshold:SPEND_THRESHOLD:0"))
    assert grant.commit_id(CONTRACT, decide.SPEND_SOURCE, 0) == first
    assert grant.commit_id(CONTRACT, decide.SPEND_SOURCE, 1) != first
    assert grant.commit_id(CONTRACT, decide.RECHARGE_SOURCE, 0) != first


def test_commit_doc() -> None:
    cfg = spend_cfg(
        commit={"product_id": "p", "description": "top-up", "priority": 5},
        discount_configuration={"payment_fraction": "0.8"},
    )
    plan = decide.spend(Decimal("1250"), USD, Period(JAN, FEB), Decimal("0.8"))
    cid = grant.commit_id(CONTRACT, plan.source, 0)
    doc = grant.commit_doc(cfg, plan, cid, "Top-up", "inv-1", NOW, NOW)
    assert doc["type"] == "PREPAID"
    assert (doc["product_id"], doc["name"], doc["priority"], doc["description"]) == (
        "p",
        "Top-up",
        5,
        "top-up",
    )
    assert doc["access_schedule"]["schedule_items"][0]["amount"] == Decimal("1250")
    item = doc["invoice_schedule"]["schedule_items"][0]
    # 1250 x 0.8 = 1000 cents, one unit
    assert (item["amount"], item["unit_price"], item["quantity"], item["invoice_id"]) == (
        Decimal("1000"),
        Decimal("1000"),
        Decimal(1),
        "inv-1",
    )
    # what a unit of the commit cost: 1000 / 1250 = 0.8
    assert doc["cost_basis"] == Decimal("0.8")
    assert doc["threshold_billing"] == {
        "source": "SPEND_THRESHOLD",
        "period_starting_at": JAN,
        "uncovered_spend": Decimal("1250"),
    }
    assert doc["spend_tracker_attributes"] == {"counts_as_discounted": True}


def test_commit_doc_defaults() -> None:
    plan = decide.spend(Decimal("10"), USD, Period(JAN, FEB), Decimal(1))
    doc = grant.commit_doc(
        spend_cfg(commit={"product_id": "p"}),
        plan,
        grant.commit_id(CONTRACT, plan.source, 0),
        None,
        "i",
        NOW,
        NOW,
    )
    assert doc["priority"] == grant.DEFAULT_PRIORITY
    assert "description" not in doc
    assert "spend_tracker_attributes" not in doc
