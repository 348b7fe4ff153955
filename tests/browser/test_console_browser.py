"""The console clicked through in Chromium, on SQLite and PostgreSQL (issue 14): sign in with a token,
find a customer, read an invoice whose total is the API's, explain a usage line, void and regenerate as an
admin; a viewer gets no action buttons; a hostile customer name stays text and runs no script."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import shot, watch_for_scripts
from tests.conftest import Running
from tests.sdk.invoice_support import Scenario, build, ingest

PASSWORD = "correct horse battery staple"
HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def scenario(clock_server: Running) -> tuple[Scenario, str]:
    uid = uuid.uuid4().hex[:8]
    client = clock_server.sdk()
    with clock_server.http() as http:
        s = build(client, http, uid)
        ingest(
            client,
            s,
            uid,
            "b",
            (s.token_event, s.t0 + timedelta(hours=2), {"tokens": 1200, "region": "us-east"}),
            (s.token_event, s.t0 + timedelta(hours=3), {"tokens": 300, "region": "eu-west"}),
            (s.api_event, s.t0 + timedelta(hours=4), {}),
            (s.api_event, s.t0 + timedelta(hours=5), {}),
        )
    return s, uid


def _sign_in_with_token(page: Page, server: Running) -> None:
    page.goto(server.url + "/ui/customers")
    expect(page).to_have_url(server.url + "/ui/login?next=%2Fui%2Fcustomers")
    shot(page, "login")
    page.locator("#token-form input[name=token]").fill(server.token_a)
    page.locator("#token-form button[type=submit]").click()
    expect(page).to_have_url(server.url + "/ui/customers")


def _usage_draft(server: Running, s: Scenario) -> Any:
    invs = server.sdk().v1.customers.invoices.list(customer_id=s.customer, status="DRAFT").data
    return next(i for i in invs if i.type == "USAGE")


def test_find_a_customer_read_the_invoice_and_explain_a_line(
    clock_server: Running, scenario: tuple[Scenario, str], page: Page
) -> None:
    s, uid = scenario
    _sign_in_with_token(page, clock_server)
    page.get_by_label("Search customers").fill(s.alias)
    page.get_by_role("button", name="Search").click()
    shot(page, "customers")
    page.get_by_role("link", name=f"Invoice customer {uid}").click()
    expect(page.locator("#customer-name")).to_have_text(f"Invoice customer {uid}")
    shot(page, "customer")
    inv = _usage_draft(clock_server, s)
    page.locator(f"a[href$='/invoices/{inv.id}']").first.click()
    # The API's total is in cents; the page shows dollars.
    expect(page.locator("#invoice-total")).to_have_text(f"${inv.total / 100:,.2f}")
    shot(page, "invoice")
    page.locator("a.explain").first.click()
    expect(page.locator("#explain-summary")).to_contain_text("matches the line")
    # Tokens: 1,200 + 300 = 1,500, split us-east 1,200 / eu-west 300.
    expect(page.locator("#explained-quantity")).to_have_text("1,500")
    expect(page.locator("#groups")).to_contain_text("eu-west")
    shot(page, "explain")


def test_admin_voids_and_regenerates(
    clock_server: Running, scenario: tuple[Scenario, str], page: Page
) -> None:
    s, _ = scenario
    inv = _usage_draft(clock_server, s)
    _sign_in_with_token(page, clock_server)
    page.goto(clock_server.url + f"/ui/customers/{s.customer}/invoices/{inv.id}")
    page.get_by_role("button", name="Void").click()
    expect(page.locator("#invoice-status")).to_have_text("VOID")
    api = clock_server.sdk()
    assert api.v1.customers.invoices.retrieve(customer_id=s.customer, invoice_id=inv.id).data.status == "VOID"
    page.get_by_role("button", name="Regenerate").click()
    expect(page.locator("#invoice-status")).to_have_text("DRAFT")
    new_id = page.url.rsplit("/", 1)[1]
    assert new_id != inv.id
    again = api.v1.customers.invoices.retrieve(customer_id=s.customer, invoice_id=new_id).data
    assert again.total == inv.total
    expect(page.locator("#invoice-total")).to_have_text(f"${again.total / 100:,.2f}")


def test_viewer_has_no_actions(clock_server: Running, scenario: tuple[Scenario, str], page: Page) -> None:
    s, _ = scenario
    email = f"viewer-{uuid.uuid4().hex[:8]}@example.com"
    argv = ["users", "create", "--email", email, "--role", "viewer", "--tenant", "alpha", "--password-stdin"]
    subprocess.run(
        [sys.executable, "-m", "tally", *argv],
        input=PASSWORD + "\n",
        env=clock_server.server.env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    page.goto(clock_server.url + "/ui/login")
    page.locator("#password-form input[name=email]").fill(email)
    page.locator("#password-form input[name=password]").fill(PASSWORD)
    page.locator("#password-form button[type=submit]").click()
    expect(page.locator(".role")).to_have_text("viewer")
    inv = _usage_draft(clock_server, s)
    page.goto(clock_server.url + f"/ui/customers/{s.customer}/invoices/{inv.id}")
    expect(page.locator("#invoice-total")).to_be_visible()
    expect(page.get_by_role("button", name="Void")).to_have_count(0)
    expect(page.get_by_role("button", name="Regenerate")).to_have_count(0)


def test_hostile_name_is_text_and_runs_no_script(clock_server: Running, page: Page) -> None:
    dialogs, errors = watch_for_scripts(page)
    customer = clock_server.sdk().v1.customers.create(name=HOSTILE).data.id
    _sign_in_with_token(page, clock_server)
    page.goto(clock_server.url + "/ui/customers?q=%3Cimg")
    expect(page.get_by_role("link", name=HOSTILE)).to_be_visible()
    page.get_by_role("link", name=HOSTILE).click()
    expect(page.locator("#customer-name")).to_have_text(HOSTILE)
    assert page.url.endswith(f"/ui/customers/{customer}")
    assert page.locator("img").count() == 0  # no element was made from the name
    assert dialogs == []
    assert errors == []
