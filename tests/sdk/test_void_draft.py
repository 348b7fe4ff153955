"""Voiding a draft invoice, which has no stored row until it leaves DRAFT: found by its id, voided, and
the id stays readable as VOID."""

from __future__ import annotations

from datetime import UTC, datetime

from metronome import Metronome


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
