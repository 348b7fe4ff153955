"""Stripe collection end to end (issue 16, docs/stripe.md), on SQLite and PostgreSQL.

tally runs with `--test-clock`; Stripe is the extended localstripe on 127.0.0.1 (tests/support). A
customer is linked the Metronome way, a contract's scheduled charges finalize when the test clock
moves, and the worker pass that finalizes them also sends them to Stripe. Every tally response goes
through the official SDK with strict validation.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from metronome import Metronome
from sqlalchemy import select, update

from tally.clock import FixedClock
from tally.collection import sync
from tally.db import uow
from tally.models.audit import audit_logs
from tally.models.billing_providers import stripe_connections, stripe_invoice_syncs
from tally.models.webhooks import webhook_events
from tally.settings import Settings
from tests.conftest import Running, serving
from tests.console.support import csrf_of, sign_in
from tests.sdk.invoice_support import clock_now, iso, set_clock
from tests.support.localstripe import LocalStripe
from tests.support.servers import eventually, free_port

WEBHOOK_SECRET = "whsec_tally_test_secret"


@pytest.fixture(scope="module")
def ls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStripe]:
    s = LocalStripe(tmp_path_factory.mktemp("localstripe"))
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def srv(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    env = {"TALLY_WORKER_INTERVAL_SECONDS": "3600"}  # the test clock endpoint runs the worker pass
    with serving(backend, tmp_path_factory.mktemp(f"stripe-{backend}"), "--test-clock", env=env) as running:
        yield running


@dataclass
class Tenant:
    id: str
    http: httpx.Client
    sdk: Metronome


@pytest.fixture
def tenant(srv: Running, ls: LocalStripe, uid: str) -> Iterator[Tenant]:
    token = srv.server.token(f"stripe-{uid}")
    with srv.http(token) as http:
        r = http.post(
            "/tally/v1/stripe/connection",
            json={"secret_key": ls.secret_key, "webhook_secret": WEBHOOK_SECRET, "api_base": ls.url},
        )
        assert r.status_code == 200, r.text
        info = r.json()["data"]
        assert ls.secret_key not in r.text
        assert WEBHOOK_SECRET not in r.text  # never returned
        tenant_id = info["webhook_path"].rsplit("/", 1)[1]
        ls.register_webhook(srv.url + info["webhook_path"], WEBHOOK_SECRET)
        yield Tenant(tenant_id, http, srv.sdk(token))


def _settings(running: Running) -> Settings:
    return Settings(
        data_dir=Path(running.server.env["TALLY_DATA_DIR"]), database_url=running.server.database_url
    )


def _hour_after(t: datetime) -> datetime:
    return t.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


def _link(
    t: Tenant, ls: LocalStripe, uid: str, method: str = "send_invoice", cus: str | None = None
) -> tuple[str, str]:
    """A Stripe customer and a tally customer linked to it at creation; returns both ids."""
    if cus is None:
        cus = ls.client().v1.customers.create({"email": f"{uid}@example.test"}).id
    customer = t.sdk.v1.customers.create(
        name=f"Stripe {uid}",
        customer_billing_provider_configurations=[
            {
                "billing_provider": "stripe",
                "delivery_method": "direct_to_billing_provider",
                "configuration": {"stripe_customer_id": cus, "stripe_collection_method": method},
            }
        ],
    ).data.id
    return cus, customer


def _contract(t: Tenant, uid: str, customer: str, charges: list[tuple[datetime, int]]) -> str:
    """A contract whose invoices are scheduled charges (USD cents) at the given hours."""
    fixed = t.sdk.v1.contracts.products.create(name=f"Setup {uid}", type="FIXED").data.id
    card = t.sdk.v1.contracts.rate_cards.create(name=f"card {uid}").data.id
    return t.sdk.v1.contracts.create(
        customer_id=customer,
        starting_at=min(at for at, _ in charges) - timedelta(hours=1),
        rate_card_id=card,
        usage_statement_schedule={"frequency": "MONTHLY", "day": "CONTRACT_START"},
        billing_provider_configuration={
            "billing_provider": "stripe",
            "delivery_method": "direct_to_billing_provider",
        },
        scheduled_charges=[
            {
                "product_id": fixed,
                "name": f"Charge {i}",
                "schedule": {"schedule_items": [{"timestamp": iso(at), "amount": amount}]},
            }
            for i, (at, amount) in enumerate(charges)
        ],
    ).data.id


def _invoices(t: Tenant, customer: str) -> list[Any]:
    return [i for i in t.sdk.v1.customers.invoices.list(customer_id=customer) if i.status != "DRAFT"]


def _stripe_invoices(ls: LocalStripe, cus: str) -> list[Any]:
    return list(ls.client().v1.invoices.list({"customer": cus, "limit": 100}).data)


def test_link_finalize_pay_and_void(srv: Running, ls: LocalStripe, tenant: Tenant, uid: str) -> None:
    t = _hour_after(clock_now(tenant.http)) + timedelta(hours=1)
    cus, customer = _link(tenant, ls, uid)
    cfgs = tenant.sdk.v1.customers.retrieve_billing_configurations(customer_id=customer).data
    assert [(c.billing_provider, c.configuration["stripe_customer_id"]) for c in cfgs] == [("stripe", cus)]
    # Two charges at t (one invoice, two lines), one at t + 1 h (voided below).
    _contract(tenant, uid, customer, [(t, 1500), (t, 250), (t + timedelta(hours=1), 990)])

    assert set_clock(tenant.http, t)["finalized_invoices"] >= 1
    (inv,) = _invoices(tenant, customer)
    ext = inv.external_invoice
    assert ext is not None
    assert ext.billing_provider_type == "stripe"
    assert ext.external_status == "SENT"
    assert ext.invoice_id is not None
    assert ext.invoiced_total == 1750
    # Stripe has the same total and lines, in cents: 1500 + 250 = 1750.
    si = ls.client().v1.invoices.retrieve(ext.invoice_id)
    assert (si.status, si.total, si.currency, si.collection_method) == ("open", 1750, "usd", "send_invoice")
    assert sorted((li.amount, li.description) for li in si.lines.data) == [
        (250, "Charge 1"),
        (1500, "Charge 0"),
    ]
    assert sorted(int(li.total) for li in inv.line_items) == [250, 1500]

    # Paid in Stripe -> invoice.paid webhook (signed by localstripe) -> PAID in tally.
    ls.client().v1.invoices.pay(ext.invoice_id, {"paid_out_of_band": True})

    def paid() -> bool:
        (i,) = _invoices(tenant, customer)
        return i.external_invoice is not None and i.external_invoice.external_status == "PAID"

    eventually(paid, seconds=20)

    # The second invoice is voided in tally: its Stripe invoice is voided by the next worker pass.
    set_clock(tenant.http, t + timedelta(hours=1))
    second = next(i for i in _invoices(tenant, customer) if i.id != inv.id)
    assert second.external_invoice is not None
    assert second.external_invoice.external_status == "SENT"
    tenant.sdk.v1.invoices.void(id=second.id)
    set_clock(tenant.http, t + timedelta(hours=1, seconds=1))
    assert ls.client().v1.invoices.retrieve(second.external_invoice.invoice_id).status == "void"
    voided = next(i for i in _invoices(tenant, customer) if i.id == second.id)
    assert voided.status == "VOID"
    assert voided.external_invoice is not None
    assert voided.external_invoice.external_status == "VOID"
    assert len(_stripe_invoices(ls, cus)) == 2
    # Every status change went out through tally's webhook outbox.
    engine = srv.server.engine()
    try:
        with uow.read(engine) as conn:
            events = conn.execute(
                select(webhook_events.c.properties).where(
                    webhook_events.c.tenant_id == tenant.id,
                    webhook_events.c.type == "invoice.external_status_changed",
                )
            ).scalars()
            changes = {(p["invoice_id"], p["external_status"]) for p in events}
    finally:
        engine.dispose()
    assert {(inv.id, "SENT"), (inv.id, "PAID"), (second.id, "SENT"), (second.id, "VOID")} <= changes


def _sign(payload: bytes, secret: str, ts: int) -> str:
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def test_forged_or_replayed_webhooks_are_rejected(
    srv: Running, ls: LocalStripe, tenant: Tenant, uid: str
) -> None:
    t = _hour_after(clock_now(tenant.http)) + timedelta(hours=1)
    _cus, customer = _link(tenant, ls, uid)
    _contract(tenant, uid, customer, [(t, 700)])
    set_clock(tenant.http, t)
    (inv,) = _invoices(tenant, customer)
    assert inv.external_invoice is not None
    stripe_id = inv.external_invoice.invoice_id
    event = {
        "id": f"evt_{uid}",
        "type": "invoice.paid",
        "data": {"object": {"id": stripe_id, "object": "invoice"}},
    }
    payload = json.dumps(event).encode()
    url = f"/tally/v1/stripe/webhooks/{tenant.id}"
    now = int(time.time())
    with httpx.Client(base_url=srv.url, timeout=10) as anon:
        for headers in (
            {},  # unsigned
            {"Stripe-Signature": _sign(payload, "whsec_forged", now)},  # wrong secret
            {"Stripe-Signature": _sign(payload, WEBHOOK_SECRET, now - 3600)},  # replayed: outside the window
            {"Stripe-Signature": _sign(payload + b" ", WEBHOOK_SECRET, now)},  # body changed after signing
        ):
            r = anon.post(url, content=payload, headers={"Content-Type": "application/json", **headers})
            assert r.status_code == 400, r.text
        (after,) = _invoices(tenant, customer)
        assert after.external_invoice is not None
        assert after.external_invoice.external_status == "SENT"
        # The genuine one is applied once; its redelivery changes nothing more.
        for _ in range(2):
            r = anon.post(
                url,
                content=payload,
                headers={
                    "Content-Type": "application/json",
                    "Stripe-Signature": _sign(payload, WEBHOOK_SECRET, now),
                },
            )
            assert r.status_code == 200, r.text
    (after,) = _invoices(tenant, customer)
    assert after.external_invoice is not None
    assert after.external_invoice.external_status == "PAID"


def test_stripe_refusal_is_visible_and_retryable(
    srv: Running, ls: LocalStripe, tenant: Tenant, uid: str
) -> None:
    t = _hour_after(clock_now(tenant.http)) + timedelta(hours=1)
    from tests.api.test_operations import scrape

    _, customer = _link(tenant, ls, uid, cus="cus_doesnotexist")
    _contract(tenant, uid, customer, [(t, 1200)])
    before = scrape(srv.url)
    set_clock(tenant.http, t)
    refused = scrape(srv.url)
    # /metrics counts the refusal (tally_stripe_syncs_total{result}; docs/operations.md).
    key = 'tally_stripe_syncs_total{result="refused"}'
    assert refused.get(key, 0) - before.get(key, 0) >= 1
    (inv,) = _invoices(tenant, customer)
    ext = inv.external_invoice
    assert ext is not None
    assert ext.external_status == "INVALID_REQUEST_ERROR"
    assert ext.billing_provider_error  # Stripe's own message
    engine = srv.server.engine()
    try:
        with uow.read(engine) as conn:
            actions = conn.execute(
                select(audit_logs.c.action).where(
                    audit_logs.c.tenant_id == tenant.id, audit_logs.c.resource_id == inv.id
                )
            ).scalars()
            assert "invoice.stripe_sync_failed" in list(actions)
    finally:
        engine.dispose()
    # A later pass does not retry a refusal on its own.
    set_clock(tenant.http, t + timedelta(hours=2))
    (inv,) = _invoices(tenant, customer)
    assert inv.external_invoice is not None
    assert inv.external_invoice.external_status == "INVALID_REQUEST_ERROR"
    # The operator fixes the link (a real Stripe customer) and retries.
    (cfg,) = tenant.sdk.v1.customers.retrieve_billing_configurations(customer_id=customer).data
    tenant.sdk.v1.customers.archive_billing_configurations(
        customer_id=customer, customer_billing_provider_configuration_ids=[cfg.id]
    )
    cus = ls.client().v1.customers.create({"email": f"{uid}@example.test"}).id
    tenant.sdk.v1.customers.set_billing_configurations(
        data=[
            {
                "billing_provider": "stripe",
                "customer_id": customer,
                "delivery_method": "direct_to_billing_provider",
                "configuration": {"stripe_customer_id": cus, "stripe_collection_method": "send_invoice"},
            }
        ]
    )
    # The console shows the refusal on the invoice page and retries it (the same service as
    # POST /tally/v1/stripe/syncs/retry).
    token = str(tenant.http.headers["Authorization"]).split(" ", 1)[1]
    console = sign_in(srv, token)
    try:
        path = f"/ui/customers/{customer}/invoices/{inv.id}"
        page = console.get(path)
        assert page.status_code == 200, page.text
        assert "INVALID_REQUEST_ERROR" in page.text
        assert 'id="stripe-error"' in page.text
        assert 'id="stripe-retry-form"' in page.text
        r = console.post(path + "/stripe-retry", data={"csrf": csrf_of(page.text)})
        assert r.status_code == 303, r.text
        assert 'id="stripe-retry-form"' not in console.get(path).text  # queued again: nothing to retry
    finally:
        console.close()
    set_clock(tenant.http, t + timedelta(hours=2, seconds=1))
    synced = 'tally_stripe_syncs_total{result="synced"}'
    assert scrape(srv.url).get(synced, 0) - refused.get(synced, 0) >= 1
    (inv,) = _invoices(tenant, customer)
    assert inv.external_invoice is not None
    assert inv.external_invoice.external_status == "SENT"
    assert inv.external_invoice.billing_provider_error is None
    (si,) = _stripe_invoices(ls, cus)
    assert si.total == 1200
    # Only a refused sync is retried: the API answers 400 for this one now.
    r = tenant.http.post("/tally/v1/stripe/syncs/retry", json={"invoice_id": inv.id})
    assert r.status_code == 400, r.text
    assert "only failed syncs are retried" in r.json()["message"]


def test_stripe_crash_mid_sync_retries_to_exactly_one_invoice(
    srv: Running, ls: LocalStripe, tenant: Tenant, uid: str
) -> None:
    """localstripe creates the Stripe invoice and dies before answering: tally never learns its id.
    While it is down the sync backs off; once it is back, the retry's idempotency key replays the
    same creation, and the invoice is completed: one Stripe invoice, with the right lines."""
    t = _hour_after(clock_now(tenant.http)) + timedelta(hours=1)
    cus, customer = _link(tenant, ls, uid)
    _contract(tenant, uid, customer, [(t, 4200), (t, 58)])
    ls.crash_after("POST", "/v1/invoices")
    try:
        set_clock(tenant.http, t)
        eventually(ls.exited, seconds=10)
        (inv,) = _invoices(tenant, customer)
        assert inv.external_invoice is not None
        assert (inv.external_invoice.external_status, inv.external_invoice.invoice_id) == ("QUEUED", None)
        set_clock(tenant.http, t + timedelta(seconds=31))  # the first retry (30 s): refused, backs off
        (inv,) = _invoices(tenant, customer)
        assert inv.external_invoice is not None
        assert inv.external_invoice.external_status == "QUEUED"
    finally:
        ls.start()
        ls.register_webhook(f"{srv.url}/tally/v1/stripe/webhooks/{tenant.id}", WEBHOOK_SECRET)
    set_clock(tenant.http, t + timedelta(minutes=5))
    (inv,) = _invoices(tenant, customer)
    ext = inv.external_invoice
    assert ext is not None
    assert ext.external_status == "SENT"
    (si,) = _stripe_invoices(ls, cus)
    assert si.id == ext.invoice_id
    assert (si.status, si.total) == ("open", 4258)  # 4200 + 58
    assert sorted(li.amount for li in si.lines.data) == [58, 4200]


def test_stripe_5xx_backs_off_then_completes(srv: Running, ls: LocalStripe, tenant: Tenant, uid: str) -> None:
    t = _hour_after(clock_now(tenant.http)) + timedelta(hours=1)
    cus, customer = _link(tenant, ls, uid)
    _contract(tenant, uid, customer, [(t, 800)])
    ls.fail_next(2, "POST", "/v1/invoices")
    set_clock(tenant.http, t)  # attempt 1: 500 -> next attempt after 30 s
    set_clock(tenant.http, t + timedelta(seconds=29))  # not yet due
    (inv,) = _invoices(tenant, customer)
    assert inv.external_invoice is not None
    assert inv.external_invoice.external_status == "QUEUED"
    set_clock(tenant.http, t + timedelta(seconds=30))  # attempt 2: 500 -> next after 60 s more
    set_clock(tenant.http, t + timedelta(seconds=89))
    (inv,) = _invoices(tenant, customer)
    assert inv.external_invoice is not None
    assert inv.external_invoice.external_status == "QUEUED"
    set_clock(tenant.http, t + timedelta(seconds=90))  # attempt 3 succeeds
    (inv,) = _invoices(tenant, customer)
    assert inv.external_invoice is not None
    assert inv.external_invoice.external_status == "SENT"
    (si,) = _stripe_invoices(ls, cus)
    assert si.total == 800


def test_missed_webhook_is_caught_by_the_reconcile(
    srv: Running, ls: LocalStripe, tenant: Tenant, uid: str
) -> None:
    t = _hour_after(clock_now(tenant.http)) + timedelta(hours=1)
    _, customer = _link(tenant, ls, uid)
    _contract(tenant, uid, customer, [(t, 300)])
    set_clock(tenant.http, t)
    (inv,) = _invoices(tenant, customer)
    assert inv.external_invoice is not None
    stripe_id = inv.external_invoice.invoice_id
    # Webhooks now go nowhere (a closed port on loopback): tally misses invoice.paid.
    ls.register_webhook(f"http://127.0.0.1:{free_port()}/gone", WEBHOOK_SECRET)
    try:
        ls.client().v1.invoices.pay(stripe_id, {"paid_out_of_band": True})
        time.sleep(1.5)  # localstripe sends its webhooks a second after the event
        (inv,) = _invoices(tenant, customer)
        assert inv.external_invoice is not None
        assert inv.external_invoice.external_status == "SENT"
        set_clock(tenant.http, t + timedelta(minutes=59))  # not yet due for reconcile
        (inv,) = _invoices(tenant, customer)
        assert inv.external_invoice is not None
        assert inv.external_invoice.external_status == "SENT"
        set_clock(tenant.http, t + timedelta(hours=1, seconds=1))
        (inv,) = _invoices(tenant, customer)
        assert inv.external_invoice is not None
        assert inv.external_invoice.external_status == "PAID"
    finally:
        ls.register_webhook(f"{srv.url}/tally/v1/stripe/webhooks/{tenant.id}", WEBHOOK_SECRET)


def test_the_stripe_key_is_sealed_and_never_logged(srv: Running, ls: LocalStripe, tenant: Tenant) -> None:
    r = tenant.http.post("/tally/v1/stripe/connection/get", json={})
    assert r.status_code == 200
    assert ls.secret_key not in r.text
    assert WEBHOOK_SECRET not in r.text
    engine = srv.server.engine()
    try:
        with uow.read(engine) as conn:
            row = conn.execute(
                select(stripe_connections).where(stripe_connections.c.tenant_id == tenant.id)
            ).one()
        dump = repr(tuple(row))
        assert ls.secret_key not in dump
        assert WEBHOOK_SECRET not in dump
        assert ls.secret_key[8:] not in dump
    finally:
        engine.dispose()
    log = Path(srv.server.log_path or "").read_text()
    assert ls.secret_key not in log
    assert WEBHOOK_SECRET not in log
    bad = tenant.http.post("/tally/v1/stripe/connection", json={"secret_key": "", "api_base": ls.url})
    assert bad.status_code == 400


def test_stripe_down_during_finalization_then_eight_workers(
    srv: Running, ls: LocalStripe, tenant: Tenant, uid: str
) -> None:
    """localstripe is stopped while six contracts finalize: every sync fails and backs off. It comes
    back; eight workers then race over the due syncs: exactly one Stripe invoice per tally invoice."""
    t = _hour_after(clock_now(tenant.http)) + timedelta(hours=1)
    linked = [_link(tenant, ls, f"{uid}-{i}") for i in range(6)]
    for i, (_, customer) in enumerate(linked):
        _contract(tenant, f"{uid}-{i}", customer, [(t, 100 * (i + 1))])
    ls.stop()
    try:
        set_clock(tenant.http, t)
        for _, customer in linked:
            (inv,) = _invoices(tenant, customer)
            assert inv.external_invoice is not None
            assert inv.external_invoice.external_status == "QUEUED"
    finally:
        ls.start()
        ls.register_webhook(f"{srv.url}/tally/v1/stripe/webhooks/{tenant.id}", WEBHOOK_SECRET)
    engine = srv.server.engine(pool_size=10)
    try:
        clock = FixedClock(t + timedelta(hours=2))  # past every backoff
        errors: list[BaseException] = []

        def worker() -> None:
            try:
                sync.sync_due(engine, clock, _settings(srv))
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=120)
        assert not errors
        # A lost record of progress (the row forgets its Stripe invoice) is resent: the idempotency keys
        # replay the same Stripe invoice instead of creating a second one.
        with uow.write(engine) as conn:
            conn.execute(
                update(stripe_invoice_syncs)
                .where(stripe_invoice_syncs.c.tenant_id == tenant.id)
                .values(state="pending", stripe_invoice_id=None, next_attempt_at=t)
            )
        sync.sync_due(engine, clock, _settings(srv))
    finally:
        engine.dispose()
    for i, (cus, customer) in enumerate(linked):
        (inv,) = _invoices(tenant, customer)
        ext = inv.external_invoice
        assert ext is not None
        assert ext.external_status == "SENT", ext
        stripe_invoices = _stripe_invoices(ls, cus)
        assert [s.id for s in stripe_invoices] == [ext.invoice_id]
        assert stripe_invoices[0].total == 100 * (i + 1)
        assert len(stripe_invoices[0].lines.data) == 1


def test_zero_total_is_not_sent_and_settings_providers(
    srv: Running, ls: LocalStripe, tenant: Tenant, uid: str
) -> None:
    t = _hour_after(clock_now(tenant.http)) + timedelta(hours=1)
    cus, customer = _link(tenant, ls, uid, method="charge_automatically")
    _contract(tenant, uid, customer, [(t, 0)])
    set_clock(tenant.http, t)
    for inv in _invoices(tenant, customer):
        assert inv.external_invoice is not None
        assert inv.external_invoice.external_status == "SKIPPED"
    assert _stripe_invoices(ls, cus) == []
    created = tenant.sdk.v1.settings.billing_providers.create(
        billing_provider="aws_marketplace",
        configuration={"aws_external_id": uid, "aws_iam_role_arn": "arn:aws:iam::1:role/x"},
        delivery_method="direct_to_billing_provider",
    ).data.delivery_method_id
    listed = tenant.sdk.v1.settings.billing_providers.list().data
    assert {(p.billing_provider, p.delivery_method_id) for p in listed} >= {("aws_marketplace", created)}
    assert any(p.billing_provider == "stripe" for p in listed)


def test_charge_automatically_pays_or_records_the_failed_payment(
    srv: Running, ls: LocalStripe, tenant: Tenant, uid: str
) -> None:
    t = _hour_after(clock_now(tenant.http)) + timedelta(hours=1)
    sc = ls.client()
    card = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}
    pm = sc.v1.payment_methods.create({"type": "card", "card": card}).id
    with_card = sc.v1.customers.create(
        {
            "email": f"{uid}@example.test",
            "payment_method": pm,
            "invoice_settings": {"default_payment_method": pm},
        }
    ).id
    _, paying = _link(tenant, ls, f"{uid}-a", method="charge_automatically", cus=with_card)
    _, failing = _link(tenant, ls, f"{uid}-b", method="charge_automatically")
    _contract(tenant, f"{uid}-a", paying, [(t, 2500)])
    _contract(tenant, f"{uid}-b", failing, [(t, 2600)])
    set_clock(tenant.http, t)
    (paid,) = _invoices(tenant, paying)
    assert paid.external_invoice is not None
    assert paid.external_invoice.external_status == "PAID"
    assert (paid.external_invoice.external_payment_id or "").startswith("pi_")
    (declined,) = _invoices(tenant, failing)
    ext = declined.external_invoice
    assert ext is not None
    # Issued in Stripe, only the charge failed: not a sync error, nothing for the operator to retry.
    assert ext.external_status == "PAYMENT_FAILED"
    assert ext.invoice_id is not None
    assert ls.client().v1.invoices.retrieve(ext.invoice_id).status == "open"
    r = tenant.http.post("/tally/v1/stripe/syncs/retry", json={"invoice_id": declined.id})
    assert r.status_code == 400


def test_bad_links_are_refused_with_nothing_written(
    srv: Running, ls: LocalStripe, tenant: Tenant, uid: str
) -> None:
    bad_configs: list[dict[str, Any]] = [
        {"billing_provider": "stripe", "delivery_method": "direct_to_billing_provider", "configuration": {}},
        {
            "billing_provider": "stripe",
            "delivery_method": "direct_to_billing_provider",
            "configuration": {"stripe_customer_id": "cus_x", "stripe_collection_method": "by_carrier_pigeon"},
        },
        {
            "billing_provider": "stripe",
            "delivery_method": "aws_sqs",
            "configuration": {"stripe_customer_id": "cus_x"},
        },
        {"billing_provider": "stripe", "configuration": {"stripe_customer_id": "cus_x"}},
    ]
    for cfg in bad_configs:
        r = tenant.http.post(
            "/v1/customers", json={"name": f"Bad {uid}", "customer_billing_provider_configurations": [cfg]}
        )
        assert r.status_code == 400, (cfg, r.text)
        assert r.json()["message"]
    names = [c.name for c in tenant.sdk.v1.customers.list()]
    assert f"Bad {uid}" not in names  # the whole create rolled back
    _, customer = _link(tenant, ls, uid)
    # A second active Stripe link is refused; an unknown configuration id on a contract too.
    r = tenant.http.post(
        "/v1/setCustomerBillingProviderConfigurations",
        json={
            "data": [
                {
                    "billing_provider": "stripe",
                    "customer_id": customer,
                    "delivery_method": "direct_to_billing_provider",
                    "configuration": {"stripe_customer_id": "cus_other"},
                }
            ]
        },
    )
    assert r.status_code == 400, r.text
    r = tenant.http.post(
        "/v1/contracts/create",
        json={
            "customer_id": customer,
            "starting_at": "2026-01-01T00:00:00Z",
            "billing_provider_configuration": {
                "billing_provider_configuration_id": "01900000-0000-7000-8000-000000000000"
            },
        },
    )
    assert r.status_code == 400, r.text
    assert "billing_provider_configuration" in r.json()["message"]
