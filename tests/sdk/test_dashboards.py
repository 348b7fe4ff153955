"""Embeddable dashboards through the official SDK (`v1.dashboards.get_embeddable_url`) on every backend:
the URL opens without any session and shows the customer's own figures, honours colour overrides and
options, and a tampered, expired or other tenant's URL is refused."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import metronome
import pytest

from tests.conftest import Running
from tests.sdk.invoice_support import Scenario, build, clock_now, ingest, set_clock
from tests.sdk.invoice_support import clock_server as clock_server


@pytest.fixture(scope="module")
def scenario(clock_server: Running) -> Scenario:
    uid = uuid.uuid4().hex[:8]
    client = clock_server.sdk()
    with clock_server.http() as http:
        s = build(client, http, uid)
        # 1,500 tokens in us-east (1,000 x 2 + 500 x 1 = 2,500 cents = $25.00) and 3 API calls
        # (3 x 50 x 0.8 = 120 cents = $1.20), as tests/console/test_console.py's scenario.
        ingest(
            client,
            s,
            uid,
            "d",
            (s.token_event, s.t0 + timedelta(hours=2), {"tokens": 1000, "region": "us-east"}),
            (s.token_event, s.t0 + timedelta(hours=3), {"tokens": 500, "region": "us-east"}),
            (s.api_event, s.t0 + timedelta(hours=4), {}),
            (s.api_event, s.t0 + timedelta(hours=5), {}),
            (s.api_event, s.t0 + timedelta(hours=6), {}),
        )
    return s


def _open(url: str) -> httpx.Response:
    with httpx.Client(timeout=30) as anonymous:  # no token, no console cookie
        return anonymous.get(url)


def test_invoices_dashboard_shows_the_customers_figures(
    clock_server: Running,
    scenario: Scenario,
) -> None:
    client = clock_server.sdk()
    got = client.v1.dashboards.get_embeddable_url(
        customer_id=scenario.customer,
        dashboard="invoices",
        color_overrides=[{"name": "Primary_medium", "value": "#AB12CD"}],
        dashboard_options=[{"key": "invoice_status_filter", "value": "DRAFT"}],
    )
    url = got.data.url
    assert url is not None
    assert url.startswith(f"{clock_server.url}/embed/")
    r = _open(url)
    assert r.status_code == 200, r.text[:500]
    policy = r.headers["content-security-policy"]
    assert "frame-ancestors *" in policy
    assert "script-src" not in policy  # default-src 'none': no script at all
    assert "x-frame-options" not in r.headers
    assert "style=" not in r.text
    draft = next(
        i
        for i in client.v1.customers.invoices.list(customer_id=scenario.customer, status="DRAFT").data
        if i.type == "USAGE"
    )
    # the usage draft: $25.00 of tokens, $1.20 of API calls
    assert "$25.00" in r.text
    assert "$1.20" in r.text
    assert f"${draft.total / 100:,.2f}" in r.text
    assert "finalized" not in r.text.lower().replace("pill-finalized", "")
    css = _open(url + "/style.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert "--primary-medium: #ab12cd;" in css.text


def test_commits_and_credits_dashboard(clock_server: Running, scenario: Scenario) -> None:
    client = clock_server.sdk()
    url = client.v1.dashboards.get_embeddable_url(
        customer_id=scenario.customer, dashboard="commits_and_credits"
    ).data.url
    assert url is not None
    r = _open(url)
    assert r.status_code == 200
    balances = client.v1.contracts.list_balances(customer_id=scenario.customer, include_balance=True).data
    assert balances
    for b in balances:
        assert f"${b.balance / 100:,.2f}" in r.text  # type: ignore[attr-defined]
    only_credits = client.v1.dashboards.get_embeddable_url(
        customer_id=scenario.customer,
        dashboard="credits",
        dashboard_options=[{"key": "hide_grant_name", "value": "true"}],
    ).data.url
    assert only_credits is not None
    text = _open(only_credits).text
    assert "commit</span>" not in text
    assert "credit</span>" in text


def test_bad_requests_are_refused(clock_server: Running, scenario: Scenario) -> None:
    client = clock_server.sdk()
    for color in ("red", "#12345", "#1234567;}", "url(x)"):
        with pytest.raises(metronome.BadRequestError) as exc:
            client.v1.dashboards.get_embeddable_url(
                customer_id=scenario.customer,
                dashboard="invoices",
                color_overrides=[{"name": "Action", "value": color}],
            )
        assert "color_overrides" in str(exc.value)
    with pytest.raises(metronome.BadRequestError):
        client.v1.dashboards.get_embeddable_url(
            customer_id=scenario.customer,
            dashboard="invoices",
            dashboard_options=[{"key": "invoice_type", "value": "EVERYTHING"}],
        )
    with pytest.raises(metronome.NotFoundError):
        client.v1.dashboards.get_embeddable_url(customer_id=str(uuid.uuid4()), dashboard="usage")


def test_other_tenants_customer_is_not_found(clock_server: Running, scenario: Scenario) -> None:
    intruder = clock_server.sdk(clock_server.token_b)
    with pytest.raises(metronome.NotFoundError):
        intruder.v1.dashboards.get_embeddable_url(customer_id=scenario.customer, dashboard="invoices")


def test_tampered_and_expired_urls_get_a_403_page(clock_server: Running, scenario: Scenario) -> None:
    client = clock_server.sdk()
    url = client.v1.dashboards.get_embeddable_url(customer_id=scenario.customer, dashboard="usage").data.url
    assert url is not None
    assert _open(url).status_code == 200
    prefix, token = url.rsplit("/", 1)
    body, signature = token.split(".")
    for i in (0, len(body) // 2, len(body) + 1 + len(signature) - 1):
        flipped = "A" if token[i] != "A" else "B"
        tampered = f"{prefix}/{token[:i]}{flipped}{token[i + 1 :]}"
        r = _open(tampered)
        assert r.status_code == 403, i
        assert "not valid" in r.text
        assert _open(tampered + "/style.css").status_code == 403
    assert _open(f"{prefix}/garbage").status_code == 403

    # The URL lives 24 hours on the server's clock (docs/console.md).
    with clock_server.http() as http:
        set_clock(http, clock_now(http) + timedelta(hours=24, minutes=1))
    r = _open(url)
    assert r.status_code == 403
    assert "expired" in r.text
    assert r.headers["content-type"].startswith("text/html")


def test_billable_status_filter_keeps_invoices_of_that_status(
    clock_server: Running, scenario: Scenario
) -> None:
    # The customer's invoices are all billable (none was issued as unbillable): `billable` keeps the
    # draft's $25.00 of tokens, `unbillable` keeps nothing, any other value is a 400.
    client = clock_server.sdk()

    def page(value: str) -> str:
        url = client.v1.dashboards.get_embeddable_url(
            customer_id=scenario.customer,
            dashboard="invoices",
            dashboard_options=[{"key": "billable_status_filter", "value": value}],
        ).data.url
        assert url is not None
        r = _open(url)
        assert r.status_code == 200, r.text[:300]
        return r.text

    assert "$25.00" in page("billable")
    assert "$25.00" not in page("unbillable")
    with pytest.raises(metronome.BadRequestError, match=r"dashboard_options\[0\]\.value"):
        client.v1.dashboards.get_embeddable_url(
            customer_id=scenario.customer,
            dashboard="invoices",
            dashboard_options=[{"key": "billable_status_filter", "value": "sometimes"}],
        )
