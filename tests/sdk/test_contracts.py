"""Contracts through the official SDK in strict mode, on every backend (SPEC §5): create with every kind of
term, v1 and v2 reads, lists, amend / edit / history, end date, archive, usage filter, bad bodies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import metronome
import pytest
from metronome import Metronome

USD = "2714e483-4ff1-48e4-9e25-ac732e8f24f2"
JAN = datetime(2025, 1, 1, tzinfo=UTC)
FEB = datetime(2025, 2, 1, tzinfo=UTC)
MAR = datetime(2025, 3, 1, tzinfo=UTC)
APR = datetime(2025, 4, 1, tzinfo=UTC)
JUL = datetime(2025, 7, 1, tzinfo=UTC)
FAR = datetime(2030, 1, 1, tzinfo=UTC)  # tests run against the real clock: "now" is before FAR
JAN26 = datetime(2031, 1, 1, tzinfo=UTC)
MISSING = "00000000-0000-0000-0000-000000000000"


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Catalog:
    customer: str
    usage: str
    fixed: str
    sub: str
    pro: str
    card: str
    card_name: str


def make_catalog(client: Metronome, uid: str) -> Catalog:
    metric = client.v1.billable_metrics.create(
        name=f"m-{uid}",
        aggregation_type="SUM",
        aggregation_key="n",
        property_filters=[{"name": "n", "exists": True}, {"name": "region", "exists": True}],
        group_keys=[["region"]],
    ).data.id
    usage = client.v1.contracts.products.create(
        name=f"api-{uid}", type="USAGE", billable_metric_id=metric, tags=["api"]
    ).data.id
    fixed = client.v1.contracts.products.create(name=f"fixed-{uid}", type="FIXED").data.id
    sub = client.v1.contracts.products.create(name=f"seat-{uid}", type="SUBSCRIPTION").data.id
    pro = client.v1.contracts.products.create(name=f"pro-{uid}", type="PROFESSIONAL_SERVICE").data.id
    card_name = f"card-{uid}"
    card = client.v1.contracts.rate_cards.create(name=card_name, aliases=[{"name": f"alias-{uid}"}]).data.id
    client.v1.contracts.rate_cards.rates.add(
        rate_card_id=card,
        product_id=usage,
        starting_at=JAN,
        entitled=True,
        rate_type="TIERED",
        tiers=[{"price": 10, "size": 100}, {"price": 5}],
    )
    client.v1.contracts.rate_cards.rates.add(
        rate_card_id=card,
        product_id=sub,
        starting_at=JAN,
        entitled=True,
        rate_type="SUBSCRIPTION",
        price=3000,
        quantity=1,
        billing_frequency="MONTHLY",
    )
    customer = client.v1.customers.create(name=f"cust-{uid}").data.id
    return Catalog(customer, usage, fixed, sub, pro, card, card_name)


@pytest.fixture
def cat(client: Metronome, uid: str) -> Catalog:
    return make_catalog(client, uid)


def full_body(cat: Catalog, uid: str) -> dict[str, Any]:
    return {
        "customer_id": cat.customer,
        "starting_at": iso(JAN),
        "ending_before": iso(JAN26),
        "rate_card_id": cat.card,
        "name": f"contract-{uid}",
        "net_payment_terms_days": 30,
        "multiplier_override_prioritization": "EXPLICIT",
        "commits": [
            {
                "type": "PREPAID",
                "product_id": cat.fixed,
                "name": "prepaid",
                "priority": 1,
                "temporary_id": "c1",
                "access_schedule": {
                    "schedule_items": [
                        {"amount": 100000, "starting_at": iso(JAN), "ending_before": iso(FAR)},
                        {"amount": 50000, "starting_at": iso(FAR), "ending_before": iso(JAN26)},
                    ]
                },
                "invoice_schedule": {"schedule_items": [{"timestamp": iso(JAN), "amount": 120000}]},
                "applicable_product_tags": ["api"],
                "rate_type": "LIST_RATE",
                "rollover_fraction": 0.5,
            },
            {
                "type": "POSTPAID",
                "product_id": cat.fixed,
                "name": "postpaid",
                "access_schedule": {
                    "schedule_items": [
                        {"amount": 30000, "starting_at": iso(JAN), "ending_before": iso(JAN26)}
                    ]
                },
                "invoice_schedule": {"schedule_items": [{"timestamp": iso(JAN26), "amount": 30000}]},
            },
        ],
        "credits": [
            {
                "product_id": cat.fixed,
                "name": "promo",
                "priority": 2,
                "access_schedule": {
                    "schedule_items": [{"amount": 2500, "starting_at": iso(JAN), "ending_before": iso(FEB)}]
                },
                "specifiers": [{"product_id": cat.usage}],
            }
        ],
        "overrides": [
            {
                "starting_at": iso(JAN),
                "product_id": cat.usage,
                "type": "MULTIPLIER",
                "multiplier": 0.9,
                "priority": 2,
            },
            {
                "starting_at": iso(FEB),
                "ending_before": iso(APR),
                "applicable_product_tags": ["api"],
                "type": "TIERED",
                "tiers": [{"size": 5, "multiplier": 0.5}, {"multiplier": 0.8}],
                "priority": 1,
            },
            {
                "starting_at": iso(JAN),
                "override_specifiers": [{"product_id": cat.usage, "commit_ids": ["c1"]}],
                "is_commit_specific": True,
                "type": "OVERWRITE",
                "overwrite_rate": {"rate_type": "FLAT", "price": 7},
                "priority": 3,
            },
        ],
        "scheduled_charges": [
            {
                "product_id": cat.fixed,
                "name": "platform fee",
                "schedule": {
                    "recurring_schedule": {
                        "starting_at": iso(JAN),
                        "ending_before": iso(APR),
                        "frequency": "MONTHLY",
                        "amount_distribution": "EACH",
                        "amount": 5000,
                    }
                },
            },
        ],
        "discounts": [
            {
                "product_id": cat.fixed,
                "schedule": {"schedule_items": [{"timestamp": iso(MAR), "unit_price": 100, "quantity": 3}]},
            },
        ],
        "subscriptions": [
            {
                "subscription_rate": {"product_id": cat.sub, "billing_frequency": "MONTHLY"},
                "collection_schedule": "ADVANCE",
                "proration": {"is_prorated": True, "invoice_behavior": "BILL_IMMEDIATELY"},
                "initial_quantity": 10,
            },
        ],
        "professional_services": [
            {"product_id": cat.pro, "max_amount": 100000, "quantity": 10, "unit_price": 15000}
        ],
        "recurring_credits": [
            {
                "product_id": cat.fixed,
                "priority": 5,
                "starting_at": iso(JAN),
                "commit_duration": {"value": 1},
                "access_amount": {"credit_type_id": USD, "unit_price": 1000},
                "recurrence_frequency": "MONTHLY",
            },
        ],
        "usage_statement_schedule": {"frequency": "MONTHLY", "day": "CONTRACT_START"},
        "usage_filter": {"group_key": "region", "group_values": ["eu"]},
        "scheduled_charges_on_usage_invoices": "ALL",
        "uniqueness_key": f"uk-{uid}",
    }


def test_create_every_term_and_read_back(
    client: Metronome, cat: Catalog, uid: str, http: httpx.Client
) -> None:
    r = http.post("/v1/contracts/create", json=full_body(cat, uid))
    assert r.status_code == 200, r.text
    cid = r.json()["data"]["id"]
    got = client.v1.contracts.retrieve(
        customer_id=cat.customer, contract_id=cid, include_ledgers=True, include_balance=True
    ).data
    cur = got.current
    assert got.customer_id == cat.customer
    assert got.amendments == []
    assert cur.name == f"contract-{uid}"
    assert cur.rate_card_id == cat.card
    assert cur.net_payment_terms_days == 30
    assert cur.starting_at == JAN
    assert cur.ending_before == JAN26
    assert cur.usage_statement_schedule.frequency == "MONTHLY"
    assert cur.usage_statement_schedule.billing_anchor_date == JAN
    prepaid, postpaid = cur.commits
    assert prepaid.type == "PREPAID"
    assert prepaid.product.id == cat.fixed
    assert prepaid.product.name == f"fixed-{uid}"
    assert prepaid.access_schedule is not None
    assert [s.amount for s in prepaid.access_schedule.schedule_items] == [100000, 50000]
    assert prepaid.access_schedule.credit_type is not None
    assert prepaid.access_schedule.credit_type.id == USD
    assert prepaid.invoice_schedule is not None
    assert prepaid.invoice_schedule.schedule_items is not None
    assert [i.amount for i in prepaid.invoice_schedule.schedule_items] == [120000]
    assert prepaid.cost_basis == 0.8  # 120,000 paid for 150,000 granted
    assert prepaid.applicable_product_tags == ["api"]
    assert prepaid.rollover_fraction == 0.5
    assert prepaid.balance == 100000  # only the first segment is active now
    assert postpaid.type == "POSTPAID"
    assert postpaid.cost_basis == 1
    assert cur.credits is not None
    # The open-ended recurring credit's monthly children are stored up to ~400 days ahead (SPEC §5.7).
    plain_credits = [c for c in cur.credits if c.recurring_credit_id is None]
    assert len(plain_credits) == 1
    assert plain_credits[0].type == "CREDIT"
    assert len(cur.credits) > 12
    assert {c.access_schedule.schedule_items[0].amount for c in cur.credits if c.recurring_credit_id} == {
        1000
    }
    assert [o.type for o in cur.overrides] == ["MULTIPLIER", "TIERED", "OVERWRITE"]
    mult, tiered, ow = cur.overrides
    assert mult.multiplier == 0.9
    assert mult.product is not None
    assert mult.product.id == cat.usage
    assert tiered.override_tiers is not None
    assert [t.multiplier for t in tiered.override_tiers] == [0.5, 0.8]
    assert ow.overwrite_rate is not None
    assert ow.overwrite_rate.price == 7
    assert ow.is_commit_specific
    assert ow.override_specifiers is not None
    assert ow.override_specifiers[0].commit_ids == [prepaid.id]  # temporary id resolved
    (fee,) = cur.scheduled_charges
    assert fee.schedule.schedule_items is not None
    assert [i.timestamp for i in fee.schedule.schedule_items] == [JAN, FEB, MAR]
    assert {i.amount for i in fee.schedule.schedule_items} == {5000}
    assert cur.discounts is not None
    assert cur.discounts[0].schedule.schedule_items is not None
    assert cur.discounts[0].schedule.schedule_items[0].amount == 300
    assert cur.professional_services is not None
    assert cur.professional_services[0].unit_price == 15000
    assert cur.recurring_credits is not None
    assert cur.recurring_credits[0].access_amount.unit_price == 1000
    assert cur.usage_filter is not None
    assert cur.usage_filter.current is not None
    assert cur.usage_filter.current.group_values == ["eu"]
    assert got.subscriptions is not None
    assert got.subscriptions[0].quantity_schedule[0].quantity == 10
    assert got.uniqueness_key == f"uk-{uid}"
    assert got.scheduled_charges_on_usage_invoices == "ALL"
    # initial == current before any amendment
    assert got.initial.commits == cur.commits
    assert got.initial.overrides == cur.overrides

    v2 = client.v2.contracts.retrieve(customer_id=cat.customer, contract_id=cid, include_ledgers=True).data
    assert v2.id == cid
    assert v2.name == f"contract-{uid}"
    assert [c.id for c in v2.commits] == [c.id for c in cur.commits]
    assert v2.multiplier_override_prioritization == "EXPLICIT"
    assert [u.group_values for u in v2.usage_filter] == [["eu"]]
    ledger = v2.commits[0].ledger
    assert ledger is not None
    assert ledger[0].type == "PREPAID_COMMIT_SEGMENT_START"
    assert ledger[0].amount == 100000


def test_alias_resolves_and_list_pages(client: Metronome, cat: Catalog, uid: str) -> None:
    ids = [
        client.v1.contracts.create(
            customer_id=cat.customer, starting_at=JAN, rate_card_alias=f"alias-{uid}"
        ).data.id
        for _ in range(3)
    ]
    first = client.v1.contracts.retrieve(customer_id=cat.customer, contract_id=ids[0]).data
    assert first.current.rate_card_id == cat.card
    assert first.current.usage_statement_schedule.billing_anchor_date == JAN
    page1 = client.v2.contracts.list(customer_id=cat.customer, limit=2)
    assert len(page1.data) == 2
    assert page1.cursor
    seen = [c.id for c in client.v2.contracts.list(customer_id=cat.customer, limit=2)]
    assert seen == ids
    assert [c.id for c in client.v1.contracts.list(customer_id=cat.customer, limit=2)] == ids


def test_uniqueness_key_conflict(client: Metronome, cat: Catalog, uid: str, http: httpx.Client) -> None:
    body = {"customer_id": cat.customer, "starting_at": iso(JAN), "uniqueness_key": f"dup-{uid}"}
    assert http.post("/v1/contracts/create", json=body).status_code == 200
    r = http.post("/v1/contracts/create", json=body)
    assert r.status_code == 409
    assert r.headers.get("x-should-retry") == "false"
    assert "uniqueness key" in r.json()["message"]
    assert len(client.v2.contracts.list(customer_id=cat.customer).data) == 1


def _bad_bodies(cat: Catalog) -> list[tuple[dict[str, Any], str]]:
    seg = {"amount": 10, "starting_at": iso(JAN), "ending_before": iso(FEB)}
    base = {"customer_id": cat.customer, "starting_at": iso(JAN)}
    return [
        ({**base, "starting_at": "2025-01-01T00:30:00Z"}, "hour boundary"),
        ({**base, "ending_before": iso(JAN)}, "ending_before"),
        ({**base, "rate_card_id": MISSING}, "rate_card_id"),
        ({**base, "rate_card_alias": "no-such-alias"}, "rate_card_alias"),
        ({**base, "rate_card_id": cat.card, "rate_card_alias": "x"}, "cannot both"),
        (
            {
                **base,
                "commits": [
                    {"type": "PREPAID", "product_id": cat.usage, "access_schedule": {"schedule_items": [seg]}}
                ],
            },
            "FIXED",
        ),
        (
            {
                **base,
                "commits": [
                    {"type": "PREPAID", "product_id": MISSING, "access_schedule": {"schedule_items": [seg]}}
                ],
            },
            "not found",
        ),
        (
            {
                **base,
                "commits": [
                    {
                        "type": "POSTPAID",
                        "product_id": cat.fixed,
                        "access_schedule": {"schedule_items": [seg, seg]},
                        "invoice_schedule": {"schedule_items": [{"timestamp": iso(JAN), "amount": 10}]},
                    }
                ],
            },
            "POSTPAID",
        ),
        (
            {
                **base,
                "commits": [
                    {
                        "type": "POSTPAID",
                        "product_id": cat.fixed,
                        "access_schedule": {"schedule_items": [seg]},
                        "invoice_schedule": {"schedule_items": [{"timestamp": iso(JAN), "amount": 11}]},
                    }
                ],
            },
            "equal",
        ),
        (
            {
                **base,
                "commits": [
                    {
                        "type": "PREPAID",
                        "product_id": cat.fixed,
                        "rollover_fraction": 1.5,
                        "access_schedule": {"schedule_items": [seg]},
                    }
                ],
            },
            "rollover_fraction",
        ),
        (
            {
                **base,
                "credits": [
                    {"product_id": cat.fixed, "access_schedule": {"schedule_items": [{**seg, "amount": -1}]}}
                ],
            },
            "negative",
        ),
        (
            {**base, "overrides": [{"starting_at": iso(JAN), "type": "MULTIPLIER", "multiplier": 0.5}]},
            "target exactly one",
        ),
        (
            {
                **base,
                "overrides": [
                    {
                        "starting_at": iso(JAN),
                        "product_id": cat.usage,
                        "override_specifiers": [{"product_id": cat.usage}],
                        "type": "MULTIPLIER",
                        "multiplier": 0.5,
                    }
                ],
            },
            "target exactly one",
        ),
        (
            {
                **base,
                "overrides": [
                    {
                        "starting_at": iso(JAN),
                        "product_id": cat.usage,
                        "type": "TIERED",
                        "tiers": [{"multiplier": 0.5}],
                    }
                ],
            },
            "EXPLICIT",
        ),
        (
            {**base, "overrides": [{"starting_at": iso(JAN), "product_id": cat.usage, "type": "MULTIPLIER"}]},
            "multiplier",
        ),
        ({**base, "transition": {"type": "RENEWAL", "from_contract_id": MISSING}}, "from_contract_id"),
        (
            {**base, "usage_statement_schedule": {"frequency": "MONTHLY", "day": "CUSTOM_DATE"}},
            "billing_anchor_date",
        ),
        ({**base, "scheduled_charges": [{"product_id": cat.fixed, "schedule": {}}]}, "schedule"),
        (
            {
                **base,
                "subscriptions": [
                    {
                        "subscription_rate": {"product_id": cat.sub, "billing_frequency": "MONTHLY"},
                        "collection_schedule": "ADVANCE",
                        "proration": {},
                    }
                ],
            },
            "initial_quantity",
        ),
        ({**base, "unknown_field": 1}, "unknown_field"),
        ({**base, "commits": [{"type": "PREPAID", "product_id": cat.fixed}]}, "access_schedule"),
    ]


def test_bad_bodies_store_nothing(client: Metronome, cat: Catalog, http: httpx.Client) -> None:
    for body, needle in _bad_bodies(cat):
        r = http.post("/v1/contracts/create", json=body)
        assert r.status_code == 400, (body, r.text)
        assert needle in r.json()["message"], (needle, r.json())
    r = http.post("/v1/contracts/create", json={"customer_id": MISSING, "starting_at": iso(JAN)})
    assert r.status_code == 404
    assert client.v2.contracts.list(customer_id=cat.customer).data == []


def test_cross_tenant_404(client: Metronome, intruder: Metronome, cat: Catalog) -> None:
    cid = client.v1.contracts.create(customer_id=cat.customer, starting_at=JAN).data.id
    with pytest.raises(metronome.NotFoundError):
        intruder.v1.contracts.retrieve(customer_id=cat.customer, contract_id=cid)
    with pytest.raises(metronome.NotFoundError):
        intruder.v2.contracts.retrieve(customer_id=cat.customer, contract_id=cid)
    with pytest.raises(metronome.NotFoundError):
        intruder.v2.contracts.list(customer_id=cat.customer)
    with pytest.raises(metronome.NotFoundError):
        intruder.v1.contracts.update_end_date(customer_id=cat.customer, contract_id=cid, ending_before=FEB)
    with pytest.raises(metronome.NotFoundError):
        intruder.v1.contracts.archive(customer_id=cat.customer, contract_id=cid, void_invoices=False)
    with pytest.raises(metronome.NotFoundError):
        intruder.v2.contracts.edit(customer_id=cat.customer, contract_id=cid, update_contract_name="x")
    assert client.v2.contracts.retrieve(customer_id=cat.customer, contract_id=cid).data.ending_before is None


def test_amend_edit_and_history(client: Metronome, cat: Catalog, uid: str) -> None:
    cid = client.v1.contracts.create(
        customer_id=cat.customer, starting_at=JAN, rate_card_id=cat.card, name="before"
    ).data.id
    aid = client.v1.contracts.amend(
        customer_id=cat.customer,
        contract_id=cid,
        starting_at=FEB,
        overrides=[
            {"starting_at": iso(FEB), "product_id": cat.usage, "type": "MULTIPLIER", "multiplier": 0.75}
        ],
        credits=[
            {
                "product_id": cat.fixed,
                "access_schedule": {
                    "schedule_items": [{"amount": 500, "starting_at": iso(FEB), "ending_before": iso(MAR)}]
                },
            }
        ],
    ).data.id
    got = client.v1.contracts.retrieve(customer_id=cat.customer, contract_id=cid).data
    assert [a.id for a in got.amendments] == [aid]
    assert got.amendments[0].overrides[0].multiplier == 0.75
    assert got.amendments[0].credits is not None
    assert got.amendments[0].credits[0].access_schedule is not None
    assert got.initial.overrides == []
    assert len(got.current.overrides) == 1
    assert got.initial.credits == []
    assert got.current.credits is not None
    assert len(got.current.credits) == 1

    edit = client.v2.contracts.edit(
        customer_id=cat.customer,
        contract_id=cid,
        update_contract_name="after",
        update_contract_end_date=JAN26,
        add_commits=[
            {
                "type": "PREPAID",
                "product_id": cat.fixed,
                "access_schedule": {
                    "schedule_items": [{"amount": 700, "starting_at": iso(JAN), "ending_before": iso(JAN26)}]
                },
            }
        ],
        remove_overrides=[{"id": got.current.overrides[0].id}],
        uniqueness_key=f"e-{uid}",
    ).data.id
    v2 = client.v2.contracts.retrieve(customer_id=cat.customer, contract_id=cid).data
    assert v2.name == "after"
    assert v2.ending_before == JAN26
    assert v2.overrides == []
    (commit,) = v2.commits
    assert commit.access_schedule is not None
    first_segment = commit.access_schedule.schedule_items[0].id
    client.v2.contracts.edit_commit(
        customer_id=cat.customer,
        commit_id=commit.id,
        priority=3,
        access_schedule={"update_schedule_items": [{"id": first_segment, "amount": 900}]},
    )
    v2 = client.v2.contracts.retrieve(customer_id=cat.customer, contract_id=cid).data
    assert v2.commits[0].priority == 3
    assert v2.commits[0].access_schedule is not None
    assert v2.commits[0].access_schedule.schedule_items[0].amount == 900
    credit_id = v2.credits[0].id if v2.credits else ""
    client.v2.contracts.edit_credit(customer_id=cat.customer, credit_id=credit_id, name="renamed credit")
    hist = client.v2.contracts.get_edit_history(customer_id=cat.customer, contract_id=cid).data
    assert hist[0].id == edit
    assert hist[0].update_contract_name == "after"
    assert hist[0].add_commits is not None
    assert hist[0].add_commits[0].id == commit.id
    assert hist[0].remove_overrides is not None
    assert len(hist[0].remove_overrides) == 1
    assert hist[1].update_commits is not None
    assert hist[1].update_commits[0].priority == 3
    with pytest.raises(metronome.ConflictError):
        client.v2.contracts.edit(
            customer_id=cat.customer, contract_id=cid, update_contract_name="x", uniqueness_key=f"e-{uid}"
        )


def test_end_date_archive_usage_filter(client: Metronome, cat: Catalog, http: httpx.Client) -> None:
    cid = client.v1.contracts.create(customer_id=cat.customer, starting_at=JAN, ending_before=JAN26).data.id
    client.v1.contracts.update_end_date(customer_id=cat.customer, contract_id=cid, ending_before=JUL)
    assert client.v2.contracts.retrieve(customer_id=cat.customer, contract_id=cid).data.ending_before == JUL
    client.v1.contracts.update_end_date(customer_id=cat.customer, contract_id=cid)
    assert client.v2.contracts.retrieve(customer_id=cat.customer, contract_id=cid).data.ending_before is None
    r = http.post(
        "/v1/contracts/updateEndDate",
        json={"customer_id": cat.customer, "contract_id": cid, "ending_before": iso(JAN)},
    )
    assert r.status_code == 400
    client.v1.contracts.set_usage_filter(
        customer_id=cat.customer, contract_id=cid, group_key="region", group_values=["us"], starting_at=MAR
    )
    v2 = client.v2.contracts.retrieve(customer_id=cat.customer, contract_id=cid).data
    assert [(u.group_key, u.group_values, u.starting_at) for u in v2.usage_filter] == [
        ("region", ["us"], MAR)
    ]
    client.v1.contracts.archive(customer_id=cat.customer, contract_id=cid, void_invoices=False)
    assert (
        client.v2.contracts.retrieve(customer_id=cat.customer, contract_id=cid).data.archived_at is not None
    )
    assert [c.id for c in client.v2.contracts.list(customer_id=cat.customer)] == []
    assert [c.id for c in client.v2.contracts.list(customer_id=cat.customer, include_archived=True)] == [cid]
    with pytest.raises(metronome.BadRequestError):
        client.v1.contracts.update_end_date(customer_id=cat.customer, contract_id=cid, ending_before=JUL)


def test_transition_links_both_contracts(client: Metronome, cat: Catalog) -> None:
    old = client.v1.contracts.create(customer_id=cat.customer, starting_at=JAN, ending_before=JUL).data.id
    new = client.v1.contracts.create(
        customer_id=cat.customer, starting_at=JUL, transition={"type": "RENEWAL", "from_contract_id": old}
    ).data.id
    for cid in (old, new):
        got = client.v1.contracts.retrieve(customer_id=cat.customer, contract_id=cid).data
        assert [(t.from_contract_id, t.to_contract_id, t.type) for t in got.current.transitions] == [
            (old, new, "RENEWAL")
        ]


def test_named_schedules_on_contract_and_customer(
    client: Metronome, intruder: Metronome, cat: Catalog
) -> None:
    cid = client.v1.contracts.create(customer_id=cat.customer, starting_at=JAN).data.id
    named = client.v1.contracts.rate_cards.named_schedules
    named.update(
        customer_id=cat.customer, contract_id=cid, schedule_name="discount", starting_at=JAN, value={"f": 0.1}
    )
    named.update(
        customer_id=cat.customer,
        contract_id=cid,
        schedule_name="discount",
        starting_at=MAR,
        ending_before=APR,
        value=0.2,
    )
    got = named.retrieve(customer_id=cat.customer, contract_id=cid, schedule_name="discount").data
    assert [(g.starting_at, g.ending_before, g.value) for g in got] == [
        (JAN, MAR, {"f": 0.1}),
        (MAR, APR, 0.2),
        (APR, None, {"f": 0.1}),
    ]
    at = named.retrieve(
        customer_id=cat.customer, contract_id=cid, schedule_name="discount", covering_date=MAR
    ).data
    assert [g.value for g in at] == [0.2]
    listed = list(named.list(customer_id=cat.customer))
    assert [(x.contract_id, x.schedule_name, len(x.segments)) for x in listed] == [(cid, "discount", 3)]
    client.v1.customers.named_schedules.update(
        customer_id=cat.customer, schedule_name="tier", starting_at=JAN, value="gold"
    )
    cust = client.v1.customers.named_schedules.retrieve(customer_id=cat.customer, schedule_name="tier").data
    assert [(g.starting_at, g.value) for g in cust] == [(JAN, "gold")]
    with pytest.raises(metronome.NotFoundError):
        intruder.v1.contracts.rate_cards.named_schedules.retrieve(
            customer_id=cat.customer, contract_id=cid, schedule_name="discount"
        )
    with pytest.raises(metronome.NotFoundError):
        intruder.v1.customers.named_schedules.retrieve(customer_id=cat.customer, schedule_name="tier")


def test_entitlement_only_override(client: Metronome, cat: Catalog, http: httpx.Client) -> None:
    """An override with no type and no rate only grants or removes entitlement (Metronome allows it)."""
    body = {
        "customer_id": cat.customer,
        "rate_card_id": cat.card,
        "starting_at": "2025-01-01T00:00:00Z",
        "overrides": [{"product_id": cat.usage, "entitled": False, "starting_at": "2025-01-01T00:00:00Z"}],
    }
    r = http.post("/v1/contracts/create", json=body)
    assert r.status_code == 200, r.text
    got = client.v2.contracts.retrieve(customer_id=cat.customer, contract_id=r.json()["data"]["id"]).data
    (override,) = got.overrides
    assert override.entitled is False
    assert override.multiplier is None
    bad = {**body, "overrides": [{"product_id": cat.usage, "starting_at": "2025-01-01T00:00:00Z"}]}
    r = http.post("/v1/contracts/create", json=bad)
    assert r.status_code == 400
    assert "entitled" in r.json()["message"]
