"""Pricing units (credit types) and custom fields through the official SDK in strict mode."""

from __future__ import annotations

import metronome
import pytest
from metronome import Metronome

USD = "2714e483-4ff1-48e4-9e25-ac732e8f24f2"


def test_usd_cents_is_present_from_the_start(client: Metronome) -> None:
    units = {u.id: u for u in client.v1.pricing_units.list()}
    assert units[USD].name == "USD (cents)"
    assert units[USD].is_currency is True
    assert any(u.name == "EUR" and u.is_currency for u in units.values())


def test_create_list_archive_pricing_unit(client: Metronome, uid: str) -> None:
    ids = [client.v1.pricing_units.create(name=f"tokens-{i}-{uid}").data.id for i in range(4)]
    listed = {u.id: u for u in client.v1.pricing_units.list(limit=2)}  # auto-pages 2 at a time
    for i, unit_id in enumerate(ids):
        assert listed[unit_id].name == f"tokens-{i}-{uid}"
        assert listed[unit_id].is_currency is False
    client.v1.pricing_units.archive(id=ids[0])
    assert ids[0] not in {u.id for u in client.v1.pricing_units.list()}


def test_duplicate_pricing_unit_name_is_a_409_without_retries(server, uid: str) -> None:  # type: ignore[no-untyped-def]
    client = server.sdk(max_retries=2)
    client.v1.pricing_units.create(name=f"credits-{uid}")
    with pytest.raises(metronome.ConflictError) as exc:
        client.v1.pricing_units.create(name=f"CREDITS-{uid}")
    assert exc.value.response.headers["x-should-retry"] == "false"


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": 5}, {"name": "x", "extra": 1}, [], "x"])
def test_bad_pricing_unit_bodies(http, body: object) -> None:  # type: ignore[no-untyped-def]
    before = len(http.get("/v1/credit-types/list", params={"limit": 100}).json()["data"])
    r = http.post("/v1/credit-types/create", json=body)
    assert r.status_code == 400
    assert r.json()["message"]
    assert len(http.get("/v1/credit-types/list", params={"limit": 100}).json()["data"]) == before


def test_fiat_cannot_be_archived_and_other_tenants_units_are_invisible(
    client: Metronome, intruder: Metronome, uid: str
) -> None:
    with pytest.raises(metronome.BadRequestError):
        client.v1.pricing_units.archive(id=USD)
    unit_id = client.v1.pricing_units.create(name=f"private-{uid}").data.id
    assert unit_id not in {u.id for u in intruder.v1.pricing_units.list()}
    with pytest.raises(metronome.NotFoundError):
        intruder.v1.pricing_units.archive(id=unit_id)


def _metric(client: Metronome, uid: str) -> str:
    return client.v1.billable_metrics.create(name=f"cf-{uid}", aggregation_type="COUNT").data.id


def test_custom_field_keys_and_values(client: Metronome, uid: str) -> None:
    key = f"cost_center_{uid}"
    client.v1.custom_fields.add_key(entity="billable_metric", key=key, enforce_uniqueness=True)
    client.v1.custom_fields.add_key(entity="billable_metric", key=key, enforce_uniqueness=True)  # idempotent
    keys = list(client.v1.custom_fields.list_keys(entities=["billable_metric"]))
    assert [k.key for k in keys].count(key) == 1
    assert next(k for k in keys if k.key == key).enforce_uniqueness is True

    first, second = _metric(client, uid + "a"), _metric(client, uid + "b")
    client.v1.custom_fields.set_values(entity="billable_metric", entity_id=first, custom_fields={key: "CC-1"})
    got = client.v1.billable_metrics.retrieve(billable_metric_id=first).data
    assert got.custom_fields == {key: "CC-1"}
    # uniqueness is enforced across objects of the entity
    with pytest.raises(metronome.ConflictError):
        client.v1.custom_fields.set_values(
            entity="billable_metric", entity_id=second, custom_fields={key: "CC-1"}
        )
    client.v1.custom_fields.delete_values(entity="billable_metric", entity_id=first, keys=[key])
    assert client.v1.billable_metrics.retrieve(billable_metric_id=first).data.custom_fields == {}
    client.v1.custom_fields.remove_key(entity="billable_metric", key=key)
    assert key not in {k.key for k in client.v1.custom_fields.list_keys(entities=["billable_metric"])}


@pytest.mark.parametrize(
    ("values", "status"),
    [
        ({"undeclared_key": "x"}, 400),
        ({"k": "x" * 201}, 400),
    ],
)
def test_bad_custom_field_values(client: Metronome, uid: str, values: dict[str, str], status: int) -> None:
    client.v1.custom_fields.add_key(entity="billable_metric", key="k", enforce_uniqueness=False)
    metric_id = _metric(client, uid)
    with pytest.raises(metronome.APIStatusError) as exc:
        client.v1.custom_fields.set_values(
            entity="billable_metric", entity_id=metric_id, custom_fields=values
        )
    assert exc.value.status_code == status
    assert client.v1.billable_metrics.retrieve(billable_metric_id=metric_id).data.custom_fields == {}


def test_custom_fields_on_unknown_or_foreign_objects(
    client: Metronome, intruder: Metronome, uid: str
) -> None:
    client.v1.custom_fields.add_key(entity="billable_metric", key="k", enforce_uniqueness=False)
    intruder.v1.custom_fields.add_key(entity="billable_metric", key="k", enforce_uniqueness=False)
    metric_id = _metric(client, uid)
    with pytest.raises(metronome.NotFoundError):
        intruder.v1.custom_fields.set_values(
            entity="billable_metric", entity_id=metric_id, custom_fields={"k": "v"}
        )
    with pytest.raises(metronome.BadRequestError):
        client.v1.custom_fields.add_key(entity="spaceship", key="k", enforce_uniqueness=False)  # type: ignore[arg-type]
