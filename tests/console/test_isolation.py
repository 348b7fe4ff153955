"""Tenant isolation on every console route (issue 14 §2), as tests/api/test_tenant_isolation.py does for
the API: tenant B's console session, holding A's ids, gets 404 pages, never sees A's objects in any page,
and changes nothing of A's. Every route of the console's route table must have a probe here."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tally.console.mount import routes
from tests.api.test_tenant_isolation import Ids, _seed, _snapshot
from tests.conftest import Running
from tests.console.support import page_csrf, sign_in


@dataclass(frozen=True)
class Probe:
    path: Callable[[Ids], str]
    must_404: bool = True


def _inv(a: Ids) -> str:
    return f"/ui/customers/{a['customer']}/invoices/{a['invoice']}"


PROBES: dict[tuple[str, str], Probe] = {
    ("GET", "/ui"): Probe(lambda a: "/ui", must_404=False),
    ("GET", "/ui/"): Probe(lambda a: "/ui/", must_404=False),
    ("GET", "/ui/static/{name}"): Probe(lambda a: "/ui/static/console.css", must_404=False),
    ("GET", "/ui/login"): Probe(lambda a: "/ui/login", must_404=False),
    ("POST", "/ui/login"): Probe(lambda a: "/ui/login", must_404=False),
    ("POST", "/ui/logout"): Probe(lambda a: "/ui/logout", must_404=False),
    ("GET", "/ui/customers"): Probe(lambda a: f"/ui/customers?q={a['customer']}", must_404=False),
    ("GET", "/ui/customers/{customer_id}"): Probe(lambda a: f"/ui/customers/{a['customer']}"),
    ("GET", "/ui/customers/{customer_id}/invoices/{invoice_id}"): Probe(_inv),
    ("GET", "/ui/customers/{customer_id}/invoices/{invoice_id}/pdf"): Probe(lambda a: _inv(a) + "/pdf"),
    ("GET", "/ui/customers/{customer_id}/invoices/{invoice_id}/explain"): Probe(
        lambda a: _inv(a) + "/explain?line=0"
    ),
    ("POST", "/ui/customers/{customer_id}/invoices/{invoice_id}/void"): Probe(lambda a: _inv(a) + "/void"),
    ("POST", "/ui/customers/{customer_id}/invoices/{invoice_id}/regenerate"): Probe(
        lambda a: _inv(a) + "/regenerate"
    ),
    ("POST", "/ui/customers/{customer_id}/invoices/{invoice_id}/stripe-retry"): Probe(
        lambda a: _inv(a) + "/stripe-retry"
    ),
    ("GET", "/ui/settings/stripe"): Probe(lambda a: "/ui/settings/stripe", must_404=False),
    ("POST", "/ui/settings/stripe"): Probe(lambda a: "/ui/settings/stripe", must_404=False),
    ("POST", "/ui/settings/stripe/delete"): Probe(lambda a: "/ui/settings/stripe/delete", must_404=False),
    # pages-b: events, alerts, webhooks, audit, settings
    ("GET", "/ui/events"): Probe(lambda a: f"/ui/events?transaction_id={a['txn']}", must_404=False),
    ("GET", "/ui/events/unmatched"): Probe(lambda a: "/ui/events/unmatched", must_404=False),
    ("GET", "/ui/events/late"): Probe(lambda a: f"/ui/events/late?customer_id={a['customer']}"),
    ("GET", "/ui/alerts"): Probe(lambda a: "/ui/alerts", must_404=False),
    ("POST", "/ui/alerts"): Probe(lambda a: "/ui/alerts", must_404=False),
    ("POST", "/ui/alerts/archive"): Probe(lambda a: "/ui/alerts/archive", must_404=False),
    ("GET", "/ui/webhooks"): Probe(lambda a: "/ui/webhooks", must_404=False),
    ("POST", "/ui/webhooks/deliveries/retry"): Probe(
        lambda a: "/ui/webhooks/deliveries/retry", must_404=False
    ),
    ("POST", "/ui/webhooks/rotate"): Probe(lambda a: "/ui/webhooks/rotate", must_404=False),
    ("GET", "/ui/audit"): Probe(lambda a: "/ui/audit", must_404=False),
    ("GET", "/ui/settings"): Probe(lambda a: "/ui/settings", must_404=False),
    ("POST", "/ui/settings/invoice"): Probe(lambda a: "/ui/settings/invoice", must_404=False),
    ("POST", "/ui/settings/tokens"): Probe(lambda a: "/ui/settings/tokens", must_404=False),
    ("POST", "/ui/settings/tokens/revoke"): Probe(lambda a: "/ui/settings/tokens/revoke", must_404=False),
    ("GET", "/ui/invoices/export.csv"): Probe(
        lambda a: (
            f"/ui/invoices/export.csv?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z"
            f"&status=DRAFT&customer={a['customer']}"
        )
    ),
    ("GET", "/ui/invoices/export"): Probe(
        lambda a: f"/ui/invoices/export?customer={a['customer']}", must_404=False
    ),
    # issue 14 §3 pages: contracts and catalog (console/contracts_pages.py, console/catalog.py)
    ("GET", "/ui/contracts/{contract_id}"): Probe(lambda a: f"/ui/contracts/{a['contract']}"),
    ("GET", "/ui/catalog"): Probe(lambda a: "/ui/catalog", must_404=False),
    ("GET", "/ui/catalog/metrics"): Probe(lambda a: "/ui/catalog/metrics", must_404=False),
    ("GET", "/ui/catalog/metrics/{metric_id}"): Probe(lambda a: f"/ui/catalog/metrics/{a['metric']}"),
    ("GET", "/ui/catalog/products"): Probe(lambda a: "/ui/catalog/products", must_404=False),
    ("GET", "/ui/catalog/products/{product_id}"): Probe(lambda a: f"/ui/catalog/products/{a['product']}"),
    ("GET", "/ui/catalog/rate-cards"): Probe(lambda a: "/ui/catalog/rate-cards", must_404=False),
    ("GET", "/ui/catalog/rate-cards/{card_id}"): Probe(lambda a: f"/ui/catalog/rate-cards/{a['card']}"),
    # operator actions (console/actions.py)
    ("POST", "/ui/customers/new"): Probe(lambda a: "/ui/customers/new", must_404=False),
    ("POST", "/ui/customers/{customer_id}/ingest-aliases"): Probe(
        lambda a: f"/ui/customers/{a['customer']}/ingest-aliases"
    ),
    ("GET", "/ui/customers/{customer_id}/contracts/new"): Probe(
        lambda a: f"/ui/customers/{a['customer']}/contracts/new"
    ),
    ("POST", "/ui/customers/{customer_id}/contracts/new"): Probe(
        lambda a: f"/ui/customers/{a['customer']}/contracts/new"
    ),
    ("GET", "/ui/customers/{customer_id}/balances/{balance_id}/ledger-entry"): Probe(
        lambda a: f"/ui/customers/{a['customer']}/balances/{a['commit']}/ledger-entry"
    ),
    ("POST", "/ui/customers/{customer_id}/balances/{balance_id}/ledger-entry"): Probe(
        lambda a: f"/ui/customers/{a['customer']}/balances/{a['commit']}/ledger-entry"
    ),
}

ROUTES = sorted((method, route.path) for route in routes() for method in route.methods)


def test_every_console_route_has_an_isolation_probe() -> None:
    missing = [r for r in ROUTES if r not in PROBES]
    assert not missing, f"add console isolation probes for: {missing}"
    assert len(ROUTES) >= 12


def test_export_without_a_customer_holds_only_the_sessions_tenant(server: Running) -> None:
    with server.http() as a:
        ids = _seed(a, uuid.uuid4().hex[:8])
    b = sign_in(server, server.token_b)
    r = b.get(
        "/ui/invoices/export.csv",
        params={"from": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z", "status": "DRAFT"},
    )
    assert r.status_code == 200
    assert ids["customer"] not in r.text


@pytest.mark.parametrize("route", sorted(PROBES), ids=lambda r: f"{r[0]} {r[1]}")
def test_other_tenant_cannot_reach_through_the_console(
    server: Running, uid: str, route: tuple[str, str]
) -> None:
    method, _ = route
    probe = PROBES[route]
    with server.http() as a:
        ids = _seed(a, uid)
        before = _snapshot(a, ids)
        b = sign_in(server, server.token_b)
        url = probe.path(ids)
        r = b.post(url, data={"csrf": page_csrf(b, "/ui/customers")}) if method == "POST" else b.get(url)
        if probe.must_404:
            assert r.status_code == 404, (route, r.status_code, r.text[:300])
        else:
            assert r.status_code < 500, (route, r.status_code, r.text[:300])
        sent = url
        leaked = [name for name, value in ids.items() if value in r.text and value not in sent]
        assert not leaked, (route, leaked, r.text[:300])
        assert _snapshot(a, ids) == before
