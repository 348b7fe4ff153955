"""v2 contract edits that change templates (SPEC §5.7, §5.8, §5.10, §5.11, §5.14) through the official SDK in
strict mode, on every backend: update_recurring_commits/credits, update_subscriptions, threshold
configuration updates; each read back through v2 get and getEditHistory; bad bodies; other tenants.
A subscription quantity change shows on the DRAFT invoice and never on a finalized one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import metronome
import pytest
from metronome import Metronome

from tally.rating.periods import add_months
from tests.conftest import Running
from tests.sdk.invoice_support import clock_now, fresh_month, set_clock
from tests.sdk.invoice_support import clock_server as clock_server
from tests.sdk.test_contracts import JAN, JAN26, MISSING, USD, Catalog, iso, make_catalog


@pytest.fixture
def cat(client: Metronome, uid: str) -> Catalog:
    return make_catalog(client, uid)


def _month(months_ahead: int) -> datetime:
    """A month start relative to the real clock the shared server runs on."""
    now = datetime.now(UTC)
    return add_months(now.replace(day=1, hour=0, minute=0, second=0, microsecond=0), months_ahead)


def _contract(client: Metronome, cat: Catalog, **terms: Any) -> str:
    return client.v1.contracts.create(
        customer_id=cat.customer, starting_at=JAN, ending_before=JAN26, rate_card_id=cat.card, **terms
    ).data.id


def _edit(http: httpx.Client, body: dict[str, Any]) -> httpx.Response:
    return http.post("/v2/contracts/edit", json=body)


def _state(client: Metronome, cat: Catalog, cid: str) -> tuple[str, int]:
    got = client.v2.contracts.retrieve(customer_id=cat.customer, contract_id=cid).data
    hist = client.v2.contracts.get_edit_history(customer_id=cat.customer, contract_id=cid).data
    return got.model_dump_json(), len(hist)


RECURRING_COMMIT = {
    "product_id": "",
    "priority": 5,
    "starting_at": iso(JAN),
    "commit_duration": {"value": 1},
    "access_amount": {"credit_type_id": USD, "unit_price": 1000},
    "invoice_amount": {"credit_type_id": USD, "unit_price": 800, "quantity": 1},
    "recurrence_frequency": "MONTHLY",
}


def test_update_recurring_commit_and_credit_touches_only_unstarted_children(
    client: Metronome, cat: Catalog, http: httpx.Client
) -> None:
    cid = _contract(
        client,
        cat,
        recurring_commits=[{**RECURRING_COMMIT, "product_id": cat.fixed}],
        recurring_credits=[
            {
                "product_id": cat.fixed,
                "priority": 6,
                "starting_at": iso(JAN),
                "commit_duration": {"value": 1},
                "access_amount": {"credit_type_id": USD, "unit_price": 300},
                "recurrence_frequency": "MONTHLY",
            }
        ],
    )
    got = client.v2.contracts.retrieve(customer_id=cat.customer, contract_id=cid).data
    assert got.recurring_commits is not None
    assert got.recurring_credits is not None
    rc, rcr = got.recurring_commits[0].id, got.recurring_credits[0].id
    end = _month(4)
    edit = client.v2.contracts.edit(
        customer_id=cat.customer,
        contract_id=cid,
        update_recurring_commits=[
            {
                "recurring_commit_id": rc,
                "access_amount": {"unit_price": 2000},
                "invoice_amount": {"unit_price": 1500},
                "ending_before": end,
            }
        ],
        update_recurring_credits=[{"recurring_credit_id": rcr, "access_amount": {"quantity": 2}}],
    ).data.id
    got = client.v2.contracts.retrieve(customer_id=cat.customer, contract_id=cid).data
    assert got.recurring_commits is not None
    assert got.recurring_credits is not None
    assert got.recurring_commits[0].access_amount.unit_price == 2000
    assert got.recurring_commits[0].invoice_amount is not None
    assert got.recurring_commits[0].invoice_amount.unit_price == 1500
    assert got.recurring_commits[0].ending_before == end
    assert got.recurring_credits[0].access_amount.quantity == 2
    now = datetime.now(UTC)
    kids = [c for c in got.commits if c.recurring_commit_id == rc]
    started = [
        c for c in kids if c.access_schedule and c.access_schedule.schedule_items[0].starting_at <= now
    ]
    future = [c for c in kids if c not in started]
    assert len(started) >= 22  # JAN 2025 .. this month, unchanged
    assert {c.access_schedule.schedule_items[0].amount for c in started if c.access_schedule} == {1000}
    assert {
        i.amount
        for c in started
        if c.invoice_schedule and c.invoice_schedule.schedule_items
        for i in c.invoice_schedule.schedule_items
    } == {800}
    # Not started: re-derived with the new amounts, and none at or past the new end.
    assert len(future) == 3
    assert {c.access_schedule.schedule_items[0].amount for c in future if c.access_schedule} == {2000}
    assert {
        i.amount
        for c in future
        if c.invoice_schedule and c.invoice_schedule.schedule_items
        for i in c.invoice_schedule.schedule_items
    } == {1500}
    assert max(c.access_schedule.schedule_items[0].ending_before for c in future if c.access_schedule) == end
    credits = [c for c in got.credits or [] if c.recurring_credit_id == rcr]
    amounts = {
        (c.access_schedule.schedule_items[0].starting_at <= now, c.access_schedule.schedule_items[0].amount)
        for c in credits
        if c.access_schedule
    }
    assert amounts == {(True, 300), (False, 600)}
    hist = client.v2.contracts.get_edit_history(customer_id=cat.customer, contract_id=cid).data
    last = next(h for h in hist if h.id == edit)
    assert last.update_recurring_commits is not None
    assert last.update_recurring_credits is not None
    assert last.update_recurring_commits[0].id == rc
    assert last.update_recurring_commits[0].access_amount is not None
    assert last.update_recurring_commits[0].access_amount.unit_price == 2000
    assert last.update_recurring_commits[0].ending_before == end
    assert last.update_recurring_credits[0].id == rcr
    # Editing again with the same values is idempotent: same children, same ids.
    client.v2.contracts.edit(
        customer_id=cat.customer,
        contract_id=cid,
        update_recurring_commits=[{"recurring_commit_id": rc, "access_amount": {"unit_price": 2000}}],
    )
    again = client.v2.contracts.retrieve(customer_id=cat.customer, contract_id=cid).data
    assert sorted(c.id for c in again.commits) == sorted(c.id for c in got.commits)


def test_update_subscription_quantities_end_and_name(client: Metronome, cat: Catalog) -> None:
    cid = _contract(
        client,
        cat,
        subscriptions=[
            {
                "subscription_rate": {"product_id": cat.sub, "billing_frequency": "MONTHLY"},
                "collection_schedule": "ADVANCE",
                "proration": {"is_prorated": True, "invoice_behavior": "BILL_IMMEDIATELY"},
                "initial_quantity": 10,
            }
        ],
    )
    sub = (client.v2.contracts.retrieve(customer_id=cat.customer, contract_id=cid).data.subscriptions or [])[
        0
    ]
    assert sub.id is not None
    nxt, later, end = _month(1), _month(3), _month(6)
    first = client.v2.contracts.edit(
        customer_id=cat.customer,
        contract_id=cid,
        update_subscriptions=[
            {
                "subscription_id": sub.id,
                # Applied in the order sent: set 12, then -1 -> 11 (SPEC §5.8).
                "quantity_updates": [
                    {"starting_at": nxt, "quantity": 12},
                    {"starting_at": nxt, "quantity_delta": -1},
                ],
            }
        ],
    ).data.id
    second = client.v2.contracts.edit(
        customer_id=cat.customer,
        contract_id=cid,
        update_subscriptions=[
            {
                "subscription_id": sub.id,
                "quantity_updates": [{"starting_at": later, "quantity_delta": 4}],
                "ending_before": end,
                "name": "seats",
            }
        ],
    ).data.id
    got = (client.v2.contracts.retrieve(customer_id=cat.customer, contract_id=cid).data.subscriptions or [])[
        0
    ]
    assert got.name == "seats"
    assert got.ending_before == end
    assert [(q.quantity, q.starting_at, q.ending_before) for q in got.quantity_schedule] == [
        (10, JAN, nxt),
        (11, nxt, later),
        (15, later, end),
    ]
    v1 = client.v1.contracts.retrieve(customer_id=cat.customer, contract_id=cid).data
    assert v1.subscriptions is not None
    assert [q.quantity for q in v1.subscriptions[0].quantity_schedule] == [10, 11, 15]
    hist = {
        h.id: h for h in client.v2.contracts.get_edit_history(customer_id=cat.customer, contract_id=cid).data
    }
    h1, h2 = hist[first], hist[second]
    assert h1.update_subscriptions is not None
    assert h2.update_subscriptions is not None
    assert h1.update_subscriptions[0].id == sub.id
    assert [(u.quantity, u.quantity_delta) for u in h1.update_subscriptions[0].quantity_updates or []] == [
        (12, None),
        (None, -1),
    ]
    assert h2.update_subscriptions[0].ending_before == end
    assert h2.update_subscriptions[0].name == "seats"


def test_added_subscription_and_recurring_credit_show_in_history(client: Metronome, cat: Catalog) -> None:
    cid = _contract(client, cat)
    edit = client.v2.contracts.edit(
        customer_id=cat.customer,
        contract_id=cid,
        add_subscriptions=[
            {
                "subscription_rate": {"product_id": cat.sub, "billing_frequency": "MONTHLY"},
                "collection_schedule": "ARREARS",
                "proration": {"is_prorated": True},
                "initial_quantity": 4,
            }
        ],
        add_recurring_credits=[
            {
                "product_id": cat.fixed,
                "priority": 6,
                "starting_at": iso(JAN),
                "ending_before": iso(_month(2)),
                "commit_duration": {"value": 1},
                "access_amount": {"credit_type_id": USD, "unit_price": 300},
                "recurrence_frequency": "MONTHLY",
            }
        ],
    ).data.id
    got = client.v2.contracts.retrieve(customer_id=cat.customer, contract_id=cid).data
    assert got.subscriptions is not None
    assert got.recurring_credits is not None
    (h,) = [
        x
        for x in client.v2.contracts.get_edit_history(customer_id=cat.customer, contract_id=cid).data
        if x.id == edit
    ]
    assert h.add_subscriptions is not None
    assert [(x.id, x.quantity_schedule[0].quantity) for x in h.add_subscriptions] == [
        (got.subscriptions[0].id, 4)
    ]
    assert h.add_subscriptions[0].subscription_rate.product.id == cat.sub
    assert h.add_recurring_credits is not None
    assert [x.id for x in h.add_recurring_credits] == [got.recurring_credits[0].id]


def test_threshold_configurations_merge(client: Metronome, cat: Catalog, http: httpx.Client) -> None:
    cid = _contract(client, cat)
    r = _edit(
        http,
        {
            "customer_id": cat.customer,
            "contract_id": cid,
            "update_spend_threshold_configuration": {"threshold_amount": 5000},
        },
    )
    assert r.status_code == 400, r.text
    assert "add_spend_threshold_configuration" in r.json()["message"]
    gate: Any = {"payment_gate_type": "NONE"}
    client.v2.contracts.edit(
        customer_id=cat.customer,
        contract_id=cid,
        add_spend_threshold_configuration={
            "commit": {"product_id": cat.fixed, "name": "threshold"},
            "is_enabled": True,
            "payment_gate_config": gate,
            "threshold_amount": 10000,
        },
        add_prepaid_balance_threshold_configuration={
            "commit": {"product_id": cat.fixed, "name": "recharge"},
            "is_enabled": True,
            "payment_gate_config": gate,
            "threshold_amount": 2000,
            "recharge_to_amount": 10000,
        },
    )
    edit = client.v2.contracts.edit(
        customer_id=cat.customer,
        contract_id=cid,
        update_spend_threshold_configuration={"threshold_amount": 12000, "commit": {"description": "d"}},
        update_prepaid_balance_threshold_configuration={
            "is_enabled": False,
            "recharge_to_amount": 15000,
            "discount_configuration": {"payment_fraction": 0.9},
        },
    ).data.id
    got = client.v2.contracts.retrieve(customer_id=cat.customer, contract_id=cid).data
    spend, prepaid = got.spend_threshold_configuration, got.prepaid_balance_threshold_configuration
    assert spend is not None
    assert prepaid is not None
    assert spend.threshold_amount == 12000
    assert spend.is_enabled is True
    assert (spend.commit.product_id, spend.commit.name, spend.commit.description) == (
        cat.fixed,
        "threshold",
        "d",
    )
    assert (prepaid.is_enabled, prepaid.threshold_amount, prepaid.recharge_to_amount) == (False, 2000, 15000)
    assert prepaid.discount_configuration is not None
    assert prepaid.discount_configuration.payment_fraction == 0.9
    assert prepaid.commit.name == "recharge"
    hist = {
        h.id: h for h in client.v2.contracts.get_edit_history(customer_id=cat.customer, contract_id=cid).data
    }
    h = hist[edit]
    assert h.update_spend_threshold_configuration is not None
    assert h.update_spend_threshold_configuration.threshold_amount == 12000
    assert h.update_prepaid_balance_threshold_configuration is not None
    assert h.update_prepaid_balance_threshold_configuration.recharge_to_amount == 15000


def test_bad_bodies_store_nothing(client: Metronome, cat: Catalog, http: httpx.Client) -> None:
    cid = _contract(
        client,
        cat,
        recurring_credits=[
            {
                "product_id": cat.fixed,
                "priority": 6,
                "starting_at": iso(JAN),
                "commit_duration": {"value": 1},
                "access_amount": {"credit_type_id": USD, "unit_price": 300},
                "recurrence_frequency": "MONTHLY",
            }
        ],
        subscriptions=[
            {
                "subscription_rate": {"product_id": cat.sub, "billing_frequency": "MONTHLY"},
                "collection_schedule": "ARREARS",
                "proration": {"is_prorated": True},
                "initial_quantity": 3,
            }
        ],
    )
    got = client.v2.contracts.retrieve(customer_id=cat.customer, contract_id=cid).data
    assert got.recurring_credits is not None
    assert got.subscriptions is not None
    rcr, sid = got.recurring_credits[0].id, got.subscriptions[0].id
    nxt = iso(_month(1))
    base = {"customer_id": cat.customer, "contract_id": cid}

    def sub(**u: Any) -> dict[str, Any]:
        return {**base, "update_subscriptions": [{"subscription_id": sid, **u}]}

    def qty(*u: dict[str, Any]) -> dict[str, Any]:
        return sub(quantity_updates=list(u))

    cases: list[tuple[dict[str, Any], str]] = [
        (qty({"starting_at": nxt, "quantity_delta": 0}), "quantity_delta: must not be 0"),
        (qty({"starting_at": nxt, "quantity": 1, "quantity_delta": 1}), "exactly one of quantity"),
        (qty({"starting_at": nxt}), "exactly one of quantity"),
        (qty({"starting_at": nxt, "quantity": -1}), "quantity_updates[0].quantity"),
        (qty({"starting_at": nxt, "quantity_delta": -4}), "would become -1"),
        (
            qty({"starting_at": nxt, "quantity_delta": 2}, {"starting_at": nxt, "quantity_delta": -6}),
            "become -1",
        ),
        (qty({"starting_at": "2024-06-01T00:00:00Z", "quantity": 2}), "within the subscription"),
        (qty({"starting_at": "2026-01-01T00:30:00Z", "quantity": 2}), "hour boundary"),
        (qty({"starting_at": nxt, "quantity": "many"}), "quantity"),
        (qty(), "at least one update"),
        (sub(), "nothing to update"),
        (sub(ending_before="2024-06-01T00:00:00Z"), "ending_before"),
        (sub(seat_updates={"add_unassigned_seats": [{"quantity": 1, "starting_at": nxt}]}), "seat_updates"),
        ({**base, "update_subscriptions": [{"subscription_id": MISSING, "name": "x"}]}, "subscription_id"),
        ({**base, "update_subscriptions": [{"name": "x"}]}, "subscription_id"),
        (
            {
                **base,
                "update_recurring_credits": [{"recurring_credit_id": MISSING, "rate_type": "LIST_RATE"}],
            },
            "recurring_credit_id",
        ),
        ({**base, "update_recurring_credits": [{"recurring_credit_id": rcr}]}, "nothing to update"),
        (
            {
                **base,
                "update_recurring_credits": [
                    {"recurring_credit_id": rcr, "access_amount": {"unit_price": -1}}
                ],
            },
            "access_amount.unit_price",
        ),
        (
            {**base, "update_recurring_credits": [{"recurring_credit_id": rcr, "ending_before": iso(JAN)}]},
            "ending_before",
        ),
        (
            {
                **base,
                "update_recurring_credits": [{"recurring_credit_id": rcr, "invoice_amount": {"quantity": 1}}],
            },
            "invoice_amount",
        ),
        (
            {**base, "update_recurring_commits": [{"recurring_commit_id": rcr, "rate_type": "LIST_RATE"}]},
            "recurring_commit_id",
        ),
        ({**base, "update_prepaid_balance_threshold_configuration": {"is_enabled": True}}, "add_prepaid"),
        ({**base, "update_spend_threshold_configuration": {"threshold_amount": "x"}}, "threshold_amount"),
    ]
    before = _state(client, cat, cid)
    for body, needle in cases:
        r = _edit(http, body)
        assert r.status_code == 400, (body, r.text)
        assert needle in r.json()["message"], (needle, r.json())
    assert _state(client, cat, cid) == before
    # A valid part does not make an invalid one stick: the whole edit is refused.
    r = _edit(
        http,
        {
            **qty({"starting_at": nxt, "quantity": 5}),
            "update_contract_name": "x",
            "update_recurring_credits": [{"recurring_credit_id": MISSING, "rate_type": "LIST_RATE"}],
        },
    )
    assert r.status_code == 400
    assert _state(client, cat, cid) == before


def test_cross_tenant_404(client: Metronome, intruder: Metronome, cat: Catalog) -> None:
    cid = _contract(
        client,
        cat,
        subscriptions=[
            {
                "subscription_rate": {"product_id": cat.sub, "billing_frequency": "MONTHLY"},
                "collection_schedule": "ARREARS",
                "proration": {"is_prorated": True},
                "initial_quantity": 3,
            }
        ],
    )
    sid = (client.v2.contracts.retrieve(customer_id=cat.customer, contract_id=cid).data.subscriptions or [])[
        0
    ].id
    assert sid is not None
    with pytest.raises(metronome.NotFoundError):
        intruder.v2.contracts.edit(
            customer_id=cat.customer,
            contract_id=cid,
            update_subscriptions=[
                {"subscription_id": sid, "quantity_updates": [{"starting_at": JAN, "quantity": 9}]}
            ],
        )
    with pytest.raises(metronome.NotFoundError):
        intruder.v2.contracts.get_edit_history(customer_id=cat.customer, contract_id=cid)
    got = (client.v2.contracts.retrieve(customer_id=cat.customer, contract_id=cid).data.subscriptions or [])[
        0
    ]
    assert [q.quantity for q in got.quantity_schedule] == [3]


# ------------------------------------------------------------------ draft invoices (test clock)


@pytest.fixture(scope="module")
def a(clock_server: Running) -> Metronome:
    return clock_server.sdk()


@pytest.fixture(scope="module")
def h(clock_server: Running) -> Iterator[httpx.Client]:
    with clock_server.http() as c:
        yield c


def _sub_total(inv: Any, product: str) -> float:
    return float(sum(li.total for li in inv.line_items if li.product_id == product))


def _usage_invoices(a: Metronome, customer: str) -> list[Any]:
    return [i for i in a.v1.customers.invoices.list(customer_id=customer) if i.type == "USAGE"]


def test_quantity_change_reaches_the_draft_only(a: Metronome, h: httpx.Client) -> None:
    """$30/seat/month in ADVANCE: 10 seats -> 30,000 cents on the draft; setting 12 seats from the period
    start -> 36,000. After finalization another change leaves that invoice alone and shows on the next."""
    uid = "ed" + iso(clock_now(h)).replace(":", "").replace("-", "")[:13]
    t0 = fresh_month(h)
    t1, t2 = add_months(t0, 1), add_months(t0, 2)
    seat = a.v1.contracts.products.create(name=f"seat {uid}", type="SUBSCRIPTION").data.id
    card = a.v1.contracts.rate_cards.create(name=f"card {uid}").data.id
    a.v1.contracts.rate_cards.rates.add(
        rate_card_id=card,
        product_id=seat,
        starting_at=t0,
        entitled=True,
        rate_type="SUBSCRIPTION",
        price=3000,
        quantity=1,
        billing_frequency="MONTHLY",
    )
    customer = a.v1.customers.create(name=f"edits {uid}").data.id
    cid = a.v1.contracts.create(
        customer_id=customer,
        starting_at=t0,
        rate_card_id=card,
        subscriptions=[
            {
                "subscription_rate": {"product_id": seat, "billing_frequency": "MONTHLY"},
                "collection_schedule": "ADVANCE",
                "proration": {"is_prorated": True, "invoice_behavior": "BILL_IMMEDIATELY"},
                "initial_quantity": 10,
            }
        ],
    ).data.id
    sid = (a.v2.contracts.retrieve(customer_id=customer, contract_id=cid).data.subscriptions or [])[0].id
    assert sid is not None
    (draft,) = _usage_invoices(a, customer)
    assert (draft.status, _sub_total(draft, seat)) == ("DRAFT", 30000)
    a.v2.contracts.edit(
        customer_id=customer,
        contract_id=cid,
        update_subscriptions=[
            {"subscription_id": sid, "quantity_updates": [{"starting_at": t0, "quantity": 12}]}
        ],
    )
    again = a.v1.customers.invoices.retrieve(customer_id=customer, invoice_id=draft.id).data
    assert (again.status, _sub_total(again, seat)) == ("DRAFT", 36000)
    set_clock(h, t1 + timedelta(hours=24, minutes=1))
    final = a.v1.customers.invoices.retrieve(customer_id=customer, invoice_id=draft.id).data
    assert (final.status, _sub_total(final, seat)) == ("FINALIZED", 36000)
    a.v2.contracts.edit(
        customer_id=customer,
        contract_id=cid,
        update_subscriptions=[
            {"subscription_id": sid, "quantity_updates": [{"starting_at": t0, "quantity": 20}]}
        ],
    )
    final = a.v1.customers.invoices.retrieve(customer_id=customer, invoice_id=draft.id).data
    assert (final.status, _sub_total(final, seat)) == ("FINALIZED", 36000)
    nxt = [i for i in _usage_invoices(a, customer) if i.status == "DRAFT"]
    assert [(i.start_timestamp, i.end_timestamp) for i in nxt] == [(t1, t2)]
    assert _sub_total(nxt[0], seat) == 60000
