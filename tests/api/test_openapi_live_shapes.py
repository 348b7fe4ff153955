"""The documented response shapes hold for real data, not only for the 404s random ids mostly meet.

A billing scenario (catalog, customer, contract with commit, credit, scheduled charge and overrides, usage,
a finalized month) is built over the SDK on a `--test-clock` server on each database; then every read
route is called with real ids and its answer is checked against /openapi.json by schemathesis's own
response validator (the same check the schemathesis fuzzing test runs), as are a 400 and a 404.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import schemathesis
from metronome import Metronome

from tests.conftest import Running
from tests.sdk.invoice_support import build, clock_server, ingest, iso, set_clock

__all__ = ["clock_server"]


def test_real_responses_match_the_documented_schemas(clock_server: Running, uid: str) -> None:
    client: Metronome = clock_server.sdk()
    with clock_server.http() as http:
        doc = http.get("/openapi.json").json()
        schema = schemathesis.openapi.from_dict(doc)
        s = build(client, http, uid)
        day = s.t0 + timedelta(days=1)
        ingest(
            client,
            s,
            uid,
            "shape",
            (s.token_event, day, {"tokens": 1500, "region": "eu"}),
            (s.api_event, day + timedelta(hours=1), {}),
        )
        set_clock(http, s.t1 + timedelta(hours=2))  # the first month's usage invoice is finalized
        invoices = http.get(f"/v1/customers/{s.customer}/invoices").json()["data"]
        assert invoices
        invoice = invoices[0]["id"]
        metric = http.get("/v1/billable-metrics").json()["data"][0]["id"]
        card = http.post("/v1/contract-pricing/rate-cards/list", json={}).json()["data"][0]["id"]
        ids = {"customer_id": s.customer, "contract_id": s.contract}
        window = {"starting_on": iso(s.t0), "ending_before": iso(s.t1)}
        calls: list[tuple[str, str, str, dict[str, Any] | None, dict[str, Any] | None]] = [
            ("GET", "/v1/customers", "/v1/customers", None, None),
            ("GET", "/v1/customers/{customer_id}", f"/v1/customers/{s.customer}", None, None),
            (
                "GET",
                "/v1/customers/{customer_id}/billable-metrics",
                f"/v1/customers/{s.customer}/billable-metrics",
                None,
                None,
            ),
            ("GET", "/v1/billable-metrics", "/v1/billable-metrics", None, None),
            (
                "GET",
                "/v1/billable-metrics/{billable_metric_id}",
                f"/v1/billable-metrics/{metric}",
                None,
                None,
            ),
            (
                "GET",
                "/v1/customers/{customer_id}/invoices",
                f"/v1/customers/{s.customer}/invoices",
                None,
                None,
            ),
            (
                "GET",
                "/v1/customers/{customer_id}/invoices/{invoice_id}",
                f"/v1/customers/{s.customer}/invoices/{invoice}",
                None,
                None,
            ),
            (
                "GET",
                "/v1/customers/{customer_id}/invoices/breakdowns",
                f"/v1/customers/{s.customer}/invoices/breakdowns",
                window,
                None,
            ),
            ("GET", "/v1/credit-types/list", "/v1/credit-types/list", None, None),
            ("GET", "/v1/auditLogs", "/v1/auditLogs", None, None),
            (
                "POST",
                "/v1/contracts/get",
                "/v1/contracts/get",
                None,
                {**ids, "include_balance": True, "include_ledgers": True},
            ),
            (
                "POST",
                "/v2/contracts/get",
                "/v2/contracts/get",
                None,
                {**ids, "include_balance": True, "include_ledgers": True},
            ),
            ("POST", "/v1/contracts/list", "/v1/contracts/list", None, {"customer_id": s.customer}),
            ("POST", "/v2/contracts/list", "/v2/contracts/list", None, {"customer_id": s.customer}),
            ("POST", "/v2/contracts/getEditHistory", "/v2/contracts/getEditHistory", None, ids),
            (
                "POST",
                "/v1/contracts/getContractRateSchedule",
                "/v1/contracts/getContractRateSchedule",
                None,
                ids,
            ),
            (
                "POST",
                "/v1/contracts/customerBalances/list",
                "/v1/contracts/customerBalances/list",
                None,
                {"customer_id": s.customer, "include_contract_balances": True, "include_balance": True},
            ),
            (
                "POST",
                "/v1/contracts/customerCommits/list",
                "/v1/contracts/customerCommits/list",
                None,
                {"customer_id": s.customer, "include_contract_commits": True},
            ),
            (
                "POST",
                "/v1/contracts/customerCredits/list",
                "/v1/contracts/customerCredits/list",
                None,
                {"customer_id": s.customer, "include_contract_credits": True},
            ),
            (
                "POST",
                "/v1/contracts/customerBalances/getNetBalance",
                "/v1/contracts/customerBalances/getNetBalance",
                None,
                {"customer_id": s.customer},
            ),
            ("POST", "/v1/contract-pricing/products/list", "/v1/contract-pricing/products/list", None, {}),
            (
                "POST",
                "/v1/contract-pricing/products/get",
                "/v1/contract-pricing/products/get",
                None,
                {"id": s.tokens_product},
            ),
            (
                "POST",
                "/v1/contract-pricing/rate-cards/list",
                "/v1/contract-pricing/rate-cards/list",
                None,
                {},
            ),
            (
                "POST",
                "/v1/contract-pricing/rate-cards/get",
                "/v1/contract-pricing/rate-cards/get",
                None,
                {"id": card},
            ),
            (
                "POST",
                "/v1/contract-pricing/rate-cards/getRates",
                "/v1/contract-pricing/rate-cards/getRates",
                None,
                {"rate_card_id": card, "at": iso(day)},
            ),
            (
                "POST",
                "/v1/contract-pricing/rate-cards/getRateSchedule",
                "/v1/contract-pricing/rate-cards/getRateSchedule",
                None,
                {"rate_card_id": card, "starting_at": iso(s.t0)},
            ),
            ("POST", "/v1/usage", "/v1/usage", None, {**window, "window_size": "DAY"}),
            (
                "POST",
                "/v1/usage/groups",
                "/v1/usage/groups",
                None,
                {**window, "window_size": "NONE", "customer_id": s.customer, "billable_metric_id": metric},
            ),
            ("POST", "/v1/events/search", "/v1/events/search", None, {"transactionIds": [f"shape-{uid}-0"]}),
            (
                "POST",
                "/v1/customers/{customer_id}/previewEvents",
                f"/v1/customers/{s.customer}/previewEvents",
                None,
                {"events": [{"event_type": s.api_event, "timestamp": iso(day)}]},
            ),
            ("POST", "/v1/customFields/listKeys", "/v1/customFields/listKeys", None, {}),
            ("POST", "/tally/v1/test-clock/get", "/tally/v1/test-clock/get", None, {}),
            ("POST", "/tally/v1/invoice-settings/get", "/tally/v1/invoice-settings/get", None, {}),
            (
                "POST",
                "/tally/v1/late-events/list",
                "/tally/v1/late-events/list",
                None,
                {"customer_id": s.customer},
            ),
            ("POST", "/tally/v1/webhooks/list", "/tally/v1/webhooks/list", None, {}),
        ]
        checked = 0
        for method, template, path, params, body in calls:
            r = http.request(method, path, params=params, json=body)
            assert r.status_code == 200, (path, r.text[:500])
            assert r.json() != {"data": []} or template.endswith(
                ("listKeys", "late-events/list", "webhooks/list", "getEditHistory")
            ), path
            schema[template][method].validate_response(r)
            checked += 1
        # Errors are documented too, in Metronome's shape.
        for method, template, path, body in [
            ("GET", "/v1/customers/{customer_id}", "/v1/customers/no-such-customer", None),
            ("POST", "/v1/contracts/get", "/v1/contracts/get", {"customer_id": s.customer}),
        ]:
            r = http.request(method, path, json=body)
            assert r.status_code in (400, 404), r.text
            schema[template][method].validate_response(r)
            checked += 1
    assert checked == len(calls) + 2
    # Mounted by --test-clock, the test-clock routes are documented and still need a token.
    assert "/tally/v1/test-clock" in doc["paths"]
    assert httpx.post(f"{clock_server.url}/tally/v1/test-clock/get", json={}).status_code == 401


def test_ingest_answer_matches_its_documented_shape(server: Running, uid: str) -> None:
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.token_a}"}) as http:
        schema = schemathesis.openapi.from_dict(http.get("/openapi.json").json())
        event = {
            "transaction_id": f"shape-{uid}",
            "customer_id": "c",
            "event_type": "e",
            "timestamp": "2026-01-01T00:00:00Z",
        }
        r = http.post("/v1/ingest", json=[event, event])
        assert r.status_code == 200
        assert [o["status"] for o in r.json()["data"]] == ["accepted", "duplicate"]
        schema["/v1/ingest"]["POST"].validate_response(r)
