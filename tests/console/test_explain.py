"""Explain this charge (issue 14 §5): POST /tally/v1/invoices/explain and its console page. For every
aggregation type the events behind a usage line re-aggregate to exactly the line's quantity (figures by
hand below); a finalized invoice explains with its stored events watermark, late events listed apart."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from tally.rating.periods import add_months
from tests.conftest import Running
from tests.console.support import sign_in
from tests.sdk.invoice_support import fresh_month, iso, set_clock

OTHER = "other_event"


def _setup(
    server: Running,
    agg: str,
    key: str | None,
    events: list[tuple[int, dict[str, Any]]],
    rate: dict[str, Any] | None = None,
    product_extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A metric of `agg` over `key`, a FLAT $0.01 product on a rate card, a customer (events sent to its
    ingest alias) on a contract from this month's start, and `events` (hour offset, properties)."""
    uid = uuid.uuid4().hex[:8]
    c = server.sdk()
    with server.http() as h:
        t0 = fresh_month(h)
    et = f"ev_{uid}"
    # The aggregation key and any group key must be property filters.
    filters = [{"name": key, "exists": True}] if key else []
    metric_args: dict[str, Any] = {"event_type_filter": {"in_values": [et]}, "property_filters": filters}
    if agg == "SUM":  # split by region
        metric_args["group_keys"] = [["region"]]
        filters.append({"name": "region", "exists": True})
    if key:
        metric_args["aggregation_key"] = key
    metric = c.v1.billable_metrics.create(name=f"{agg} {uid}", aggregation_type=agg, **metric_args).data.id
    product = c.v1.contracts.products.create(
        name=f"P {uid}", type="USAGE", billable_metric_id=metric, **(product_extra or {})
    ).data.id
    card = c.v1.contracts.rate_cards.create(name=f"card {uid}").data.id
    c.v1.contracts.rate_cards.rates.add(
        rate_card_id=card,
        product_id=product,
        entitled=True,
        starting_at=t0,
        **(rate or {"rate_type": "FLAT", "price": 1}),
    )
    alias = f"alias-{uid}"
    customer = c.v1.customers.create(name=f"Explain {uid}", ingest_aliases=[alias]).data.id
    c.v1.contracts.create(customer_id=customer, starting_at=t0, rate_card_id=card, name=f"contract {uid}")
    usage = [
        {
            "transaction_id": f"{uid}-{i}",
            "customer_id": alias,
            "event_type": et,
            "timestamp": iso(t0 + timedelta(hours=hour)),
            "properties": props,
        }
        for i, (hour, props) in enumerate(events)
    ]
    # An event of another type never counts.
    usage.append(
        {
            "transaction_id": f"{uid}-other",
            "customer_id": alias,
            "event_type": OTHER,
            "timestamp": iso(t0 + timedelta(hours=1)),
            "properties": {key or "x": 1000, "region": "eu"},
        }
    )
    c.v1.usage.ingest(usage=usage)
    inv = next(
        i for i in c.v1.customers.invoices.list(customer_id=customer, type="USAGE") if i.start_timestamp == t0
    )
    index = next(i for i, li in enumerate(inv.line_items) if li.type == "usage" and li.product_id == product)
    return {
        "t0": t0,
        "uid": uid,
        "customer": customer,
        "invoice": inv,
        "index": index,
        "et": et,
        "alias": alias,
    }


def _explain(server: Running, s: dict[str, Any], **extra: Any) -> dict[str, Any]:
    with server.http() as h:
        r = h.post(
            "/tally/v1/invoices/explain",
            json={
                "customer_id": s["customer"],
                "invoice_id": s["invoice"].id,
                "line_index": s["index"],
                **extra,
            },
        )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()["data"]
    return body


CASES = [
    # COUNT: 3 matching events.
    ("COUNT", None, [(1, {"region": "us"}), (2, {"region": "us"}), (3, {"region": "eu"})], Decimal(3)),
    # SUM: 2.5 + 4 + 1.5 = 8; the event without the key contributes nothing.
    (
        "SUM",
        "n",
        [
            (1, {"n": 2.5, "region": "us"}),
            (2, {"n": 4, "region": "eu"}),
            (3, {"n": "1.5", "region": "us"}),
            (4, {}),
        ],
        Decimal(8),
    ),
    # MAX: max(7, 3, 11.25) = 11.25.
    (
        "MAX",
        "n",
        [(1, {"n": 7, "region": "us"}), (2, {"n": 3, "region": "us"}), (5, {"n": 11.25})],
        Decimal("11.25"),
    ),
    # UNIQUE: {a, b, c} = 3.
    (
        "UNIQUE",
        "user",
        [
            (1, {"user": "a", "region": "us"}),
            (2, {"user": "b", "region": "us"}),
            (3, {"user": "a", "region": "us"}),
            (4, {"user": "c", "region": "us"}),
        ],
        Decimal(3),
    ),
    # LATEST: the last value, 7 (5 then 9 then 7); the line bills the rise from 0.
    (
        "LATEST",
        "n",
        [(1, {"n": 5, "region": "us"}), (2, {"n": 9, "region": "us"}), (3, {"n": 7, "region": "us"})],
        Decimal(7),
    ),
]


@pytest.mark.parametrize(("agg", "key", "events", "expected"), CASES, ids=[c[0] for c in CASES])
def test_events_reaggregate_to_the_line_quantity(
    clock_server: Running,
    agg: str,
    key: str | None,
    events: list[tuple[int, dict[str, Any]]],
    expected: Decimal,
) -> None:
    s = _setup(clock_server, agg, key, events)
    line = s["invoice"].line_items[s["index"]]
    assert Decimal(str(line.quantity)) == expected
    x = _explain(clock_server, s, verify=True)
    assert x["verified"] is True
    assert Decimal(str(x["quantity"])) == expected
    assert Decimal(str(x["line_quantity"])) == expected
    assert x["aggregation_type"] == agg
    assert x["events_watermark"] is None  # a draft counts every event
    counted = [e for e in events if key is None or key in e[1]]
    assert x["event_count"] == len(counted)
    assert {e["event_type"] for e in x["events"]} == {s["et"]}
    assert all(e["customer_id"] == s["alias"] for e in x["events"])
    # Only the properties the metric reads: the aggregation key and the group key.
    assert all(set(e["properties"]) <= {key, "region"} for e in x["events"])
    if agg == "SUM":
        # Split by region: us 2.5 + 1.5 = 4; eu 4.
        assert {(g["group_values"]["region"], Decimal(str(g["quantity"]))) for g in x["groups"]} == {
            ("us", Decimal(4)),
            ("eu", Decimal(4)),
        }


@pytest.mark.parametrize(("agg", "key", "events", "expected"), CASES, ids=[c[0] for c in CASES])
def test_the_rollups_summary_equals_the_reaggregation(
    clock_server: Running,
    agg: str,
    key: str | None,
    events: list[tuple[int, dict[str, Any]]],
    expected: Decimal,
) -> None:
    # Without `verify` the quantity, groups and event count come from the usage rollups; with it, from
    # every event re-aggregated: both say the same, and the same page of events.
    s = _setup(clock_server, agg, key, events)
    fast = _explain(clock_server, s)
    full = _explain(clock_server, s, verify=True)
    assert (fast["verified"], full["verified"]) == (False, True)
    assert Decimal(str(fast["quantity"])) == Decimal(str(full["quantity"])) == expected
    assert (
        fast["event_count"] == full["event_count"] == len([e for e in events if key is None or key in e[1]])
    )
    groups = [(g["group_values"], Decimal(str(g["quantity"]))) for g in fast["groups"]]
    assert groups == [(g["group_values"], Decimal(str(g["quantity"]))) for g in full["groups"]]
    assert fast["events"] == full["events"]
    assert fast["value_before_period"] == full["value_before_period"]
    # A page cut short streams only what it needs and still says whether more follow.
    first = _explain(clock_server, s, limit=1)
    assert first["events"] == full["events"][:1]
    assert (first["next_page"] is not None) == (full["event_count"] > 1)


def test_events_are_paginated(clock_server: Running) -> None:
    s = _setup(clock_server, "COUNT", None, [(h, {"region": "us"}) for h in range(1, 6)])
    first = _explain(clock_server, s, limit=2)
    assert [e["transaction_id"] for e in first["events"]] == [f"{s['uid']}-0", f"{s['uid']}-1"]
    seen = [e["transaction_id"] for e in first["events"]]
    cursor = first["next_page"]
    while cursor:
        more = _explain(clock_server, s, limit=2, next_page=cursor)
        seen += [e["transaction_id"] for e in more["events"]]
        cursor = more["next_page"]
    assert seen == [f"{s['uid']}-{i}" for i in range(5)]


def test_bad_requests_are_clear(clock_server: Running) -> None:
    s = _setup(clock_server, "COUNT", None, [(1, {})])
    with clock_server.http() as h:
        r = h.post(
            "/tally/v1/invoices/explain",
            json={"customer_id": s["customer"], "invoice_id": s["invoice"].id, "line_index": 99},
        )
        assert r.status_code == 400
        assert "line_index" in r.json()["message"]
        r = h.post(
            "/tally/v1/invoices/explain",
            json={"customer_id": s["customer"], "invoice_id": str(uuid.uuid4()), "line_index": 0},
        )
        assert r.status_code == 404


def test_console_explain_page(clock_server: Running) -> None:
    s = _setup(
        clock_server, "SUM", "n", [(1, {"n": 2, "region": "us"}), (2, {"n": 3, "region": "<b>eu</b>"})]
    )
    c = sign_in(clock_server)
    page = c.get(f"/ui/customers/{s['customer']}/invoices/{s['invoice'].id}")
    link = f"/ui/customers/{s['customer']}/invoices/{s['invoice'].id}/explain?line={s['index']}"
    assert link in page.text
    r = c.get(link)
    assert r.status_code == 200
    # 2 + 3 = 5, matching the line.
    assert 'id="explained-quantity">5<' in r.text
    assert "matches the line" in r.text
    assert "From the usage rollups" in r.text
    assert "Re-aggregate all 2 events" in r.text
    proof = c.get(f"{link}&offset=0&verify=1")
    assert proof.status_code == 200
    assert "Re-aggregated from every event" in proof.text
    assert 'id="explained-quantity">5<' in proof.text
    assert "matches the line" in proof.text
    assert f"{s['uid']}-0" in r.text
    assert "<b>eu</b>" not in r.text
    assert "&lt;b&gt;eu&lt;/b&gt;" in r.text


def test_finalized_invoice_explains_with_its_watermark(clock_server: Running) -> None:
    s = _setup(clock_server, "SUM", "n", [(1, {"n": 10, "region": "us"}), (2, {"n": 5, "region": "us"})])
    t1 = add_months(s["t0"], 1)
    with clock_server.http() as h:
        set_clock(h, t1 + timedelta(hours=24, minutes=1))  # past the period end and the grace period
    c = clock_server.sdk()
    inv = c.v1.customers.invoices.retrieve(customer_id=s["customer"], invoice_id=s["invoice"].id).data
    assert inv.status == "FINALIZED"
    # A late event for the finalized period: accepted, never billed on this invoice.
    c.v1.usage.ingest(
        usage=[
            {
                "transaction_id": f"{s['uid']}-late",
                "customer_id": s["customer"],
                "event_type": s["et"],
                "timestamp": iso(t1 - timedelta(hours=1)),
                "properties": {"n": 100, "region": "us"},
            }
        ]
    )
    for verify in (True, False):
        x = _explain(clock_server, s, verify=verify)
        assert x["status"] == "FINALIZED"
        assert x["verified"] is verify
        assert isinstance(x["events_watermark"], int)
        # 10 + 5 = 15 billed; the late 100 is listed apart (the rollups hold it: taken back out).
        assert Decimal(str(x["quantity"])) == Decimal(15) == Decimal(str(x["line_quantity"]))
        assert x["event_count"] == 2
        assert [(g["group_values"], Decimal(str(g["quantity"]))) for g in x["groups"]] == [
            ({"region": "us"}, Decimal(15))
        ]
        assert [e["transaction_id"] for e in x["events"]] == [f"{s['uid']}-0", f"{s['uid']}-1"]
        assert x["late_event_count"] == 1
        assert [e["transaction_id"] for e in x["late_events"]] == [f"{s['uid']}-late"]


def test_a_tiered_line_is_split_by_tier_down_to_each_event(clock_server: Running) -> None:
    # SUM of n: 3 + 4 + 2 = 9 (all region us). Tiers: the first 5 units at 2 cents, the rest at 1 cent.
    # Tier 1 holds 5 units: 5 x 2 = 10 cents; tier 2 holds 9 - 5 = 4 units: 4 x 1 = 4 cents; total $0.14.
    # Oldest first, the events' running total goes 0 -> 3 -> 7 -> 9: event 0 holds 3 of tier 1; event 1
    # holds the rest of tier 1 (5 - 3 = 2) and 2 of tier 2; event 2 holds 2 of tier 2.
    tiered = {"rate_type": "TIERED", "tiers": [{"price": 2, "size": 5}, {"price": 1}]}
    events = [(1, {"n": 3, "region": "us"}), (2, {"n": 4, "region": "us"}), (3, {"n": 2, "region": "us"})]
    s = _setup(clock_server, "SUM", "n", events, rate=tiered)
    x = _explain(clock_server, s)
    assert Decimal(str(x["quantity"])) == Decimal(9) == Decimal(str(x["line_quantity"]))
    assert [
        (t["tier"], Decimal(str(t["starting_at"])), t["ending_before"], Decimal(str(t["quantity"])))
        for t in x["tiers"]
    ] == [(1, Decimal(0), 5, Decimal(5)), (2, Decimal(5), None, Decimal(4))]
    assert [Decimal(str(t["subtotal"])) for t in x["tiers"]] == [Decimal(10), Decimal(4)]
    assert x["events_split_by_tier"] is True
    shares = [[(t["tier"], Decimal(str(t["quantity"]))) for t in e["tiers"]] for e in x["events"]]
    assert shares == [[(1, Decimal(3))], [(1, Decimal(2)), (2, Decimal(2))], [(2, Decimal(2))]]
    # The console shows the tier table with money, and each event's shares.
    c = sign_in(clock_server)
    r = c.get(f"/ui/customers/{s['customer']}/invoices/{s['invoice'].id}/explain?line={s['index']}")
    assert r.status_code == 200
    assert 'id="tiers"' in r.text
    assert "$0.10" in r.text
    assert "$0.04" in r.text
    assert "tier 1: 2" in r.text
    assert "tier 2: 2" in r.text


def test_untiered_and_non_additive_lines_carry_no_event_shares(clock_server: Running) -> None:
    # MAX over a tiered rate: the line is split by tier (max 7: 5 in tier 1, 2 in tier 2), but no event
    # holds a share of a maximum.
    tiered = {"rate_type": "TIERED", "tiers": [{"price": 2, "size": 5}, {"price": 1}]}
    s = _setup(clock_server, "MAX", "n", [(1, {"n": 7, "region": "us"})], rate=tiered)
    x = _explain(clock_server, s)
    assert [Decimal(str(t["quantity"])) for t in x["tiers"]] == [Decimal(5), Decimal(2)]
    assert x["events_split_by_tier"] is False
    assert all(e["tiers"] == [] for e in x["events"])
    flat = _explain(clock_server, _setup(clock_server, "COUNT", None, [(1, {})]))
    assert flat["tiers"] == []
    assert flat["events_split_by_tier"] is False


def test_a_late_maximum_is_explained_by_reaggregating(clock_server: Running) -> None:
    # MAX of 10 and 5 = 10 billed; a late 100 is in the rollups but not on the invoice, and a maximum
    # cannot be taken back out of them: the answer re-aggregates (verified) even without `verify`.
    s = _setup(clock_server, "MAX", "n", [(1, {"n": 10, "region": "us"}), (2, {"n": 5, "region": "us"})])
    t1 = add_months(s["t0"], 1)
    with clock_server.http() as h:
        set_clock(h, t1 + timedelta(hours=24, minutes=1))
    late = {"n": 100, "region": "us"}
    clock_server.sdk().v1.usage.ingest(
        usage=[
            {
                "transaction_id": f"{s['uid']}-late",
                "customer_id": s["customer"],
                "event_type": s["et"],
                "timestamp": iso(t1 - timedelta(hours=1)),
                "properties": late,
            }
        ]
    )
    x = _explain(clock_server, s)
    assert x["verified"] is True
    assert Decimal(str(x["quantity"])) == Decimal(10) == Decimal(str(x["line_quantity"]))
    assert x["event_count"] == 2
    assert x["late_event_count"] == 1


def test_latest_bills_the_rise_from_the_rollups(clock_server: Running) -> None:
    # LATEST: last month ends at 9 (5 then 9); this month 12: the line bills 12 - 9 = 3, with
    # value_before_period 9, from the rollups and from every event alike.
    s = _setup(clock_server, "LATEST", "n", [(1, {"n": 5, "region": "us"}), (2, {"n": 9, "region": "us"})])
    t1 = add_months(s["t0"], 1)
    with clock_server.http() as h:
        set_clock(h, t1 + timedelta(hours=24, minutes=1))
    c = clock_server.sdk()
    c.v1.usage.ingest(
        usage=[
            {
                "transaction_id": f"{s['uid']}-next",
                "customer_id": s["customer"],
                "event_type": s["et"],
                "timestamp": iso(t1 + timedelta(hours=2)),
                "properties": {"n": 12, "region": "us"},
            }
        ]
    )
    inv = next(
        i
        for i in c.v1.customers.invoices.list(customer_id=s["customer"], type="USAGE")
        if i.start_timestamp == t1
    )
    s2 = {**s, "invoice": inv}
    fast = _explain(clock_server, s2)
    full = _explain(clock_server, s2, verify=True)
    for x in (fast, full):
        assert Decimal(str(x["quantity"])) == Decimal(3) == Decimal(str(x["line_quantity"]))
        assert Decimal(str(x["value_before_period"])) == Decimal(9)
        assert x["event_count"] == 1
    assert (fast["verified"], full["verified"]) == (False, True)


@pytest.mark.parametrize("verify", [False, True])
def test_a_converted_line_is_explained_in_the_lines_units(clock_server: Running, verify: bool) -> None:
    # Tokens billed per thousand: SUM of n = 1,500 + 2,750 = 4,250 tokens; divided by 1,000 = 4.25,
    # rounded up to 0 decimal places = 5 on the line. Tiers are in the line's units: the first 3 at
    # 2 cents, the rest at 1 cent. Event 0 moves the running total 0 -> 1.5 (all tier 1); event 1 moves it
    # 1.5 -> 4.25: 1.5 in tier 1 and 1.25 in tier 2.
    s = _setup(
        clock_server,
        "SUM",
        "n",
        [(1, {"n": 1500, "region": "us"}), (2, {"n": 2750, "region": "us"})],
        rate={"rate_type": "TIERED", "tiers": [{"price": 2, "size": 3}, {"price": 1}]},
        product_extra={
            "quantity_conversion": {"conversion_factor": 1000, "operation": "DIVIDE", "name": "per 1K"},
            "quantity_rounding": {"decimal_places": 0, "rounding_method": "ROUND_UP"},
        },
    )
    x = _explain(clock_server, s, verify=verify)
    assert Decimal(str(x["line_quantity"])) == Decimal(5)
    assert Decimal(str(x["quantity"])) == Decimal(5)
    assert Decimal(str(x["metric_quantity"])) == Decimal(4250)
    assert x["quantity_conversion"]["operation"] == "DIVIDE"
    assert x["quantity_rounding"]["rounding_method"] == "ROUND_UP"
    # Rounding moves the line off the events' running total, so no per-event tier shares are claimed.
    assert x["events_split_by_tier"] is False
    c = sign_in(clock_server)
    r = c.get(f"/ui/customers/{s['customer']}/invoices/{s['invoice'].id}/explain?line={s['index']}")
    assert r.status_code == 200
    assert "matches the line" in r.text
    assert "divided by 1,000" in r.text
