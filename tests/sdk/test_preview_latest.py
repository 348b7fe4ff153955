"""previewEvents with a LATEST metric: the preview bills the latest previewed value (by timestamp), not
the sum of the previewed values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from metronome import Metronome


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def test_preview_takes_the_latest_value(client: Metronome, uid: str) -> None:
    metric = client.v1.billable_metrics.create(
        name=f"seats-{uid}",
        aggregation_type="LATEST",
        aggregation_key="seats",
        event_type_filter={"in_values": [f"seats-{uid}"]},
        property_filters=[{"name": "seats", "exists": True}],
    ).data.id
    product = client.v1.contracts.products.create(
        name=f"Seats {uid}", type="USAGE", billable_metric_id=metric
    ).data.id
    card = client.v1.contracts.rate_cards.create(name=f"card-{uid}").data.id
    client.v1.contracts.rate_cards.rates.add(
        rate_card_id=card,
        product_id=product,
        entitled=True,
        rate_type="FLAT",
        price=100,
        starting_at=datetime(2024, 1, 1, tzinfo=UTC),
    )
    customer = client.v1.customers.create(name=f"c-{uid}").data.id
    now = datetime.now(UTC)
    month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    client.v1.contracts.create(customer_id=customer, rate_card_id=card, starting_at=month)
    events = [
        # Sent out of order on purpose: the later timestamp wins, whatever the order of the list.
        {
            "event_type": f"seats-{uid}",
            "timestamp": _iso(now - timedelta(seconds=30)),
            "properties": {"seats": "3"},
        },
        {
            "event_type": f"seats-{uid}",
            "timestamp": _iso(now - timedelta(seconds=90)),
            "properties": {"seats": "5"},
        },
    ]
    (draft,) = client.v1.customers.preview_events(customer_id=customer, events=events, mode="replace").data
    lines = [li for li in draft.line_items if li.product_id == product]
    assert [li.quantity for li in lines] == [3]
    assert draft.total == 300
