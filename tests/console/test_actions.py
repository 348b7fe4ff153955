"""Operator actions in the console (issue 14 §4) over HTTP on both backends: create a customer and find it,
set its ingest aliases, create a contract with a $100 commit from a rate card and see the balance, take $25
off with a manual ledger entry, bad input answered with the API's own 400 message on the form (nothing
written), a viewer refused, and every action audited as its API route."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import Running
from tests.console.support import csrf_of, page_csrf, sign_in
from tests.console.test_console import PASSWORD, _user
from tests.sdk.invoice_support import clock_now


def _customer_id(r: httpx.Response) -> str:
    assert r.status_code == 303, r.text[:500]
    return r.headers["location"].rsplit("/", 1)[1]


def _balances(server: Running, customer_id: str) -> list[Any]:
    return server.sdk().v1.contracts.list_balances(customer_id=customer_id, include_balance=True).data


@pytest.fixture(scope="module")
def catalog(clock_server: Running) -> dict[str, str]:
    uid = uuid.uuid4().hex[:8]
    api = clock_server.sdk()
    product = api.v1.contracts.products.create(name=f"Prepaid {uid}", type="FIXED").data.id
    card = api.v1.contracts.rate_cards.create(name=f"Card {uid}").data.id
    start = clock_now(clock_server.http()).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return {
        "uid": uid,
        "product": product,
        "card": card,
        "start": start.strftime("%Y-%m-%d"),
        "end": (start + timedelta(days=400)).strftime("%Y-%m-%d"),
    }


def test_create_customer_contract_commit_and_ledger_entry(
    clock_server: Running, catalog: dict[str, str]
) -> None:
    uid = catalog["uid"]
    admin_email = _user(clock_server, "admin")
    c = sign_in(clock_server, email=admin_email, password=PASSWORD)
    page = c.get("/ui/customers")
    assert 'id="customer-new-form"' in page.text
    r = c.post(
        "/ui/customers/new",
        data={
            "csrf": csrf_of(page.text),
            "name": f"Acme <b>{uid}</b>",
            "external_id": f"ext-{uid}",
            "ingest_aliases": f"alias-{uid}, alias2-{uid}",
        },
    )
    customer = _customer_id(r)
    found = c.get("/ui/customers", params={"q": f"alias2-{uid}"})
    assert customer in found.text
    assert f"Acme &lt;b&gt;{uid}&lt;/b&gt;" in found.text
    api = clock_server.sdk()
    got = api.v1.customers.retrieve(customer_id=customer).data
    assert got.external_id == f"ext-{uid}"
    # external_id is an ingest alias too (as the API does)
    assert got.ingest_aliases == sorted([f"alias-{uid}", f"alias2-{uid}", f"ext-{uid}"])

    url = f"/ui/customers/{customer}"
    r = c.post(url + "/ingest-aliases", data={"csrf": page_csrf(c, url), "ingest_aliases": f"only-{uid}"})
    assert r.status_code == 303, r.text[:500]
    assert api.v1.customers.retrieve(customer_id=customer).data.ingest_aliases == [f"only-{uid}"]

    form = c.get(url + "/contracts/new")
    assert form.status_code == 200
    assert catalog["card"] in form.text
    r = c.post(
        url + "/contracts/new",
        data={
            "csrf": csrf_of(form.text),
            "rate_card_id": catalog["card"],
            "name": f"Deal {uid}",
            "starting_at": catalog["start"],
            "commit_product_id": catalog["product"],
            "commit_amount": "100",
            "commit_priority": "1",
            "commit_starting_at": catalog["start"],
            "commit_ending_before": catalog["end"],
        },
    )
    assert r.status_code == 303, r.text[:800]
    assert r.headers["location"] == url
    shown = c.get(url).text
    assert f"Deal {uid}" in shown
    # $100 typed in dollars is 10,000 USD cents
    assert "$100.00" in shown
    (commit,) = _balances(clock_server, customer)
    assert commit.balance == 10000

    entry = f"{url}/balances/{commit.id}/ledger-entry"
    form = c.get(entry)
    assert form.status_code == 200
    assert entry in shown  # the link next to the balance
    r = c.post(
        entry,
        data={
            "csrf": csrf_of(form.text),
            "segment_id": commit.access_schedule.schedule_items[0].id,
            "amount": "-25",
            "reason": "goodwill correction",
        },
    )
    assert r.status_code == 303, r.text[:800]
    # $100.00 - $25.00 = $75.00 (7,500 cents)
    assert "$75.00" in c.get(url).text
    assert _balances(clock_server, customer)[0].balance == 7500

    who = f"console {admin_email}"

    def audited(rtype: str, rid: str) -> set[tuple[str, str | None]]:
        logs = api.v1.audit_logs.list(resource_type=rtype, resource_id=rid).data
        return {(e.action, e.actor.name if e.actor else None) for e in logs}

    (contract,) = api.v1.contracts.list(customer_id=customer).data
    assert {("customer.create", who), ("customer.set_ingest_aliases", who)} <= audited("customer", customer)
    assert ("contract.create", who) in audited("contract", contract.id)
    assert ("balance.add_manual_ledger_entry", who) in audited("balance", commit.id)
    c.close()


def test_bad_input_shows_the_apis_message_keeps_the_form_and_writes_nothing(
    clock_server: Running, catalog: dict[str, str]
) -> None:
    uid = uuid.uuid4().hex[:8]
    c = sign_in(clock_server)
    api = clock_server.sdk()
    with clock_server.http() as http:
        expected = http.post("/v1/customers", json={"name": ""}).json()["message"]
        before = len(http.get("/v1/customers", params={"limit": 100}).json()["data"])
    r = c.post(
        "/ui/customers/new",
        data={"csrf": page_csrf(c, "/ui/customers"), "name": "", "external_id": f"kept-{uid}"},
    )
    assert r.status_code == 400
    assert expected in r.text.replace("&#39;", "'")
    assert f'value="kept-{uid}"' in r.text
    with clock_server.http() as http:
        assert len(http.get("/v1/customers", params={"limit": 100}).json()["data"]) == before

    customer = api.v1.customers.create(name=f"Bad input {uid}").data.id
    url = f"/ui/customers/{customer}"
    fields = {
        "csrf": page_csrf(c, url),
        "rate_card_id": catalog["card"],
        "starting_at": catalog["start"],
        "commit_product_id": catalog["product"],
        "commit_amount": "lots",
        "commit_priority": "1",
        "commit_starting_at": catalog["start"],
        "commit_ending_before": catalog["end"],
    }
    r = c.post(url + "/contracts/new", data=fields)
    assert r.status_code == 400
    assert "commits.0.access_schedule.schedule_items.0.amount" in r.text or "amount" in r.text
    assert 'value="lots"' in r.text
    assert 'id="action-error"' in r.text
    # A rate card that is not the tenant's: the service's refusal, shown on the form.
    r = c.post(
        url + "/contracts/new", data={**fields, "commit_amount": "5", "rate_card_id": str(uuid.uuid4())}
    )
    assert r.status_code in (400, 404)
    assert 'id="action-error"' in r.text
    assert api.v1.contracts.list(customer_id=customer).data == []

    # a commit to take entries from
    with clock_server.http() as http:
        window = {"starting_at": iso_day(catalog["start"]), "ending_before": iso_day(catalog["end"])}
        made = http.post(
            "/v1/contracts/customerCommits/create",
            json={
                "customer_id": customer,
                "type": "PREPAID",
                "product_id": catalog["product"],
                "priority": 1,
                "access_schedule": {"schedule_items": [{"amount": 1000, **window}]},
            },
        )
        assert made.status_code == 200, made.text
    (commit,) = _balances(clock_server, customer)
    entry = f"{url}/balances/{commit.id}/ledger-entry"
    segment = commit.access_schedule.schedule_items[0].id
    r = c.post(
        entry, data={"csrf": page_csrf(c, entry), "segment_id": segment, "amount": "-1", "reason": " "}
    )
    assert r.status_code == 400
    assert "reason: required" in r.text
    r = c.post(entry, data={"csrf": page_csrf(c, entry), "segment_id": "nope", "amount": "-1", "reason": "x"})
    assert r.status_code == 400
    assert "segment_id" in r.text
    assert _balances(clock_server, customer)[0].balance == 1000
    c.close()


def iso_day(day: str) -> str:
    return f"{day}T00:00:00Z"


def test_viewer_sees_no_forms_and_is_refused(clock_server: Running, catalog: dict[str, str]) -> None:
    uid = uuid.uuid4().hex[:8]
    api = clock_server.sdk()
    customer = api.v1.customers.create(name=f"Viewer target {uid}", ingest_aliases=[f"v-{uid}"]).data.id
    viewer = sign_in(clock_server, email=_user(clock_server, "viewer"), password=PASSWORD)
    listing = viewer.get("/ui/customers")
    assert "customer-new-form" not in listing.text
    url = f"/ui/customers/{customer}"
    page = viewer.get(url)
    assert page.status_code == 200
    assert "aliases-form" not in page.text
    assert "contracts/new" not in page.text
    token = csrf_of(page.text)
    assert viewer.post("/ui/customers/new", data={"csrf": token, "name": f"nope {uid}"}).status_code == 403
    r = viewer.post(url + "/ingest-aliases", data={"csrf": token, "ingest_aliases": "x"})
    assert r.status_code == 403
    assert viewer.get(url + "/contracts/new").status_code == 403
    r = viewer.post(
        url + "/contracts/new",
        data={"csrf": token, "rate_card_id": catalog["card"], "starting_at": catalog["start"]},
    )
    assert r.status_code == 403
    assert api.v1.customers.retrieve(customer_id=customer).data.ingest_aliases == [f"v-{uid}"]
    assert api.v1.contracts.list(customer_id=customer).data == []
    assert not [x for x in api.v1.customers.list(limit=100).data if x.name == f"nope {uid}"]
    viewer.close()
