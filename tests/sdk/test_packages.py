"""Packages (Metronome `v1.packages.*`, issue 12) through the official SDK in strict mode, on both
databases: create, get, list, archive, listContractsOnPackage, and contracts created from a package by id
and by alias with every date resolved from the contract's start. Archiving a package leaves its contracts
as they are; fields tally cannot honour are refused with a 400 naming them."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import metronome
import pytest
from metronome import Metronome

from tally.rating.periods import add_months
from tests.sdk.test_contracts import iso


def _catalog(client: Metronome, uid: str) -> dict[str, str]:
    fixed = client.v1.contracts.products.create(name=f"fixed {uid}", type="FIXED").data.id
    seat = client.v1.contracts.products.create(name=f"seat {uid}", type="SUBSCRIPTION").data.id
    metric = client.v1.billable_metrics.create(name=f"calls {uid}", aggregation_type="COUNT").data.id
    calls = client.v1.contracts.products.create(
        name=f"calls {uid}", type="USAGE", billable_metric_id=metric
    ).data.id
    card = client.v1.contracts.rate_cards.create(name=f"card {uid}").data.id
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    client.v1.contracts.rate_cards.rates.add(
        rate_card_id=card, product_id=calls, starting_at=t0, entitled=True, rate_type="FLAT", price=10
    )
    client.v1.contracts.rate_cards.rates.add(
        rate_card_id=card,
        product_id=seat,
        starting_at=t0,
        entitled=True,
        rate_type="FLAT",
        price=3000,
        billing_frequency="MONTHLY",
    )
    return {"fixed": fixed, "seat": seat, "calls": calls, "card": card}


def _package(cat: dict[str, str], uid: str) -> dict[str, Any]:
    days0 = {"unit": "DAYS", "value": 0}
    return {
        "name": f"starter {uid}",
        "aliases": [{"name": f"starter-{uid}"}],
        "contract_name": "Starter",
        "rate_card_id": cat["card"],
        "duration": {"unit": "YEARS", "value": 1},
        "net_payment_terms_days": 15,
        "usage_statement_schedule": {"frequency": "MONTHLY", "day": "CONTRACT_START"},
        "commits": [
            {
                "type": "PREPAID",
                "product_id": cat["fixed"],
                "name": "prepaid",
                "priority": 1,
                "access_schedule": {
                    "schedule_items": [
                        {
                            "amount": 10000,
                            "starting_at_offset": days0,
                            "duration": {"unit": "MONTHS", "value": 3},
                        }
                    ]
                },
                "invoice_schedule": {
                    "schedule_items": [
                        {"date_offset": {"unit": "WEEKS", "value": 1}, "unit_price": 8000, "quantity": 1}
                    ]
                },
            }
        ],
        "credits": [
            {
                "product_id": cat["fixed"],
                "name": "welcome",
                "priority": 2,
                "access_schedule": {
                    "schedule_items": [
                        {
                            "amount": 500,
                            "starting_at_offset": {"unit": "DAYS", "value": 10},
                            "duration": {"unit": "DAYS", "value": 20},
                        }
                    ]
                },
            }
        ],
        "scheduled_charges": [
            {
                "product_id": cat["fixed"],
                "name": "onboarding",
                "schedule": {
                    "schedule_items": [
                        {"date_offset": {"unit": "MONTHS", "value": 1}, "unit_price": 2000, "quantity": 1}
                    ]
                },
            }
        ],
        "overrides": [
            {
                "product_id": cat["calls"],
                "type": "MULTIPLIER",
                "multiplier": 0.5,
                "starting_at_offset": days0,
                "duration": {"unit": "MONTHS", "value": 2},
            }
        ],
        "subscriptions": [
            {
                "subscription_rate": {"product_id": cat["seat"], "billing_frequency": "MONTHLY"},
                "collection_schedule": "ADVANCE",
                "initial_quantity": 3,
                "proration": {"is_prorated": True, "invoice_behavior": "BILL_IMMEDIATELY"},
                "starting_at_offset": days0,
            }
        ],
    }


def test_package_lifecycle_and_contracts_from_it(client: Metronome, intruder: Metronome, uid: str) -> None:
    """Contract A from the package by id, starting S = 2025-01-15: ends S + 1 year = 2026-01-15;
    commit access [S, S + 3 months) = [01-15, 04-15), invoiced S + 1 week = 01-22; credit
    [S + 10 days, + 20 days) = [01-25, 02-14); scheduled charge at S + 1 month = 02-15; override
    [S, S + 2 months) = [01-15, 03-15); subscription from S, 3 seats. Contract B by alias from
    2025-03-31: commit [03-31, 06-30) (month steps clamp the day: 31 -> 30), charge at 04-30."""
    cat = _catalog(client, uid)
    pkg = client.v1.packages.create(**_package(cat, uid)).data.id
    got = client.v1.packages.retrieve(package_id=pkg).data
    assert (got.id, got.name, got.contract_name, got.rate_card_id) == (
        pkg,
        f"starter {uid}",
        "Starter",
        cat["card"],
    )
    assert [a.name for a in got.aliases or []] == [f"starter-{uid}"]
    assert got.commits[0].product.id == cat["fixed"]
    assert got.scheduled_charges[0].schedule.schedule_items[0].date_offset.unit == "MONTHS"
    assert got.overrides[0].starting_at_offset.value == 0
    assert got.usage_statement_schedule.frequency == "MONTHLY"
    assert pkg in [p.id for p in client.v1.packages.list()]
    with pytest.raises(metronome.NotFoundError):
        intruder.v1.packages.retrieve(package_id=pkg)

    customer = client.v1.customers.create(name=f"pkg {uid}").data.id
    s = datetime(2025, 1, 15, tzinfo=UTC)
    a_id = client.v1.contracts.create(customer_id=customer, starting_at=s, package_id=pkg).data.id
    a = client.v2.contracts.retrieve(customer_id=customer, contract_id=a_id).data
    assert (a.name, a.ending_before, a.rate_card_id) == (
        "Starter",
        datetime(2026, 1, 15, tzinfo=UTC),
        cat["card"],
    )
    (commit,) = a.commits
    assert [(i.amount, i.starting_at, i.ending_before) for i in commit.access_schedule.schedule_items] == [
        (10000, s, datetime(2025, 4, 15, tzinfo=UTC))
    ]
    assert commit.invoice_schedule is not None
    assert [i.timestamp for i in commit.invoice_schedule.schedule_items] == [s + timedelta(weeks=1)]
    (credit,) = a.credits or []
    assert [(i.starting_at, i.ending_before) for i in credit.access_schedule.schedule_items] == [
        (s + timedelta(days=10), s + timedelta(days=30))
    ]
    (charge,) = a.scheduled_charges
    assert [i.timestamp for i in charge.schedule.schedule_items] == [add_months(s, 1)]
    (override,) = a.overrides
    assert (override.starting_at, override.ending_before) == (s, add_months(s, 2))
    (sub,) = a.subscriptions or []
    assert (sub.starting_at, sub.quantity_schedule[0].quantity) == (s, 3)

    b_start = datetime(2025, 3, 31, tzinfo=UTC)
    b_id = client.v1.contracts.create(
        customer_id=customer, starting_at=b_start, package_alias=f"starter-{uid}"
    ).data.id
    b = client.v2.contracts.retrieve(customer_id=customer, contract_id=b_id).data
    assert [(i.starting_at, i.ending_before) for i in b.commits[0].access_schedule.schedule_items] == [
        (b_start, datetime(2025, 6, 30, tzinfo=UTC))
    ]
    assert [i.timestamp for i in b.scheduled_charges[0].schedule.schedule_items] == [
        datetime(2025, 4, 30, tzinfo=UTC)
    ]

    on = client.v1.packages.list_contracts_on_package(package_id=pkg)
    assert sorted((c.contract_id, c.customer_id, c.starting_at) for c in on) == sorted(
        [(a_id, customer, s), (b_id, customer, b_start)]
    )
    covering = client.v1.packages.list_contracts_on_package(
        package_id=pkg, covering_date=datetime(2025, 2, 1, tzinfo=UTC)
    )
    assert [c.contract_id for c in covering] == [a_id]

    # Archiving the package: gone from the default list, no new contracts, existing ones untouched.
    assert client.v1.packages.archive(package_id=pkg).data.id == pkg
    assert pkg not in [p.id for p in client.v1.packages.list()]
    assert pkg in [p.id for p in client.v1.packages.list(archive_filter="ARCHIVED")]
    assert client.v1.packages.retrieve(package_id=pkg).data.archived_at is not None
    with pytest.raises(metronome.BadRequestError, match="archived"):
        client.v1.contracts.create(customer_id=customer, starting_at=s, package_id=pkg)
    again = client.v2.contracts.retrieve(customer_id=customer, contract_id=a_id).data
    assert (again.ending_before, len(again.commits), again.name) == (a.ending_before, 1, "Starter")


def test_package_bad_input_names_the_field(client: Metronome, uid: str) -> None:
    cat = _catalog(client, uid)
    before = len(list(client.v1.packages.list(archive_filter="ALL")))
    bad: list[tuple[dict[str, Any], str]] = [
        ({"billing_provider": "stripe"}, "billing_provider"),
        ({"spend_trackers": []}, "spend_trackers"),
        ({"duration": {"unit": "FORTNIGHTS", "value": 1}}, "duration.unit"),
        ({"duration": {"unit": "DAYS", "value": -1}}, "duration.value"),
        ({"rate_card_id": "00000000-0000-0000-0000-000000000001"}, "rate_card_id"),
    ]
    for extra, field in bad:
        with pytest.raises(metronome.BadRequestError, match=field.split(".")[0]):
            client.v1.packages.create(name=f"bad {uid}", **extra)  # type: ignore[arg-type]
    with pytest.raises(metronome.BadRequestError, match="commits"):
        client.v1.packages.create(
            name=f"bad {uid}",
            commits=[
                {
                    "type": "PREPAID",
                    "product_id": cat["fixed"],
                    "access_schedule": {"schedule_items": []},
                    "bogus": 1,
                }
            ],  # type: ignore[list-item]
        )
    assert len(list(client.v1.packages.list(archive_filter="ALL"))) == before
    pkg = client.v1.packages.create(name=f"ok {uid}", rate_card_id=cat["card"]).data.id
    customer = client.v1.customers.create(name=f"pkg bad {uid}").data.id
    with pytest.raises(metronome.BadRequestError, match="commits"):
        client.v1.contracts.create(
            customer_id=customer,
            starting_at=datetime(2025, 1, 1, tzinfo=UTC),
            package_id=pkg,
            commits=[],
        )
    with pytest.raises(metronome.BadRequestError, match="package_alias"):
        client.v1.contracts.create(
            customer_id=customer, starting_at=datetime(2025, 1, 1, tzinfo=UTC), package_alias=f"none-{uid}"
        )
    assert iso(datetime(2025, 1, 1, tzinfo=UTC)) == "2025-01-01T00:00:00Z"


def test_package_lists_page_through_the_query_cursor(client: Metronome, uid: str) -> None:
    """The SDK pages with `limit` and `next_page` in the query string: 23 packages in pages of 10 come back
    once each (10 + 10 + 3), and the auto-pager stops (a cursor read from the wrong place loops forever)."""
    cat = _catalog(client, uid)
    made = {
        client.v1.packages.create(name=f"paged {uid} {i}", rate_card_id=cat["card"]).data.id
        for i in range(23)
    }
    first = client.v1.packages.list(limit=10, archive_filter="ALL")
    assert len(first.data) == 10
    assert first.next_page
    # Bounded, so a pager that never stops fails instead of hanging the suite.
    seen = [p.id for p in itertools.islice(client.v1.packages.list(limit=10, archive_filter="ALL"), 5000)]
    assert len(seen) < 5000
    assert len(seen) == len(set(seen))
    assert made <= set(seen)
