"""Products through the official SDK in strict mode, on every backend (SPEC §3)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import metronome
import pytest
from metronome import Metronome

P = "/v1/contract-pricing/products"


def _metric(client: Metronome, uid: str, **kw: Any) -> str:
    args: dict[str, Any] = {
        "name": f"bytes-{uid}",
        "aggregation_type": "SUM",
        "aggregation_key": "mb",
        "property_filters": [
            {"name": "mb", "exists": True},
            {"name": "region", "exists": True},
            {"name": "model", "exists": True},
        ],
        "group_keys": [["region"], ["region", "model"]],
    }
    args.update(kw)
    return client.v1.billable_metrics.create(**args).data.id


def _hour(delta: timedelta) -> datetime:
    return (datetime.now(UTC) + delta).replace(minute=0, second=0, microsecond=0)


def _names(client: Metronome) -> set[str]:
    return {p.current.name for p in client.v1.contracts.products.list(archive_filter="ALL")}


def _full(kind: str, uid: str, metric_id: str, component_id: str) -> dict[str, Any]:
    """A create body with every field the product type accepts."""
    body: dict[str, Any] = {
        "name": f"{kind.lower()}-{uid}",
        "type": kind,
        "tags": ["a", f"t-{uid}"],
        "is_refundable": False,
        "netsuite_internal_item_id": "ns-1",
        "netsuite_overage_item_id": "ns-2",
    }
    if kind == "USAGE":
        body |= {
            "billable_metric_id": metric_id,
            "pricing_group_key": ["region"],
            "presentation_group_key": ["model"],
            "quantity_conversion": {"conversion_factor": 1024, "operation": "DIVIDE", "name": "MB to GB"},
            "quantity_rounding": {"rounding_method": "ROUND_HALF_UP", "decimal_places": 2},
            "sql_breakdown_granularity": "HOUR",
        }
    if kind == "COMPOSITE":
        body |= {
            "composite_product_ids": [component_id],
            "composite_tags": ["compute"],
            "include_composite_spend": True,
            "exclude_free_usage": True,
        }
    return body


@pytest.mark.parametrize(
    "kind", ["USAGE", "SUBSCRIPTION", "FIXED", "COMPOSITE", "PRO_SERVICE", "PROFESSIONAL_SERVICE"]
)
def test_create_read_back_every_type(client: Metronome, http: httpx.Client, uid: str, kind: str) -> None:
    metric_id = _metric(client, uid)
    component = client.v1.contracts.products.create(
        name=f"comp-{uid}", type="USAGE", billable_metric_id=metric_id
    ).data.id
    key = f"team-{uid}"
    client.v1.custom_fields.add_key(entity="product", key=key, enforce_uniqueness=False)
    body = _full(kind, uid, metric_id, component) | {"custom_fields": {key: "billing"}}
    product_id = client.v1.contracts.products.create(**body).data.id

    got = client.v1.contracts.products.retrieve(id=product_id).data
    assert got.id == product_id
    assert got.type == ("PRO_SERVICE" if kind == "PROFESSIONAL_SERVICE" else kind)
    assert got.archived_at is None
    assert got.updates == []
    assert got.custom_fields == {key: "billing"}
    for state in (got.initial, got.current):
        assert state.name == body["name"]
        assert state.created_by
        assert state.tags == body["tags"]
        assert state.is_refundable is False
        assert state.netsuite_internal_item_id == "ns-1"
        assert state.netsuite_overage_item_id == "ns-2"
        if kind == "USAGE":
            assert state.billable_metric_id == metric_id
            assert state.pricing_group_key == ["region"]
            assert state.presentation_group_key == ["model"]
            assert state.quantity_conversion is not None
            assert state.quantity_conversion.conversion_factor == 1024
            assert state.quantity_conversion.operation == "DIVIDE"
            assert state.quantity_conversion.name == "MB to GB"
            assert state.quantity_rounding is not None
            assert state.quantity_rounding.rounding_method == "ROUND_HALF_UP"
            assert state.quantity_rounding.decimal_places == 2
        else:
            assert state.billable_metric_id is None
            assert state.quantity_conversion is None
        if kind == "COMPOSITE":
            assert state.composite_product_ids == [component]
            assert state.composite_tags == ["compute"]
            assert state.include_composite_spend is True
            assert state.exclude_free_usage is True
    raw = http.post(f"{P}/get", json={"id": product_id}).json()["data"]
    if kind == "USAGE":
        assert raw["current"]["sql_breakdown_granularity"] == "HOUR"


def test_conversion_factor_is_exact(client: Metronome, http: httpx.Client, uid: str) -> None:
    metric_id = _metric(client, uid)
    conversion = {"conversion_factor": "FACTOR", "operation": "MULTIPLY"}
    fields = {"name": f"exact-{uid}", "type": "USAGE", "billable_metric_id": metric_id}
    body = json.dumps(fields | {"quantity_conversion": conversion}).replace(
        '"FACTOR"', "0.000000000000000001"
    )
    r = http.post(f"{P}/create", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    raw = http.post(f"{P}/get", json={"id": r.json()["data"]["id"]}).content
    conv = json.loads(raw, parse_float=Decimal)["data"]["current"]["quantity_conversion"]
    assert conv["conversion_factor"] == Decimal("0.000000000000000001")


def test_list_pages_with_each_archive_filter(client: Metronome, uid: str) -> None:
    ids = [client.v1.contracts.products.create(name=f"l{i}-{uid}", type="FIXED").data.id for i in range(7)]
    archived = set(ids[:3])
    for pid in archived:
        client.v1.contracts.products.archive(product_id=pid)
    first = client.v1.contracts.products.list(limit=2, archive_filter="ALL")
    assert len(first.data) == 2
    assert first.next_page

    def seen(**kw: Any) -> list[str]:
        return [p.id for p in client.v1.contracts.products.list(limit=2, **kw)]

    for kw, expect_in, expect_out in [
        ({}, set(ids) - archived, archived),
        ({"archive_filter": "NOT_ARCHIVED"}, set(ids) - archived, archived),
        ({"archive_filter": "ARCHIVED"}, archived, set(ids) - archived),
        ({"archive_filter": "ALL"}, set(ids), set()),
    ]:
        got = seen(**kw)
        assert len(got) == len(set(got)), kw
        assert expect_in <= set(got), kw
        assert not (expect_out & set(got)), kw


def test_last_page_has_null_cursor(http: httpx.Client, uid: str) -> None:
    r = http.post(f"{P}/list", params={"limit": 100}, json={"archive_filter": "ALL"})
    cursor = r.json()["next_page"]
    while cursor is not None:
        r = http.post(f"{P}/list", params={"limit": 100, "next_page": cursor}, json={"archive_filter": "ALL"})
        assert r.status_code == 200
        cursor = r.json()["next_page"]
    assert "next_page" in r.json()


def test_updates_in_the_future_and_the_past(client: Metronome, uid: str) -> None:
    metric_id = _metric(client, uid)
    other = _metric(client, f"o{uid}", group_keys=[["region"]])
    pid = client.v1.contracts.products.create(
        name=f"v1-{uid}", type="USAGE", billable_metric_id=metric_id, tags=["old"]
    ).data.id
    future = _hour(timedelta(days=3))
    past = _hour(timedelta(days=-3))
    client.v1.contracts.products.update(product_id=pid, starting_at=future, name=f"v2-{uid}")
    got = client.v1.contracts.products.retrieve(id=pid).data
    assert got.current.name == f"v1-{uid}"  # scheduled, not yet in force
    assert len(got.updates) == 1
    assert got.updates[0].name == f"v2-{uid}"
    assert got.updates[0].starting_at == future
    assert got.updates[0].tags is None  # only the fields the update set

    client.v1.contracts.products.update(
        product_id=pid,
        starting_at=past.isoformat(),
        tags=["new"],
        billable_metric_id=other,
        pricing_group_key=["region"],
        quantity_rounding={"rounding_method": "ROUND_UP", "decimal_places": 0},
    )
    got = client.v1.contracts.products.retrieve(id=pid).data
    assert got.current.name == f"v1-{uid}"
    assert got.current.tags == ["new"]
    assert got.current.billable_metric_id == other
    assert got.current.pricing_group_key == ["region"]
    assert got.current.starting_at == past
    assert got.current.quantity_rounding is not None
    assert got.current.quantity_rounding.rounding_method == "ROUND_UP"
    assert got.initial.tags == ["old"]
    assert got.initial.billable_metric_id == metric_id
    assert [u.starting_at for u in got.updates] == [future, past]

    # A null clears a field from the update's starting_at on.
    client.v1.contracts.products.update(
        product_id=pid, starting_at=past + timedelta(hours=1), quantity_rounding=None
    )
    got = client.v1.contracts.products.retrieve(id=pid).data
    assert got.current.quantity_rounding is None
    assert got.current.tags == ["new"]


def test_retroactive_update_must_keep_later_states_valid(client: Metronome, uid: str) -> None:
    metric_id = _metric(client, uid)
    narrow = _metric(client, f"n{uid}", group_keys=[["model"]])
    pid = client.v1.contracts.products.create(
        name=f"r-{uid}", type="USAGE", billable_metric_id=metric_id
    ).data.id
    client.v1.contracts.products.update(
        product_id=pid, starting_at=_hour(timedelta(days=1)), pricing_group_key=["region"]
    )
    # From the past on the metric becomes one without a `region` key: tomorrow's state would be invalid.
    with pytest.raises(metronome.BadRequestError) as exc:
        client.v1.contracts.products.update(
            product_id=pid, starting_at=_hour(timedelta(days=-1)), billable_metric_id=narrow
        )
    assert "pricing_group_key" in exc.value.body["message"]  # type: ignore[index]
    assert len(client.v1.contracts.products.retrieve(id=pid).data.updates) == 1


def test_archive(client: Metronome, uid: str) -> None:
    pid = client.v1.contracts.products.create(name=f"arc-{uid}", type="SUBSCRIPTION").data.id
    assert client.v1.contracts.products.archive(product_id=pid).data.id == pid
    got = client.v1.contracts.products.retrieve(id=pid).data
    assert got.archived_at is not None
    assert client.v1.contracts.products.archive(product_id=pid).data.id == pid  # idempotent
    assert client.v1.contracts.products.retrieve(id=pid).data.archived_at == got.archived_at
    with pytest.raises(metronome.BadRequestError) as exc:
        client.v1.contracts.products.update(product_id=pid, starting_at=_hour(timedelta(days=1)), name="x")
    assert "archived" in exc.value.body["message"]  # type: ignore[index]
    assert pid not in {p.id for p in client.v1.contracts.products.list()}


def _bad_create_cases(
    metric: str, archived_metric: str, archived_product: str
) -> list[tuple[dict[str, Any], str]]:
    usage = {"type": "USAGE", "billable_metric_id": metric}
    return [
        ({"type": "FIXED", "name": None}, "name"),
        ({"type": "FIXED", "name": ""}, "name"),
        ({"type": None}, "type"),
        ({"type": "SEAT"}, "type"),
        ({"type": "USAGE"}, "billable_metric_id"),
        ({"type": "USAGE", "billable_metric_id": "00000000-0000-0000-0000-000000000000"}, "not found"),
        ({"type": "USAGE", "billable_metric_id": archived_metric}, "archived"),
        (usage | {"pricing_group_key": ["model"]}, "group key"),
        (usage | {"pricing_group_key": ["region"], "presentation_group_key": ["nope"]}, "group key"),
        (usage | {"pricing_group_key": ["region", "region"]}, "more than once"),
        ({"type": "FIXED", "pricing_group_key": ["region"]}, "only valid for USAGE"),
        ({"type": "FIXED", "billable_metric_id": metric}, "only valid for USAGE"),
        (
            {
                "type": "SUBSCRIPTION",
                "quantity_rounding": {"rounding_method": "ROUND_UP", "decimal_places": 0},
            },
            "USAGE",
        ),
        (
            usage | {"quantity_rounding": {"rounding_method": "ROUND_SIDEWAYS", "decimal_places": 0}},
            "rounding_method",
        ),
        (
            usage | {"quantity_rounding": {"rounding_method": "ROUND_UP", "decimal_places": -1}},
            "decimal_places",
        ),
        (
            usage | {"quantity_rounding": {"rounding_method": "ROUND_UP", "decimal_places": 1.5}},
            "decimal_places",
        ),
        (usage | {"quantity_rounding": {"rounding_method": "ROUND_UP"}}, "decimal_places"),
        (
            usage | {"quantity_conversion": {"conversion_factor": 0, "operation": "DIVIDE"}},
            "conversion_factor",
        ),
        (
            usage | {"quantity_conversion": {"conversion_factor": -2, "operation": "DIVIDE"}},
            "conversion_factor",
        ),
        (
            usage | {"quantity_conversion": {"conversion_factor": "NaN", "operation": "DIVIDE"}},
            "conversion_factor",
        ),
        (
            usage | {"quantity_conversion": {"conversion_factor": "lots", "operation": "DIVIDE"}},
            "conversion_factor",
        ),
        (usage | {"quantity_conversion": {"conversion_factor": 2, "operation": "SQUARE"}}, "operation"),
        (usage | {"sql_breakdown_granularity": "DAY"}, "sql_breakdown_granularity"),
        ({"type": "COMPOSITE"}, "composite_product_ids"),
        (
            {"type": "COMPOSITE", "composite_product_ids": ["00000000-0000-0000-0000-000000000000"]},
            "not found",
        ),
        ({"type": "COMPOSITE", "composite_product_ids": [archived_product]}, "archived"),
        ({"type": "FIXED", "composite_tags": ["x"]}, "only valid for COMPOSITE"),
        ({"type": "FIXED", "tags": "x"}, "tags"),
        ({"type": "FIXED", "is_refundable": "yes"}, "is_refundable"),
        ({"type": "FIXED", "custom_fields": {"undeclared": "x"}}, "undeclared"),
        ({"type": "FIXED", "colour": "red"}, "colour"),
    ]


@pytest.fixture
def refs(client: Metronome, uid: str) -> tuple[str, str, str]:
    metric = _metric(client, uid)
    archived_metric = _metric(client, f"a{uid}")
    client.v1.billable_metrics.archive(id=archived_metric)
    archived_product = client.v1.contracts.products.create(name=f"gone-{uid}", type="FIXED").data.id
    client.v1.contracts.products.archive(product_id=archived_product)
    return metric, archived_metric, archived_product


def test_bad_create_bodies_are_400_and_store_nothing(
    client: Metronome, http: httpx.Client, uid: str, refs: tuple[str, str, str]
) -> None:
    cases = _bad_create_cases(*refs)
    for i, (fields, fragment) in enumerate(cases):
        name = f"bad{i}-{uid}"
        body = {"name": name} | fields
        body = {k: v for k, v in body.items() if v is not None}
        r = http.post(f"{P}/create", json=body)
        assert r.status_code == 400, (fields, r.text)
        assert fragment in r.json()["message"], (fields, r.json())
    names = _names(client)
    assert not any(n.endswith(f"-{uid}") and n.startswith("bad") for n in names)


def test_bad_update_bodies_are_400_and_store_nothing(
    client: Metronome, http: httpx.Client, uid: str, refs: tuple[str, str, str]
) -> None:
    metric, archived_metric, archived_product = refs
    usage = client.v1.contracts.products.create(
        name=f"u-{uid}", type="USAGE", billable_metric_id=metric
    ).data.id
    fixed = client.v1.contracts.products.create(name=f"f-{uid}", type="FIXED").data.id
    at = _hour(timedelta(days=1)).isoformat()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"product_id": usage, "name": "x"}, "starting_at"),
        ({"product_id": usage, "starting_at": "2025-01-01T00:30:00Z", "name": "x"}, "hour boundary"),
        ({"product_id": usage, "starting_at": "yesterday", "name": "x"}, "starting_at"),
        ({"product_id": usage, "starting_at": at}, "at least one field"),
        ({"product_id": usage, "starting_at": at, "type": "FIXED"}, "type"),
        ({"product_id": usage, "starting_at": at, "name": None}, "name"),
        ({"product_id": usage, "starting_at": at, "name": ""}, "name"),
        ({"product_id": usage, "starting_at": at, "billable_metric_id": None}, "billable_metric_id"),
        ({"product_id": usage, "starting_at": at, "billable_metric_id": archived_metric}, "archived"),
        ({"product_id": usage, "starting_at": at, "pricing_group_key": ["model"]}, "group key"),
        ({"product_id": usage, "starting_at": at, "custom_fields": {"k": "v"}}, "custom_fields"),
        (
            {
                "product_id": usage,
                "starting_at": at,
                "quantity_conversion": {"conversion_factor": 0, "operation": "DIVIDE"},
            },
            "conversion_factor",
        ),
        ({"product_id": fixed, "starting_at": at, "pricing_group_key": ["region"]}, "only valid for USAGE"),
        ({"product_id": fixed, "starting_at": at, "composite_product_ids": [archived_product]}, "archived"),
        ({"product_id": "00000000-0000-0000-0000-000000000000", "starting_at": at, "name": "x"}, "not found"),
        ({"starting_at": at, "name": "x"}, "product_id"),
    ]
    for fields, fragment in cases:
        r = http.post(f"{P}/update", json=fields)
        want = 404 if fragment == "not found" else 400
        assert r.status_code == want, (fields, r.text)
        assert fragment in r.json()["message"], (fields, r.json())
    for pid in (usage, fixed):
        got = client.v1.contracts.products.retrieve(id=pid).data
        assert got.updates == []


def test_bad_read_and_archive_bodies(http: httpx.Client) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    for path, body, status, fragment in [
        ("get", {}, 400, "id"),
        ("get", {"id": 5}, 400, "id"),
        ("get", {"id": missing}, 404, "not found"),
        ("archive", {}, 400, "product_id"),
        ("archive", {"product_id": missing}, 404, "not found"),
        ("list", {"archive_filter": "SOME"}, 400, "archive_filter"),
    ]:
        r = http.post(f"{P}/{path}", json=body)
        assert r.status_code == status, (path, body, r.text)
        assert fragment in r.json()["message"], (path, body, r.json())
    assert http.post(f"{P}/list", params={"limit": 0}, json={}).status_code == 400
    assert http.post(f"{P}/list", params={"next_page": "%%%"}, json={}).status_code == 400


def test_other_tenant_sees_nothing(client: Metronome, intruder: Metronome, uid: str) -> None:
    metric_id = _metric(client, uid)
    pid = client.v1.contracts.products.create(
        name=f"iso-{uid}", type="USAGE", billable_metric_id=metric_id
    ).data.id
    with pytest.raises(metronome.NotFoundError):
        intruder.v1.contracts.products.retrieve(id=pid)
    with pytest.raises(metronome.NotFoundError):
        intruder.v1.contracts.products.update(
            product_id=pid, starting_at=_hour(timedelta(days=1)), name="mine"
        )
    with pytest.raises(metronome.NotFoundError):
        intruder.v1.contracts.products.archive(product_id=pid)
    assert pid not in {p.id for p in intruder.v1.contracts.products.list(archive_filter="ALL")}
    # Nor can another tenant's metric or product be referenced.
    with pytest.raises(metronome.BadRequestError):
        intruder.v1.contracts.products.create(name=f"x-{uid}", type="USAGE", billable_metric_id=metric_id)
    with pytest.raises(metronome.BadRequestError):
        intruder.v1.contracts.products.create(name=f"y-{uid}", type="COMPOSITE", composite_product_ids=[pid])
    got = client.v1.contracts.products.retrieve(id=pid).data
    assert got.archived_at is None
    assert got.updates == []


def test_decimal_places_accept_whole_decimal(http: httpx.Client, client: Metronome, uid: str) -> None:
    metric_id = _metric(client, uid)
    rounding = {"rounding_method": "ROUND_DOWN", "decimal_places": "PLACES"}
    fields = {"name": f"dp-{uid}", "type": "USAGE", "billable_metric_id": metric_id}
    body = json.dumps(fields | {"quantity_rounding": rounding}).replace('"PLACES"', "3.0")
    r = http.post(f"{P}/create", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    got = client.v1.contracts.products.retrieve(id=r.json()["data"]["id"]).data
    assert got.current.quantity_rounding is not None
    assert got.current.quantity_rounding.decimal_places == 3
