"""The contract page and the customer page's usage charts and alerts (issue 14 §3) over HTTP on both
backends: terms, rate card link, overrides with their schedules, commits and credits with segments and
ledgers, scheduled charges, subscriptions with seat quantities, the edit history; daily usage split by group
key; the customer's alerts. Figures are computed by hand in the comments."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from tally.rating.periods import add_months
from tests.conftest import Running
from tests.console.support import sign_in
from tests.sdk.invoice_support import Scenario, build, ingest, iso

HOSTILE = "<img src=x onerror=alert(1)>"


@dataclass
class World:
    s: Scenario
    uid: str
    card: str
    seats: str
    hostile_customer: str
    hostile_contract: str


def _ok(r: Any) -> Any:
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture(scope="module")
def world(clock_server: Running) -> World:
    uid = uuid.uuid4().hex[:8]
    client = clock_server.sdk()
    with clock_server.http() as http:
        s = build(client, http, uid)
        got = _ok(http.post("/v2/contracts/get", json={"customer_id": s.customer, "contract_id": s.contract}))
        card = got["data"]["rate_card_id"]
        seats = client.v1.contracts.products.create(name=f"Seats {uid}", type="SUBSCRIPTION").data.id
        client.v1.contracts.rate_cards.rates.add(
            rate_card_id=card,
            product_id=seats,
            starting_at=s.t0,
            entitled=True,
            rate_type="SUBSCRIPTION",
            price=3000,
            quantity=1,
            billing_frequency="MONTHLY",
        )
        # One edit: an overwrite of the token rate for ten days, and 4 seats from T0.
        _ok(
            http.post(
                "/v2/contracts/edit",
                json={
                    "customer_id": s.customer,
                    "contract_id": s.contract,
                    "add_overrides": [
                        {
                            "product_id": s.tokens_product,
                            "type": "OVERWRITE",
                            "starting_at": iso(s.t0 + timedelta(days=10)),
                            "ending_before": iso(s.t0 + timedelta(days=20)),
                            "overwrite_rate": {"rate_type": "FLAT", "price": 1.5},
                        }
                    ],
                    "add_subscriptions": [
                        {
                            "name": f"Team seats {uid}",
                            "collection_schedule": "ADVANCE",
                            "initial_quantity": 4,
                            "starting_at": iso(s.t0),
                            "proration": {
                                "invoice_behavior": "BILL_ON_NEXT_COLLECTION_DATE",
                                "is_prorated": True,
                            },
                            "subscription_rate": {"billing_frequency": "MONTHLY", "product_id": seats},
                        }
                    ],
                },
            )
        )
        # Day 1 usage: tokens 1,000 in us-east and 300 in eu-west; two API calls.
        ingest(
            client,
            s,
            uid,
            "cp",
            (s.token_event, s.t0 + timedelta(hours=2), {"tokens": 1000, "region": "us-east"}),
            (s.token_event, s.t0 + timedelta(hours=3), {"tokens": 300, "region": "eu-west"}),
            (s.api_event, s.t0 + timedelta(hours=4), {}),
            (s.api_event, s.t0 + timedelta(hours=5), {}),
        )
        _ok(
            http.post(
                "/v1/alerts/create",
                json={
                    "alert_type": "usage_threshold_reached",
                    "name": f"Token watch {uid}",
                    "threshold": 5000,
                    "billable_metric_id": client.v1.contracts.products.retrieve(
                        id=s.tokens_product
                    ).data.current.billable_metric_id,
                    "customer_id": s.customer,
                },
            )
        )
        _ok(
            http.post(
                "/v1/alerts/create",
                json={
                    "alert_type": "spend_threshold_reached",
                    "name": f"Spend watch {uid}",
                    "threshold": 12345,
                    "customer_id": s.customer,
                },
            )
        )
        hostile = client.v1.customers.create(name=f"{HOSTILE} {uid}").data.id
        hostile_contract = client.v1.contracts.create(
            customer_id=hostile, starting_at=s.t0, rate_card_id=card, name=f"{HOSTILE} terms"
        ).data.id
    return World(s, uid, card, seats, hostile, hostile_contract)


def _row(html: str, table_id: str) -> str:
    found = re.search(rf'<table class="[^"]*" id="{table_id}">(.*?)</table>\s*</section>', html, re.S)
    assert found, table_id
    return found.group(1)


def test_the_customer_page_links_its_contracts_and_back(clock_server: Running, world: World) -> None:
    s = world.s
    c = sign_in(clock_server)
    page = c.get(f"/ui/customers/{s.customer}")
    assert page.status_code == 200
    assert f'href="/ui/contracts/{s.contract}">contract {world.uid}</a>' in page.text
    contract = c.get(f"/ui/contracts/{s.contract}")
    assert contract.status_code == 200
    assert (
        f'id="customer-link" href="/ui/customers/{s.customer}">Invoice customer {world.uid}</a>'
        in contract.text
    )
    assert (
        f'id="rate-card-link" href="/ui/catalog/rate-cards/{world.card}">card {world.uid}</a>'
        in contract.text
    )


def test_contract_page_shows_the_contract(clock_server: Running, world: World) -> None:
    s = world.s
    c = sign_in(clock_server)
    html = c.get(f"/ui/contracts/{s.contract}").text
    t0 = f"{s.t0:%Y-%m-%d}"
    assert f'<h1 id="contract-name">contract {world.uid}' in html
    assert f"<dt>Starts</dt><dd>{t0}</dd>" in html
    assert "<dt>Ends (exclusive)</dt><dd>open-ended</dd>" in html
    assert f"<dt>Usage statements</dt><dd>monthly, anchored {t0}</dd>" in html

    # Overrides: API calls x 0.8 from T0 (open-ended); the edit's overwrite of tokens to 1.5 cents
    # ($0.015) from T0+10d until T0+20d.
    overrides = _row(html, "overrides")
    assert f"API calls {world.uid}</td>" in overrides
    assert "\u00d7 0.8" in overrides
    assert f"Tokens {world.uid}</td>" in overrides
    assert "rate → $0.015 / unit" in overrides
    ten, twenty = s.t0 + timedelta(days=10), s.t0 + timedelta(days=20)
    assert f"<td>{ten:%Y-%m-%d}</td><td>{twenty:%Y-%m-%d}</td>" in overrides
    assert f"<td>{t0}</td><td>open-ended</td>" in overrides
    assert 'id="override-timeline"' in html

    # Commit: 5,000 cents = $50.00 usable from T0 to T0+12 months, invoiced 4,000 cents = $40.00 at T0.
    # Credit: 1,000 cents = $10.00. Each ledger opens with its segment's start.
    year = add_months(s.t0, 12)
    balances = _row(html, "balances")
    assert "Prepaid commit" in balances
    assert "Welcome credit" in balances
    assert f'<tr><td>{t0}</td><td>{year:%Y-%m-%d}</td><td class="num">$50.00</td></tr>' in balances
    assert f'<tr><td>{t0}</td><td>{year:%Y-%m-%d}</td><td class="num">$10.00</td></tr>' in balances
    assert f'<tr><td>{t0}</td><td class="num">$40.00</td>' in balances
    assert "PREPAID_COMMIT_SEGMENT_START" in balances
    assert "CREDIT_SEGMENT_START" in balances

    # The page's balances are the API's (v2 get with include_balance), as money.
    with clock_server.http() as http:
        doc = _ok(
            http.post(
                "/v2/contracts/get",
                json={"customer_id": s.customer, "contract_id": s.contract, "include_balance": True},
            )
        )["data"]
    for b in doc["commits"] + doc["credits"]:
        shown = re.search(rf'id="balance-{b["id"]}">.*?class="num balance-amount">([^<]+)<', html, re.S)
        assert shown, b
        assert shown.group(1) == f"${b['balance'] / 100:,.2f}", b

    # Support: 2,500 cents = $25.00 each month for three months (T0, T0+1m, T0+2m): 1 x $25.00 each.
    charges = _row(html, "scheduled-charges")
    assert charges.count('<td class="num">1</td><td class="num">$25.00</td><td class="num">$25.00</td>') == 3
    for k in range(3):
        assert f"<td>{add_months(s.t0, k):%Y-%m-%d}</td>" in charges

    # Subscriptions: 4 seats from T0, monthly, in advance.
    subs = _row(html, "subscriptions")
    assert f"Team seats {world.uid}" in subs
    assert "monthly, advance" in subs
    assert '<span class="num quantity">4</span>' in subs

    # Edit history: the one edit, naming what it added.
    history = _row(html, "history")
    assert history.count('<ul class="changes">') == 1
    assert f"added overrides: Tokens {world.uid}" in history
    assert f"added subscriptions: Team seats {world.uid}" in history


def test_hostile_names_are_text_on_the_contract_page(clock_server: Running, world: World) -> None:
    c = sign_in(clock_server)
    r = c.get(f"/ui/contracts/{world.hostile_contract}")
    assert r.status_code == 200
    assert "<img src=x" not in r.text
    assert "&lt;img src=x onerror=alert(1)&gt; " + world.uid in r.text
    assert "&lt;img src=x onerror=alert(1)&gt; terms" in r.text
    assert "<script" not in r.text
    assert " style=" not in r.text


def test_unknown_or_foreign_contracts_are_404(clock_server: Running, world: World) -> None:
    a = sign_in(clock_server)
    assert a.get(f"/ui/contracts/{uuid.uuid4()}").status_code == 404
    b = sign_in(clock_server, clock_server.token_b)
    r = b.get(f"/ui/contracts/{world.s.contract}")
    assert r.status_code == 404
    assert world.uid not in r.text


def test_customer_page_charts_daily_usage_by_group(clock_server: Running, world: World) -> None:
    s = world.s
    c = sign_in(clock_server)
    html = c.get(f"/ui/customers/{s.customer}").text
    # The window is the current usage invoice's period: T0 to T1 (whole UTC days).
    last = s.t1 - timedelta(days=1)
    assert f"Daily, {s.t0:%Y-%m-%d} \u2013 {last:%Y-%m-%d} (current invoice period, UTC)" in html
    day = f"{s.t0:%Y-%m-%d}"
    tokens = re.search(
        r'<div class="usage-metric" id="usage-[^"]+">\s*<h3><a [^>]+>tokens '
        + world.uid
        + r"</a>(.*?)</div>",
        html,
        re.S,
    )
    assert tokens, html
    chart = tokens.group(1)
    assert "SUM by region" in chart
    # Day 1 holds 1,000 (us-east) + 300 (eu-west) = 1,300 tokens: the tallest bar, 150 px high, stacked
    # 1000/1300 x 150 = 115.38 px and 300/1300 x 150 = 34.62 px.
    assert f"<title>{day} · us-east: 1,000</title>" in chart
    assert f"<title>{day} · eu-west: 300</title>" in chart
    assert 'height="115.38"' in chart
    assert 'height="34.62"' in chart
    assert '<text class="peak" x="52" y="12" text-anchor="end">1,300</text>' in chart
    assert chart.count("<rect ") == 2  # no other day has usage
    assert 'legend-name">us-east</span> <span class="num">1,000</span>' in chart
    calls = re.search(r">calls " + world.uid + r"</a>(.*?)</div>", html, re.S)
    assert calls
    # Two API calls on day 1, COUNT without group keys: one bar of 2.
    assert f"<title>{day} · total: 2</title>" in calls.group(1)
    assert "<svg" in html
    assert " style=" not in html


def test_customer_page_lists_its_alerts(clock_server: Running, world: World) -> None:
    c = sign_in(clock_server)
    html = c.get(f"/ui/customers/{world.s.customer}").text
    alerts = _row(html, "alerts")
    # A usage threshold is a quantity (5,000 tokens); a spend threshold is money (12,345 cents).
    assert f"Token watch {world.uid}" in alerts
    assert '<td class="num">5,000</td>' in alerts
    assert f"Spend watch {world.uid}" in alerts
    assert '<td class="num">$123.45</td>' in alerts
    assert "usage_threshold_reached" in alerts
    statuses = re.findall(r'class="alert-status alert-([a-z-]+)"', alerts)
    assert len(statuses) == 2
    assert set(statuses) <= {"ok", "in-alarm", "evaluating"}
