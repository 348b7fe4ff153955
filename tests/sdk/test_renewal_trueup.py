"""A RENEWAL with `future_invoice_behavior.trueup = REMOVE` takes the postpaid true-up off the old
contract's invoices that are not finalized yet; AS_IS (the default) leaves it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from metronome import Metronome


def _month_start(t: datetime) -> datetime:
    return t.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _trueups(client: Metronome, customer: str, contract: str) -> list[float]:
    drafts = [
        i
        for i in client.v1.customers.invoices.list(customer_id=customer, contract_id=contract)
        if i.status == "DRAFT" and i.type == "USAGE"
    ]
    return [
        li.total for d in drafts for li in d.line_items if li.postpaid_commit is not None and li.total > 0
    ]


@pytest.mark.parametrize("behavior", ["REMOVE", "AS_IS"])
def test_renewal_trueup_behavior(client: Metronome, uid: str, behavior: str) -> None:
    metric = client.v1.billable_metrics.create(name=f"calls-{uid}", aggregation_type="COUNT").data.id
    product = client.v1.contracts.products.create(
        name=f"Calls {uid}", type="USAGE", billable_metric_id=metric
    ).data.id
    fixed = client.v1.contracts.products.create(name=f"Commit {uid}", type="FIXED").data.id
    card = client.v1.contracts.rate_cards.create(name=f"card-{uid}").data.id
    client.v1.contracts.rate_cards.rates.add(
        rate_card_id=card,
        product_id=product,
        entitled=True,
        rate_type="FLAT",
        price=1,
        starting_at=datetime(2024, 1, 1, tzinfo=UTC),
    )
    customer = client.v1.customers.create(name=f"c-{uid}").data.id
    month = _month_start(datetime.now(UTC))
    start = _month_start(_month_start(month - timedelta(days=1)) - timedelta(days=1))  # two months back
    following = _month_start(month + timedelta(days=32))
    old = client.v1.contracts.create(
        customer_id=customer,
        rate_card_id=card,
        starting_at=start,
        ending_before=following,
        commits=[
            {
                "type": "POSTPAID",
                "product_id": fixed,
                "priority": 1,
                "access_schedule": {
                    "schedule_items": [{"amount": 1000, "starting_at": start, "ending_before": month}]
                },
                "invoice_schedule": {"schedule_items": [{"amount": 1000, "timestamp": month}]},
            }
        ],
    ).data.id
    # No usage at all: the commitment of 1,000 is billed in full as a true-up on the current draft.
    assert _trueups(client, customer, old) == [1000]
    client.v1.contracts.create(
        customer_id=customer,
        rate_card_id=card,
        starting_at=following,
        transition={
            "from_contract_id": old,
            "type": "RENEWAL",
            "future_invoice_behavior": {"trueup": behavior},
        },
    )
    assert _trueups(client, customer, old) == ([] if behavior == "REMOVE" else [1000])
