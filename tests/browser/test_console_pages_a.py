"""The contract page and a rate card's timeline clicked through in Chromium, on SQLite and PostgreSQL
(issue 14 §3): from the customer page (a customer with a hostile name, shown as text) to its contract,
whose figures match the API's, then to the contract's rate card and its timeline; no script runs."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import SHOTS, shot, watch_for_scripts
from tests.conftest import Running
from tests.sdk.invoice_support import Scenario, build, ingest

HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def scenario(clock_server: Running) -> tuple[Scenario, str]:
    uid = uuid.uuid4().hex[:8]
    client = clock_server.sdk()
    with clock_server.http() as http:
        s = build(client, http, uid)
        r = http.post(f"/v1/customers/{s.customer}/setName", json={"name": f"{HOSTILE} {uid}"})
        assert r.status_code == 200, r.text
        ingest(
            client,
            s,
            uid,
            "pa",
            (s.token_event, s.t0 + timedelta(hours=2), {"tokens": 1200, "region": "us-east"}),
            (s.token_event, s.t0 + timedelta(hours=3), {"tokens": 300, "region": "eu-west"}),
            (s.api_event, s.t0 + timedelta(hours=4), {}),
        )
    return s, uid


def test_contract_page_from_the_customer_page_and_the_rate_card_timeline(
    clock_server: Running, scenario: tuple[Scenario, str], page: Page
) -> None:
    s, uid = scenario
    dialogs, errors = watch_for_scripts(page)

    page.goto(clock_server.url + f"/ui/customers/{s.customer}")
    page.locator("#token-form input[name=token]").fill(clock_server.token_a)
    page.locator("#token-form button[type=submit]").click()
    expect(page.locator("#customer-name")).to_have_text(f"{HOSTILE} {uid}")
    # The usage chart: day 1 holds 1,200 + 300 = 1,500 tokens.
    chart = page.locator(".usage-metric", has_text=f"tokens {uid}")
    expect(chart.locator(".legend")).to_contain_text("us-east")
    expect(chart.locator(".peak")).to_have_text("1,500")
    if SHOTS and not SHOTS.startswith("docs"):
        shot(page, "customer-usage")  # to look at, not for the docs

    page.get_by_role("link", name=f"contract {uid}").click()
    expect(page.locator("#contract-name")).to_have_text(f"contract {uid}")
    expect(page.locator("#customer-link")).to_have_text(f"{HOSTILE} {uid}")
    # The commit's and credit's balances are the API's, as money.
    got = (
        clock_server.sdk()
        .v2.contracts.retrieve(customer_id=s.customer, contract_id=s.contract, include_balance=True)
        .data
    )
    for b in [*got.commits, *(got.credits or [])]:
        expect(page.locator(f"#balance-{b.id} .balance-amount")).to_have_text(f"${b.balance / 100:,.2f}")
    # The API-calls override: x 0.8 from T0, drawn on the override timeline.
    expect(page.locator("#overrides")).to_contain_text("\u00d7 0.8")
    expect(page.locator("#override-timeline")).to_be_visible()
    # Support: $25.00 a month for three months.
    expect(page.locator("#scheduled-charges")).to_contain_text("$25.00")
    shot(page, "contract")

    page.locator("#rate-card-link").click()
    expect(page.locator("#rate-card-name")).to_have_text(f"card {uid}")
    tokens = page.locator(f"#product-{s.tokens_product}")
    # Tiers of 2 and 1 cents: the first 1,000 tokens at $0.02, the rest at $0.01; open-ended from T0.
    label = "0\u20131,000 @ $0.02 \u00b7 1,000+ @ $0.01"
    expect(tokens.locator("td.rate-label")).to_have_text(label)
    expect(tokens.locator("svg.timeline text.inside, svg.timeline text.outside")).to_have_text(label)
    expect(tokens.locator("svg.timeline polygon")).to_have_count(1)  # open-ended
    expect(page.locator(f"#product-{s.api_product} td.rate-label")).to_have_text("$0.50 / unit")
    shot(page, "rate-card")

    assert page.locator("img").count() == 0  # nothing was made from the customer's name
    assert dialogs == []
    assert errors == []
