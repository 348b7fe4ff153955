"""Voiding a draft invoice, which has no stored row until it leaves DRAFT: found by its id, voided, and
the id stays readable as VOID."""

from __future__ import annotations

from datetime import UTC, datetime

from metronome import Metronome

from tally.rating.periods import add_months


def test_void_a_draft_usage_invoice(client: Metronome, uid: str) -> None:
    metric = client.v1.billable_metrics.create(name=f"calls-{uid}", aggregation_type="COUNT").data.id
    product = client.v1.contracts.products.create(
        name=f"Calls {uid}", type="USAGE", billable_metric_id=metric
    ).data.id
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
    month = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    client.v1.contracts.create(customer_id=customer, rate_card_id=card, starting_at=month)
    (draft,) = [i for i in client.v1.customers.invoices.list(customer_id=customer) if i.status == "DRAFT"]
    assert client.v1.invoices.void(id=draft.id).data.id == draft.id
    got = client.v1.customers.invoices.retrieve(customer_id=customer, invoice_id=draft.id).data
    assert got.status == "VOID"


def test_void_a_draft_commit_purchase_invoice(client: Metronome, uid: str) -> None:
    """A SCHEDULED draft whose date comes from a commit's invoice schedule (a balance, not the contract
    row): found among the tenant's contracts, voided; the scheduled charge's draft stays a draft. An annual
    statement keeps both dates inside the current period, whose scheduled invoices are listed as drafts."""
    fixed = client.v1.contracts.products.create(name=f"Fixed {uid}", type="FIXED").data.id
    card = client.v1.contracts.rate_cards.create(name=f"card-{uid}").data.id
    customer = client.v1.customers.create(name=f"c-{uid}").data.id
    month = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    later = add_months(month, 2)
    client.v1.contracts.create(
        customer_id=customer,
        rate_card_id=card,
        starting_at=month,
        usage_statement_schedule={"frequency": "ANNUAL", "day": "CONTRACT_START"},
        commits=[
            {
                "type": "PREPAID",
                "product_id": fixed,
                "access_schedule": {
                    "schedule_items": [{"amount": 300, "starting_at": month, "ending_before": later}]
                },
                "invoice_schedule": {"schedule_items": [{"timestamp": later, "amount": 300}]},
            }
        ],
        scheduled_charges=[
            {
                "product_id": fixed,
                "schedule": {"schedule_items": [{"timestamp": add_months(month, 3), "amount": 40}]},
            }
        ],
    )
    drafts = {
        i.total: i
        for i in client.v1.customers.invoices.list(customer_id=customer)
        if i.status == "DRAFT" and i.type == "SCHEDULED"
    }
    assert sorted(drafts) == [40, 300]
    assert client.v1.invoices.void(id=drafts[300].id).data.id == drafts[300].id
    statuses = {
        i.id: i.status
        for i in client.v1.customers.invoices.list(customer_id=customer)
        if i.type == "SCHEDULED"
    }
    assert statuses == {drafts[300].id: "VOID", drafts[40].id: "DRAFT"}
