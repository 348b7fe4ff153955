"""Customers through the official SDK in strict mode, on every backend."""

from __future__ import annotations

import httpx
import metronome
import pytest
from metronome import Metronome


def _create(client: Metronome, uid: str, **kw: object) -> str:
    args: dict[str, object] = {"name": f"Acme {uid}"}
    args.update(kw)
    return client.v1.customers.create(**args).data.id  # type: ignore[arg-type]


def test_create_and_read_back(client: Metronome, uid: str) -> None:
    client.v1.custom_fields.add_key(entity="customer", key=f"tier-{uid}", enforce_uniqueness=False)
    created = client.v1.customers.create(
        name=f"Acme {uid}",
        external_id=f"ext-{uid}",
        ingest_aliases=[f"a-{uid}", f"b-{uid}", f"a-{uid}"],
        custom_fields={f"tier-{uid}": "gold"},
    ).data
    assert created.name == f"Acme {uid}"
    assert created.external_id == f"ext-{uid}"
    # external_id is an ingest alias too (Metronome lists it among the aliases); repeats collapse.
    assert created.ingest_aliases == sorted([f"a-{uid}", f"b-{uid}", f"ext-{uid}"])
    assert created.custom_fields == {f"tier-{uid}": "gold"}

    got = client.v1.customers.retrieve(customer_id=created.id).data
    assert got.id == created.id
    assert got.name == f"Acme {uid}"
    assert got.external_id == f"ext-{uid}"
    assert got.ingest_aliases == created.ingest_aliases
    assert got.custom_fields == {f"tier-{uid}": "gold"}
    assert got.customer_config.salesforce_account_id is None
    assert got.archived_at is None
    assert got.created_at == got.updated_at


def test_minimal_customer_external_id_defaults_to_its_id(client: Metronome, uid: str) -> None:
    created = client.v1.customers.create(name=f"Solo {uid}").data
    assert created.external_id == created.id
    assert created.ingest_aliases == []


def test_name_is_truncated_to_160(client: Metronome, uid: str) -> None:
    customer_id = _create(client, uid, name="n" * 300)
    assert client.v1.customers.retrieve(customer_id=customer_id).data.name == "n" * 160
    renamed = client.v1.customers.set_name(customer_id=customer_id, name="m" * 200).data
    assert renamed.name == "m" * 160


def test_set_name(client: Metronome, uid: str) -> None:
    customer_id = _create(client, uid, ingest_aliases=[f"sn-{uid}"])
    out = client.v1.customers.set_name(customer_id=customer_id, name=f"Renamed {uid}").data
    assert out.id == customer_id
    assert out.ingest_aliases == [f"sn-{uid}"]
    got = client.v1.customers.retrieve(customer_id=customer_id).data
    assert got.name == f"Renamed {uid}"
    assert got.updated_at >= got.created_at


def test_set_ingest_aliases_replaces_the_set(client: Metronome, uid: str) -> None:
    customer_id = _create(client, uid, ingest_aliases=[f"old-{uid}", f"keep-{uid}"])
    client.v1.customers.set_ingest_aliases(
        customer_id=customer_id, ingest_aliases=[f"keep-{uid}", f"new-{uid}"]
    )
    got = client.v1.customers.retrieve(customer_id=customer_id).data
    assert got.ingest_aliases == sorted([f"keep-{uid}", f"new-{uid}"])
    # The released alias is free for another customer; idempotent replays change nothing.
    other = _create(client, f"o-{uid}", ingest_aliases=[f"old-{uid}"])
    assert client.v1.customers.retrieve(customer_id=other).data.ingest_aliases == [f"old-{uid}"]
    client.v1.customers.set_ingest_aliases(
        customer_id=customer_id, ingest_aliases=[f"keep-{uid}", f"new-{uid}"]
    )
    client.v1.customers.set_ingest_aliases(customer_id=customer_id, ingest_aliases=[])
    assert client.v1.customers.retrieve(customer_id=customer_id).data.ingest_aliases == []


def test_alias_conflicts_are_409(client: Metronome, uid: str) -> None:
    owner = _create(client, uid, ingest_aliases=[f"taken-{uid}"], external_id=f"ext-{uid}")
    other = _create(client, f"x-{uid}")
    for body in (
        {"ingest_aliases": [f"taken-{uid}"]},
        {"external_id": f"taken-{uid}"},
        {"ingest_aliases": [f"ext-{uid}"]},
        {"ingest_aliases": [owner]},  # another customer's id can't be an alias
    ):
        name = f"clash-{uid}-{len(str(body))}"
        with pytest.raises(metronome.ConflictError) as exc:
            client.v1.customers.create(name=name, **body)  # type: ignore[arg-type]
        assert "already in use" in exc.value.body["message"]  # type: ignore[index]
        assert exc.value.response.headers["x-should-retry"] == "false"
    with pytest.raises(metronome.ConflictError):
        client.v1.customers.set_ingest_aliases(
            customer_id=other, ingest_aliases=[f"free-{uid}", f"taken-{uid}"]
        )
    # Nothing from the rejected request was applied.
    assert client.v1.customers.retrieve(customer_id=other).data.ingest_aliases == []
    assert list(client.v1.customers.list(ingest_alias=f"free-{uid}")) == []
    # Releasing and retaking an alias in one call on the owner is fine.
    client.v1.customers.set_ingest_aliases(customer_id=owner, ingest_aliases=[f"taken-{uid}", f"ext-{uid}"])


def test_archive_keeps_aliases_reserved(client: Metronome, uid: str) -> None:
    customer_id = _create(client, uid, ingest_aliases=[f"arch-{uid}"])
    assert client.v1.customers.archive(id=customer_id).data.id == customer_id
    got = client.v1.customers.retrieve(customer_id=customer_id).data
    assert got.archived_at is not None
    assert got.ingest_aliases == [f"arch-{uid}"]
    client.v1.customers.archive(id=customer_id)  # archiving twice is a no-op
    with pytest.raises(metronome.ConflictError):
        _create(client, f"n-{uid}", ingest_aliases=[f"arch-{uid}"])
    with pytest.raises(metronome.BadRequestError):
        client.v1.customers.set_ingest_aliases(customer_id=customer_id, ingest_aliases=[])
    assert customer_id not in {c.id for c in client.v1.customers.list(customer_ids=[customer_id])}
    assert [c.id for c in client.v1.customers.list(customer_ids=[customer_id], only_archived=True)] == [
        customer_id
    ]


def test_update_config(client: Metronome, uid: str) -> None:
    customer_id = _create(client, uid)
    client.v1.customers.update_config(customer_id=customer_id, salesforce_account_id=f"sf-{uid}")
    got = client.v1.customers.retrieve(customer_id=customer_id).data
    assert got.customer_config.salesforce_account_id == f"sf-{uid}"
    client.v1.customers.update_config(customer_id=customer_id, leave_stripe_invoices_in_draft=False)
    got = client.v1.customers.retrieve(customer_id=customer_id).data
    assert got.customer_config.salesforce_account_id == f"sf-{uid}"  # untouched when left out
    client.v1.customers.update_config(customer_id=customer_id, salesforce_account_id=None)
    assert (
        client.v1.customers.retrieve(customer_id=customer_id).data.customer_config.salesforce_account_id
        is None
    )


def test_list_filters(client: Metronome, uid: str) -> None:
    a = _create(client, f"a-{uid}", ingest_aliases=[f"la-{uid}"])
    b = _create(client, f"b-{uid}")
    c = _create(client, f"c-{uid}")
    client.v1.customers.update_config(customer_id=b, salesforce_account_id=f"sfb-{uid}")
    client.v1.customers.update_config(customer_id=c, salesforce_account_id=f"sfc-{uid}")
    assert {x.id for x in client.v1.customers.list(customer_ids=[a, b])} == {a, b}
    assert [x.id for x in client.v1.customers.list(ingest_alias=f"la-{uid}")] == [a]
    assert {x.id for x in client.v1.customers.list(salesforce_account_ids=[f"sfb-{uid}", f"sfc-{uid}"])} == {
        b,
        c,
    }
    assert list(client.v1.customers.list(ingest_alias=f"nobody-{uid}")) == []
    listed = list(client.v1.customers.list(customer_ids=[a]))
    assert listed[0].ingest_aliases == [f"la-{uid}"]
    assert listed[0].custom_fields == {}


def test_list_pages(client: Metronome, uid: str) -> None:
    ids = [_create(client, f"p{i}-{uid}") for i in range(7)]
    first = client.v1.customers.list(limit=3, customer_ids=ids)
    assert len(first.data) == 3
    assert first.next_page
    seen = [c.id for c in client.v1.customers.list(limit=3, customer_ids=ids)]
    assert seen == sorted(ids)
    last = client.v1.customers.list(limit=7, customer_ids=ids)
    assert last.next_page is None


def test_billable_metrics_of_a_customer(client: Metronome, uid: str) -> None:
    customer_id = _create(client, uid)
    live = client.v1.billable_metrics.create(name=f"bm-{uid}", aggregation_type="COUNT").data.id
    gone = client.v1.billable_metrics.create(name=f"bm-old-{uid}", aggregation_type="COUNT").data.id
    client.v1.billable_metrics.archive(id=gone)
    listed = {m.id: m for m in client.v1.customers.list_billable_metrics(customer_id=customer_id, limit=2)}
    assert live in listed
    assert gone not in listed
    assert listed[live].name == f"bm-{uid}"
    assert listed[live].aggregation_type == "COUNT"
    everything = {
        m.id
        for m in client.v1.customers.list_billable_metrics(customer_id=customer_id, include_archived=True)
    }
    assert {live, gone} <= everything


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": 5}, "name"),
        ({"name": "x", "ingest_aliases": "abc"}, "ingest_aliases"),
        ({"name": "x", "ingest_aliases": [""]}, "ingest_aliases[0]"),
        ({"name": "x", "ingest_aliases": ["a" * 256]}, "ingest_aliases[0]"),
        ({"name": "x", "ingest_aliases": ["a\x00b"]}, "NUL"),
        ({"name": "x", "external_id": ""}, "external_id"),
        ({"name": "x", "custom_fields": {"undeclared-key": "v"}}, "undeclared-key"),
        ({"name": "x", "colour": "red"}, "colour"),
        ({"name": "x", "billing_config": {"billing_provider_type": "paypal"}}, "billing_config"),
    ],
)
def test_bad_create_bodies_are_400_and_store_nothing(
    http: httpx.Client, client: Metronome, uid: str, body: dict[str, object], fragment: str
) -> None:
    marker = f"bad-{uid}"
    if "name" in body and body["name"] == "x":
        body = {**body, "name": marker}
    before = len(list(client.v1.customers.list(ingest_alias=marker)))
    r = http.post("/v1/customers", json=body)
    assert r.status_code == 400, r.text
    assert fragment in r.json()["message"]
    assert len(list(client.v1.customers.list(ingest_alias=marker))) == before
    names = [c.name for c in client.v1.customers.list(limit=100)]
    assert marker not in names


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("setName", {"name": ""}),
        ("setName", {}),
        ("setIngestAliases", {}),
        ("setIngestAliases", {"ingest_aliases": [1]}),
        ("updateConfig", {"salesforce_account_id": 7}),
        ("updateConfig", {"unknown": True}),
    ],
)
def test_bad_update_bodies_are_400(
    http: httpx.Client, client: Metronome, uid: str, path: str, body: dict[str, object]
) -> None:
    customer_id = _create(client, uid, ingest_aliases=[f"u-{uid}"])
    before = client.v1.customers.retrieve(customer_id=customer_id).data
    r = http.post(f"/v1/customers/{customer_id}/{path}", json=body)
    assert r.status_code == 400, r.text
    assert r.json()["message"]
    assert client.v1.customers.retrieve(customer_id=customer_id).data == before


def test_bad_list_queries_are_400(http: httpx.Client) -> None:
    assert http.get("/v1/customers", params={"limit": "0"}).status_code == 400
    assert http.get("/v1/customers", params={"next_page": "%%%"}).status_code == 400
    assert http.get("/v1/customers", params={"only_archived": "maybe"}).status_code == 400
    too_many = ",".join(f"id{i}" for i in range(101))
    r = http.get("/v1/customers", params={"customer_ids": too_many})
    assert r.status_code == 400
    assert "customer_ids" in r.json()["message"]


def test_unknown_customer_is_404(client: Metronome, http: httpx.Client) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    with pytest.raises(metronome.NotFoundError):
        client.v1.customers.retrieve(customer_id=missing)
    with pytest.raises(metronome.NotFoundError):
        client.v1.customers.archive(id=missing)
    with pytest.raises(metronome.NotFoundError):
        client.v1.customers.set_name(customer_id=missing, name="x")
    with pytest.raises(metronome.NotFoundError):
        client.v1.customers.set_ingest_aliases(customer_id=missing, ingest_aliases=[])
    with pytest.raises(metronome.NotFoundError):
        client.v1.customers.update_config(customer_id=missing, salesforce_account_id="x")
    with pytest.raises(metronome.NotFoundError):
        list(client.v1.customers.list_billable_metrics(customer_id=missing))


def test_other_tenant_sees_nothing(client: Metronome, intruder: Metronome, uid: str) -> None:
    customer_id = _create(client, uid, ingest_aliases=[f"iso-{uid}"])
    with pytest.raises(metronome.NotFoundError):
        intruder.v1.customers.retrieve(customer_id=customer_id)
    with pytest.raises(metronome.NotFoundError):
        intruder.v1.customers.archive(id=customer_id)
    with pytest.raises(metronome.NotFoundError):
        intruder.v1.customers.set_name(customer_id=customer_id, name="stolen")
    with pytest.raises(metronome.NotFoundError):
        intruder.v1.customers.set_ingest_aliases(customer_id=customer_id, ingest_aliases=[])
    with pytest.raises(metronome.NotFoundError):
        intruder.v1.customers.update_config(customer_id=customer_id, salesforce_account_id="x")
    with pytest.raises(metronome.NotFoundError):
        list(intruder.v1.customers.list_billable_metrics(customer_id=customer_id))
    assert list(intruder.v1.customers.list(customer_ids=[customer_id])) == []
    assert list(intruder.v1.customers.list(ingest_alias=f"iso-{uid}")) == []
    # Aliases are per tenant: the other tenant may use the same alias for its own customer.
    theirs = intruder.v1.customers.create(name="theirs", ingest_aliases=[f"iso-{uid}"]).data
    assert theirs.ingest_aliases == [f"iso-{uid}"]
    assert client.v1.customers.retrieve(customer_id=customer_id).data.name == f"Acme {uid}"
