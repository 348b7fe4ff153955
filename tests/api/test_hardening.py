"""Requests that once stalled or 500ed the server (issue 11, points 3-6), on both databases.

- A 21-byte body such as `{"limit": 1e10000000}` made pydantic build a billion-digit integer while holding
  the interpreter lock: every tenant's requests stalled. Numbers are now bounded on their text.
- Invalid UTF-8 inside a JSON string escaped as UnicodeDecodeError: a 500 and a dropped connection.
- A NUL byte in a path parameter reached PostgreSQL (500) while SQLite answered 404.
- 405 answers lost their `Allow` header in the error handler.
"""

from __future__ import annotations

import json
import re
import threading
import time

import httpx
import pytest

from tests.api.test_auth import ROUTES
from tests.conftest import Running

HUGE = b"1e999999999"
BODY_ROUTES = [(m, p) for m, p in ROUTES if m != "GET"]


def _concrete(path: str, value: str = "00000000-0000-7000-8000-000000000000") -> str:
    return re.sub(r"\{[^}]+\}", value, path)


def _is_clear_400(r: httpx.Response) -> bool:
    return r.status_code == 400 and isinstance(r.json().get("message"), str) and bool(r.json()["message"])


# Numeric fields named in the issue, each set to 1e999999999 inside an otherwise plausible body.
NUMERIC_FIELDS: list[tuple[str, bytes]] = [
    ("/v1/contract-pricing/products/list", b'{"limit": %s}'),
    ("/v1/contracts/customerCommits/list", b'{"customer_id": "c", "limit": %s}'),
    ("/v1/contracts/list", b'{"customer_id": "c", "limit": %s}'),
    ("/tally/v1/webhooks/list", b'{"limit": %s}'),
    ("/tally/v1/webhooks/rotateSecret", b'{"id": "w", "previous_secret_ttl_hours": %s}'),
    (
        "/v1/contracts/create",
        b'{"customer_id": "c", "starting_at": "2025-01-01T00:00:00Z", "recurring_commits": [{"product_id":'
        b' "p", "access_amount": {"unit_price": 1}, "commit_duration": {"value": %s, "unit": "PERIODS"},'
        b' "priority": 1, "starting_at": "2025-01-01T00:00:00Z"}]}',
    ),
    (
        "/v1/ingest",
        b'[{"transaction_id": "t", "customer_id": "c", "event_type": "e", '
        b'"timestamp": "2025-01-01T00:00:00Z", "properties": {"tokens": %s}}]',
    ),
    (
        "/v1/contract-pricing/rate-cards/addRate",
        b'{"rate_card_id": "r", "product_id": "p", '
        b'"starting_at": "2025-01-01T00:00:00Z", "entitled": true, "rate_type": "FLAT", "price": %s}',
    ),
    ("/v1/contracts/customerBalances/list", b'{"customer_id": "c", "limit": %s}'),
]


@pytest.mark.parametrize(("path", "template"), NUMERIC_FIELDS, ids=[p for p, _ in NUMERIC_FIELDS])
@pytest.mark.parametrize("number", [HUGE, b"-1e999999999", b"1e-999999999", b"1e10000000", b"1.5e999999"])
def test_an_oversized_number_is_a_400_at_once(
    server: Running, path: str, template: bytes, number: bytes
) -> None:
    with server.http() as c:
        began = time.monotonic()
        r = c.post(path, content=template % number, headers={"Content-Type": "application/json"})
    assert time.monotonic() - began < 60  # a hang bound: the failure this catches took hours
    assert _is_clear_400(r), (path, r.status_code, r.text)
    assert "number" in r.json()["message"]


def test_every_body_route_rejects_an_oversized_number(server: Running) -> None:
    failures = []
    with server.http() as c:
        for method, path in BODY_ROUTES:
            for body in (b'{"limit": %s}' % HUGE, b'{"a": [{"b": {"c": %s}}]}' % HUGE):
                r = c.request(
                    method, _concrete(path), content=body, headers={"Content-Type": "application/json"}
                )
                if not _is_clear_400(r):
                    failures.append((method, path, r.status_code, r.text[:120]))
    assert not failures, failures


def test_health_answers_while_hostile_numbers_are_in_flight(server: Running) -> None:
    """Hostile requests from several clients at once; /health keeps answering throughout."""
    results: list[int] = []
    lock = threading.Lock()

    def hostile() -> None:
        with server.http() as c:
            for _ in range(10):
                r = c.post(
                    "/v1/contract-pricing/products/list",
                    content=b'{"limit": 1e999999999}',
                    headers={"Content-Type": "application/json"},
                )
                with lock:
                    results.append(r.status_code)

    threads = [threading.Thread(target=hostile) for _ in range(4)]
    for t in threads:
        t.start()
    health = []
    with httpx.Client(base_url=server.url, timeout=30) as c:
        while any(t.is_alive() for t in threads) or not health:
            health.append(c.get("/health").status_code)
    for t in threads:
        t.join(timeout=120)  # hang bound
    assert not any(t.is_alive() for t in threads)
    assert results == [400] * 40
    assert health
    assert set(health) == {200}


def test_invalid_utf8_is_a_400_and_the_connection_stays_usable(server: Running) -> None:
    bad = b'{"name": "caf\xe9", "customer_id": "\xff\xfe", "id": "x"}'
    failures = []
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    headers = {"Authorization": f"Bearer {server.token_a}", "Content-Type": "application/json"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30, limits=limits) as c:
        for method, path in BODY_ROUTES:
            r = c.request(method, _concrete(path), content=bad)
            if not _is_clear_400(r) or r.headers.get("connection", "").lower() == "close":
                failures.append((method, path, r.status_code, r.text[:120]))
            # the same (only) connection carries the next request
            assert c.get("/health").status_code == 200
    assert not failures, failures


def test_a_nul_in_a_path_parameter_is_the_same_400_on_every_backend(server: Running) -> None:
    routes = [(m, p) for m, p in ROUTES if "{" in p]
    assert routes
    failures = []
    with server.http() as c:
        for method, path in routes:
            r = c.request(
                method, _concrete(path, "%00"), content=b"{}", headers={"Content-Type": "application/json"}
            )
            if not (_is_clear_400(r) and "NUL" in r.json()["message"]):
                failures.append((method, path, r.status_code, r.text[:120]))
            r = c.request(
                method,
                _concrete(path, "abc%00def"),
                content=b"{}",
                headers={"Content-Type": "application/json"},
            )
            if not _is_clear_400(r):
                failures.append((method, path, r.status_code, r.text[:120]))
    assert not failures, failures


def test_405_carries_allow(server: Running) -> None:
    with server.http() as c:
        r = c.put("/v1/customers", json={})
        assert r.status_code == 405
        assert r.json()["message"] == "Method not allowed"
        assert set(r.headers["allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
        r = c.delete("/v1/ingest")
        assert r.status_code == 405
        assert "POST" in r.headers["allow"]


# Numbers inside the JSON bounds but absurd for the field: each is a 4xx naming the field, or, where the
# value is legal, the contract's drafts still read; never a 5xx or a loop over 10^300 periods.
BIG = ["10" + "0" * 300, "1e300", "1e38", "99999999999999999999"]


@pytest.mark.parametrize("big", BIG)
def test_absurd_integers_in_valid_bodies_are_4xx(server: Running, big: str, uid: str) -> None:
    from tests.sdk.test_contracts import JAN, USD, iso, make_catalog

    cat = make_catalog(server.sdk(), uid)
    base = {"customer_id": cat.customer, "starting_at": iso(JAN), "rate_card_id": cat.card}
    recurring = {
        "product_id": cat.fixed,
        "priority": 1,
        "starting_at": iso(JAN),
        "access_amount": {"unit_price": 100, "credit_type_id": USD},
        "commit_duration": {"value": "BIG"},
    }
    subscription = {
        "collection_schedule": "ADVANCE",
        "initial_quantity": "BIG",
        "proration": {"invoice_behavior": "BILL_IMMEDIATELY", "is_prorated": True},
        "subscription_rate": {"billing_frequency": "MONTHLY", "product_id": cat.sub},
    }
    docs = {
        "commit_duration.value": {**base, "recurring_commits": [recurring]},
        "subscription quantity": {**base, "subscriptions": [subscription]},
        "net_payment_terms_days": {**base, "net_payment_terms_days": "BIG"},
    }
    # The number goes in as raw JSON text, exactly as a client could send it.
    bodies = {label: json.dumps(doc).replace('"BIG"', big) for label, doc in docs.items()}
    failures = []
    with server.http() as c:
        for label, body in bodies.items():
            began = time.monotonic()
            r = c.post("/v1/contracts/create", content=body, headers={"Content-Type": "application/json"})
            if r.status_code == 200:
                r = c.get(f"/v1/customers/{cat.customer}/invoices")
                ok = r.status_code == 200
            else:
                ok = 400 <= r.status_code < 500
            if not ok or time.monotonic() - began > 60:
                failures.append((label, r.status_code, r.text[:200]))
    assert not failures, failures
