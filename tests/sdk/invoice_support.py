"""Shared by the invoice tests: a server per backend started with `--test-clock`, and the lifecycle
scenario (catalog, customer, contract) whose figures the tests check by hand."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from metronome import Metronome

from tally.rating.periods import add_months
from tests.conftest import Running, serving


def iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def month_start(t: datetime) -> datetime:
    return t.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


@pytest.fixture(scope="module")
def clock_server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with serving(
        backend,
        tmp_path_factory.mktemp(f"clock-{backend}"),
        "--test-clock",
        env={"TALLY_WORKER_INTERVAL_SECONDS": "3600"},  # the test clock endpoint runs due work itself
    ) as running:
        yield running


def clock_now(http: httpx.Client) -> datetime:
    r = http.post("/tally/v1/test-clock/get")
    assert r.status_code == 200, r.text
    return datetime.fromisoformat(r.json()["data"]["now"].replace("Z", "+00:00"))


def set_clock(http: httpx.Client, t: datetime) -> dict[str, Any]:
    r = http.post("/tally/v1/test-clock", json={"now": iso(t)})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()["data"]
    return body


def fresh_month(http: httpx.Client) -> datetime:
    """Freeze the clock at least a day into a month and return that month's start (T0)."""
    # A minute ahead: an unfrozen test clock follows the wall clock, which must not overtake the target
    # before the request lands (the clock never moves backwards).
    target = clock_now(http).replace(microsecond=0) + timedelta(minutes=1)
    t0 = month_start(target)
    if target - t0 < timedelta(days=1):
        target = t0 + timedelta(days=1)
    set_clock(http, target)
    return t0


@dataclass
class Scenario:
    t0: datetime
    t1: datetime
    customer: str
    alias: str
    contract: str
    commit: str
    credit: str
    tokens_product: str
    api_product: str
    support_charge: str
    token_event: str
    api_event: str


def prepaid_commit(product: str, t0: datetime, end: datetime) -> dict[str, Any]:
    """5,000 usable from T0 (priority 2), bought for 4,000 on a SCHEDULED invoice at T0."""
    return {
        "type": "PREPAID",
        "product_id": product,
        "name": "Prepaid commit",
        "priority": 2,
        "access_schedule": {"schedule_items": [{"amount": 5000, "starting_at": t0, "ending_before": end}]},
        "invoice_schedule": {"schedule_items": [{"timestamp": t0, "amount": 4000}]},
    }


def welcome_credit(product: str, t0: datetime, end: datetime) -> dict[str, Any]:
    """A free 1,000 credit from T0, drawn before the commit (priority 1)."""
    return {
        "product_id": product,
        "name": "Welcome credit",
        "priority": 1,
        "access_schedule": {"schedule_items": [{"amount": 1000, "starting_at": t0, "ending_before": end}]},
    }


def build(client: Metronome, http: httpx.Client, uid: str) -> Scenario:
    """Catalog + customer + contract with a prepaid commit, a free credit, a recurring scheduled charge,
    a tiered rate and a multiplier override; contract starts at T0 (a month start)."""
    t0 = fresh_month(http)
    t1 = add_months(t0, 1)
    token_event, api_event = f"tok_{uid}", f"api_{uid}"
    tokens_metric = client.v1.billable_metrics.create(
        name=f"tokens {uid}",
        aggregation_type="SUM",
        aggregation_key="tokens",
        event_type_filter={"in_values": [token_event]},
        property_filters=[{"name": "tokens", "exists": True}, {"name": "region", "exists": True}],
        group_keys=[["region"]],
    ).data.id
    api_metric = client.v1.billable_metrics.create(
        name=f"calls {uid}",
        aggregation_type="COUNT",
        event_type_filter={"in_values": [api_event]},
    ).data.id
    tokens = client.v1.contracts.products.create(
        name=f"Tokens {uid}", type="USAGE", billable_metric_id=tokens_metric
    ).data.id
    api = client.v1.contracts.products.create(
        name=f"API calls {uid}", type="USAGE", billable_metric_id=api_metric
    ).data.id
    fixed = client.v1.contracts.products.create(name=f"Prepaid {uid}", type="FIXED").data.id
    support = client.v1.contracts.products.create(name=f"Support {uid}", type="FIXED").data.id
    card = client.v1.contracts.rate_cards.create(name=f"card {uid}").data.id
    client.v1.contracts.rate_cards.rates.add(
        rate_card_id=card,
        product_id=tokens,
        entitled=True,
        rate_type="TIERED",
        starting_at=t0,
        tiers=[{"size": 1000, "price": 2}, {"price": 1}],
    )
    client.v1.contracts.rate_cards.rates.add(
        rate_card_id=card, product_id=api, entitled=True, rate_type="FLAT", price=50, starting_at=t0
    )
    alias = f"inv-{uid}"
    customer = client.v1.customers.create(name=f"Invoice customer {uid}", ingest_aliases=[alias]).data.id
    year = add_months(t0, 12)
    contract = client.v1.contracts.create(
        customer_id=customer,
        starting_at=t0,
        rate_card_id=card,
        name=f"contract {uid}",
        commits=[prepaid_commit(fixed, t0, year)],
        credits=[welcome_credit(fixed, t0, year)],
        scheduled_charges=[
            {
                "product_id": support,
                "name": "Support",
                "schedule": {
                    "recurring_schedule": {
                        "starting_at": t0,
                        "ending_before": add_months(t0, 3),
                        "frequency": "MONTHLY",
                        "amount": 2500,
                        "amount_distribution": "EACH",
                    }
                },
            }
        ],
        overrides=[{"starting_at": t0, "product_id": api, "type": "MULTIPLIER", "multiplier": 0.8}],
    ).data.id
    got = client.v2.contracts.retrieve(customer_id=customer, contract_id=contract).data
    commit = got.commits[0].id
    credit = (got.credits or [])[0].id
    charge = (got.scheduled_charges or [])[0].id
    return Scenario(
        t0, t1, customer, alias, contract, commit, credit, tokens, api, charge, token_event, api_event
    )


def ingest(
    client: Metronome, s: Scenario, uid: str, tag: str, *events: tuple[str, datetime, dict[str, Any]]
) -> None:
    client.v1.usage.ingest(
        usage=[
            {
                "transaction_id": f"{tag}-{uid}-{i}",
                "customer_id": s.alias,
                "event_type": et,
                "timestamp": iso(ts),
                "properties": props,
            }
            for i, (et, ts, props) in enumerate(events)
        ]
    )


def lines_by(inv: Any) -> dict[tuple[str, str | None], Any]:
    return {
        (li.type, li.product_id if li.type != "applied_commit_or_credit" else li.commit_id): li
        for li in inv.line_items
    }
