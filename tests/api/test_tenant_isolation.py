"""Tenant isolation on every route (SEC-2): tenant B, holding A's ids, gets 404s, never sees A's objects in
any answer, and changes nothing of A's. Every route in the application's route table must have a probe
here, so a new route cannot be left out."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.api.test_auth import ROUTES
from tests.conftest import Running

Ids = dict[str, str]


@dataclass(frozen=True)
class Probe:
    """What tenant B sends (built from A's ids) and whether it must be a 404."""

    body: Callable[[Ids], Any] | None = None
    path: Callable[[Ids], str] | None = None
    query: Callable[[Ids], dict[str, str]] | None = None
    must_404: bool = True
    # A create that merely references A's object: it must fail as for an id that does not exist (400 or 404).
    reference: bool = False


AT = "2030-01-01T00:00:00Z"

PROBES: dict[tuple[str, str], Probe] = {
    # billable metrics
    ("POST", "/v1/billable-metrics/create"): Probe(
        lambda a: {"name": "b-metric", "aggregation_type": "COUNT"}, must_404=False
    ),
    ("GET", "/v1/billable-metrics"): Probe(query=lambda a: {"include_archived": "true"}, must_404=False),
    ("GET", "/v1/billable-metrics/{billable_metric_id}"): Probe(
        path=lambda a: f"/v1/billable-metrics/{a['metric']}"
    ),
    ("PUT", "/v1/billable-metrics/{billable_metric_id}"): Probe(
        lambda a: {"name": "stolen"}, path=lambda a: f"/v1/billable-metrics/{a['metric']}"
    ),
    ("POST", "/v1/billable-metrics/archive"): Probe(lambda a: {"id": a["metric"]}),
    # pricing units
    ("POST", "/v1/credit-types/create"): Probe(lambda a: {"name": "b-unit"}, must_404=False),
    ("GET", "/v1/credit-types/list"): Probe(query=lambda a: {"limit": "100"}, must_404=False),
    ("POST", "/v1/credit-types/archive"): Probe(lambda a: {"id": a["unit"]}),
    # custom fields
    ("POST", "/v1/customFields/addKey"): Probe(
        lambda a: {"entity": "product", "key": "b-key", "enforce_uniqueness": False}, must_404=False
    ),
    ("POST", "/v1/customFields/listKeys"): Probe(lambda a: {}, must_404=False),
    ("POST", "/v1/customFields/removeKey"): Probe(
        lambda a: {"entity": "billable_metric", "key": a["cf_key"]}
    ),
    ("POST", "/v1/customFields/setValues"): Probe(
        lambda a: {"entity": "billable_metric", "entity_id": a["metric"], "custom_fields": {"x": "y"}}
    ),
    ("POST", "/v1/customFields/deleteValues"): Probe(
        lambda a: {"entity": "billable_metric", "entity_id": a["metric"], "keys": [a["cf_key"]]}
    ),
    # products
    ("POST", "/v1/contract-pricing/products/create"): Probe(
        lambda a: {"name": "b-product", "type": "USAGE", "billable_metric_id": a["metric"]}, reference=True
    ),
    ("POST", "/v1/contract-pricing/products/get"): Probe(lambda a: {"id": a["product"]}),
    ("POST", "/v1/contract-pricing/products/list"): Probe(
        lambda a: {"archive_filter": "ALL"}, must_404=False
    ),
    ("POST", "/v1/contract-pricing/products/update"): Probe(
        lambda a: {"product_id": a["product"], "starting_at": AT, "name": "stolen"}
    ),
    ("POST", "/v1/contract-pricing/products/archive"): Probe(lambda a: {"product_id": a["product"]}),
    # rate cards
    ("POST", "/v1/contract-pricing/rate-cards/create"): Probe(lambda a: {"name": "b-card"}, must_404=False),
    ("POST", "/v1/contract-pricing/rate-cards/get"): Probe(lambda a: {"id": a["card"]}),
    ("POST", "/v1/contract-pricing/rate-cards/list"): Probe(lambda a: {}, must_404=False),
    ("POST", "/v1/contract-pricing/rate-cards/update"): Probe(
        lambda a: {"rate_card_id": a["card"], "name": "x"}
    ),
    ("POST", "/v1/contract-pricing/rate-cards/archive"): Probe(lambda a: {"id": a["card"]}),
    ("POST", "/v1/contract-pricing/rate-cards/addRate"): Probe(
        lambda a: {
            "rate_card_id": a["card"],
            "product_id": a["product"],
            "entitled": True,
            "rate_type": "FLAT",
            "price": 1,
            "starting_at": AT,
        }
    ),
    ("POST", "/v1/contract-pricing/rate-cards/addRates"): Probe(
        lambda a: {
            "rate_card_id": a["card"],
            "rates": [
                {
                    "product_id": a["product"],
                    "entitled": True,
                    "rate_type": "FLAT",
                    "price": 1,
                    "starting_at": AT,
                }
            ],
        }
    ),
    ("POST", "/v1/contract-pricing/rate-cards/getRates"): Probe(
        lambda a: {"rate_card_id": a["card"], "at": AT}
    ),
    ("POST", "/v1/contract-pricing/rate-cards/getRateSchedule"): Probe(
        lambda a: {"rate_card_id": a["card"], "starting_at": "2024-01-01T00:00:00Z"}
    ),
    ("POST", "/v1/contract-pricing/rate-cards/getNamedSchedule"): Probe(
        lambda a: {"rate_card_id": a["card"], "schedule_name": "tier"}
    ),
    ("POST", "/v1/contract-pricing/rate-cards/updateNamedSchedule"): Probe(
        lambda a: {"rate_card_id": a["card"], "schedule_name": "tier", "starting_at": AT, "value": "gold"}
    ),
    ("POST", "/v1/contract-pricing/rate-cards/setRateCardProductsOrder"): Probe(
        lambda a: {"rate_card_id": a["card"], "product_order": [a["product"]]}
    ),
    ("POST", "/v1/contract-pricing/rate-cards/moveRateCardProducts"): Probe(
        lambda a: {"rate_card_id": a["card"], "product_moves": [{"product_id": a["product"], "position": 0}]}
    ),
}


def _ok(r: httpx.Response) -> Any:
    assert r.status_code == 200, r.text
    return r.json()


def _seed(c: httpx.Client, tag: str) -> Ids:
    ids: Ids = {}
    ids["cf_key"] = f"iso_{tag}"
    _ok(
        c.post(
            "/v1/customFields/addKey",
            json={"entity": "billable_metric", "key": ids["cf_key"], "enforce_uniqueness": False},
        )
    )
    ids["metric"] = _ok(
        c.post(
            "/v1/billable-metrics/create",
            json={
                "name": f"iso-{tag}",
                "aggregation_type": "SUM",
                "aggregation_key": "n",
                "property_filters": [{"name": "n", "exists": True}],
                "custom_fields": {ids["cf_key"]: "secret"},
            },
        )
    )["data"]["id"]
    ids["unit"] = _ok(c.post("/v1/credit-types/create", json={"name": f"iso-unit-{tag}"}))["data"]["id"]
    ids["product"] = _ok(
        c.post(
            "/v1/contract-pricing/products/create",
            json={"name": f"iso-p-{tag}", "type": "USAGE", "billable_metric_id": ids["metric"]},
        )
    )["data"]["id"]
    ids["card"] = _ok(c.post("/v1/contract-pricing/rate-cards/create", json={"name": f"iso-card-{tag}"}))[
        "data"
    ]["id"]
    _ok(
        c.post(
            "/v1/contract-pricing/rate-cards/addRate",
            json={
                "rate_card_id": ids["card"],
                "product_id": ids["product"],
                "entitled": True,
                "rate_type": "FLAT",
                "price": 3,
                "starting_at": "2024-01-01T00:00:00Z",
            },
        )
    )
    _ok(
        c.post(
            "/v1/contract-pricing/rate-cards/updateNamedSchedule",
            json={
                "rate_card_id": ids["card"],
                "schedule_name": "tier",
                "starting_at": "2024-01-01T00:00:00Z",
                "value": "a",
            },
        )
    )
    return ids


def _snapshot(c: httpx.Client, ids: Ids) -> str:
    parts = [
        _ok(c.get(f"/v1/billable-metrics/{ids['metric']}")),
        _ok(c.post("/v1/contract-pricing/products/get", json={"id": ids["product"]})),
        _ok(c.post("/v1/contract-pricing/rate-cards/get", json={"id": ids["card"]})),
        _ok(c.post("/v1/contract-pricing/rate-cards/getRates", json={"rate_card_id": ids["card"], "at": AT})),
        _ok(
            c.post(
                "/v1/contract-pricing/rate-cards/getNamedSchedule",
                json={"rate_card_id": ids["card"], "schedule_name": "tier"},
            )
        ),
        [
            u
            for u in _ok(c.get("/v1/credit-types/list", params={"limit": 100}))["data"]
            if u["id"] == ids["unit"]
        ],
        [k for k in _ok(c.post("/v1/customFields/listKeys", json={}))["data"] if k["key"] == ids["cf_key"]],
    ]
    return json.dumps(parts, sort_keys=True)


def test_every_route_has_an_isolation_probe() -> None:
    missing = [r for r in ROUTES if r not in PROBES]
    assert not missing, f"add tenant-isolation probes for: {missing}"


@pytest.mark.parametrize("route", sorted(PROBES), ids=lambda r: f"{r[0]} {r[1]}")
def test_other_tenant_cannot_reach(server: Running, uid: str, route: tuple[str, str]) -> None:
    method, path = route
    probe = PROBES[route]
    with server.http() as a, server.http(server.token_b) as b:
        ids = _seed(a, uid)
        before = _snapshot(a, ids)
        url = probe.path(ids) if probe.path else path
        body = probe.body(ids) if probe.body else None
        sent = url + json.dumps(body)
        r = b.request(method, url, json=body, params=probe.query(ids) if probe.query else None)
        if probe.reference:
            assert r.status_code in (400, 404), (route, r.status_code, r.text)
        elif probe.must_404:
            assert r.status_code == 404, (route, r.status_code, r.text)
        else:
            assert r.status_code < 500, (route, r.status_code, r.text)
        # Echoing back an id B itself sent is no leak; any other id of A's in the answer is.
        leaked = [name for name, value in ids.items() if value in r.text and value not in sent]
        assert not leaked, (route, leaked, r.text[:300])
        assert _snapshot(a, ids) == before
