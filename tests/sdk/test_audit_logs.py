"""The audit log (`GET /v1/auditLogs`) through the official SDK in strict mode, on every backend: one row per
successful mutating call, none for failed, rolled-back, read-only or ingest calls; filters, both sort
orders, cursor pagination; tenant isolation.

Each test runs on its own fresh tenant, so its log holds exactly the calls the test made."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import metronome
import pytest
from metronome import Metronome
from metronome.types.v1 import AuditLogListResponse

from tests.conftest import Running

JAN = datetime(2025, 1, 1, tzinfo=UTC)
MISSING = "00000000-0000-0000-0000-000000000000"


def _tenant(server: Running, name: str) -> tuple[Metronome, httpx.Client]:
    token = server.server.token(name)
    return server.sdk(token), server.http(token)


def _all(client: Metronome, **kw: object) -> list[AuditLogListResponse]:
    return list(client.v1.audit_logs.list(**kw))  # type: ignore[arg-type]


def _trail(rows: list[AuditLogListResponse]) -> list[tuple[str | None, str | None, str | None]]:
    return [(r.action, r.resource_type, r.resource_id) for r in rows]


def test_successful_mutations_are_logged_and_failed_ones_are_not(server: Running, uid: str) -> None:
    client, http = _tenant(server, f"audit-a-{uid}")
    with http:
        customer = client.v1.customers.create(name=f"Acme {uid}").data.id
        contract = client.v1.contracts.create(customer_id=customer, starting_at=JAN).data.id
        client.v2.contracts.edit(customer_id=customer, contract_id=contract, update_contract_name="Renamed")
        client.v1.customers.set_name(customer_id=customer, name=f"Acme Two {uid}")
        client.v1.customers.archive(id=customer)

        # Failures: a validation error, an unknown contract, an edit of a contract that does not exist.
        with pytest.raises(metronome.BadRequestError):
            client.v1.contracts.create(customer_id=customer, starting_at="not a time")
        r = http.post(
            "/v1/contracts/archive",
            json={"customer_id": customer, "contract_id": MISSING, "void_invoices": True},
        )
        assert r.status_code == 404, r.text
        r = http.post(
            "/v2/contracts/edit",
            json={"customer_id": customer, "contract_id": MISSING, "update_contract_name": "x"},
        )
        assert r.status_code == 404, r.text

        # Reads, including read-only POSTs, and ingest leave no row.
        client.v1.customers.retrieve(customer_id=customer)
        client.v1.contracts.list(customer_id=customer)
        client.v2.contracts.retrieve(customer_id=customer, contract_id=contract)
        client.v1.usage.ingest(
            usage=[
                {
                    "transaction_id": f"t-{uid}",
                    "customer_id": customer,
                    "event_type": "e",
                    "timestamp": "2025-01-02T00:00:00Z",
                }
            ]
        )

    rows = _all(client)
    # Exactly the five successful mutations, oldest first (the default sort), each naming its resource.
    assert _trail(rows) == [
        ("customer.create", "customer", customer),
        ("contract.create", "contract", contract),
        ("contract.edit", "contract", contract),
        ("customer.set_name", "customer", customer),
        ("customer.archive", "customer", customer),
    ]
    assert [r.description for r in rows] == [
        "POST /v1/customers",
        "POST /v1/contracts/create",
        "POST /v2/contracts/edit",
        f"POST /v1/customers/{customer}/setName",
        "POST /v1/customers/archive",
    ]
    for row in rows:
        assert row.status == "success"
        assert row.actor is not None
        assert row.actor.name == "cli"  # the label `tally tokens create` gives
        assert row.actor.email is None
        assert row.request.ip == "127.0.0.1"
        assert row.request.user_agent is not None
        assert "Metronome" in row.request.user_agent
    assert len({r.actor.id for r in rows if r.actor}) == 1  # one token made every call
    assert len({r.request.id for r in rows}) == 5  # one request each
    assert len({r.id for r in rows}) == 5
    stamps = [r.timestamp for r in rows]
    assert stamps == sorted(stamps)
    assert all(abs(datetime.now(UTC) - t) < timedelta(minutes=5) for t in stamps)
    # Nothing of the request body is stored: the new name appears nowhere in the log.
    assert not any("Renamed" in r.model_dump_json() for r in rows)


def test_a_rolled_back_request_leaves_no_row(server: Running, uid: str) -> None:
    client, http = _tenant(server, f"audit-r-{uid}")
    with http:
        # The customer row is inserted before the undefined custom field is found, so this 400 rolls back
        # a transaction that had already written.
        with pytest.raises(metronome.BadRequestError):
            client.v1.customers.create(
                name=f"Ghost {uid}", ingest_aliases=[f"ghost-{uid}"], custom_fields={"undefined": "x"}
            )
        assert client.v1.customers.list(ingest_alias=f"ghost-{uid}").data == []
        assert _all(client) == []

        client.v1.custom_fields.add_key(entity="customer", key="tier", enforce_uniqueness=False)
        kept = client.v1.customers.create(name=f"Kept {uid}", custom_fields={"tier": "gold"}).data.id
        client.v1.custom_fields.set_values(
            entity="customer", entity_id=kept, custom_fields={"tier": "silver"}
        )
    assert _trail(_all(client)) == [
        ("custom_field_key.add", "custom_field_key", "tier"),
        ("customer.create", "customer", kept),
        ("custom_field.set_values", "customer", kept),
    ]


def test_sort_pagination_and_filters(server: Running, uid: str) -> None:
    client, http = _tenant(server, f"audit-p-{uid}")
    with http:
        customers = [client.v1.customers.create(name=f"C{i} {uid}").data.id for i in range(5)]
        client.v1.customers.set_name(customer_id=customers[2], name=f"C2 renamed {uid}")
    created = [("customer.create", "customer", c) for c in customers]
    renamed = ("customer.set_name", "customer", customers[2])

    # 6 rows in pages of 2: three pages, the last one without a cursor.
    first = client.v1.audit_logs.list(limit=2)
    assert len(first.data) == 2
    assert first.next_page
    second = client.v1.audit_logs.list(limit=2, next_page=first.next_page)
    assert second.next_page
    third = client.v1.audit_logs.list(limit=2, next_page=second.next_page)
    assert third.next_page is None
    asc = first.data + second.data + third.data
    assert _trail(asc) == [*created, renamed]
    assert _trail(_all(client, limit=2)) == [*created, renamed]  # SDK auto-pagination, same answer

    desc = _all(client, limit=4, sort="date_desc")
    assert _trail(desc) == [renamed, *reversed(created)]
    assert [r.id for r in desc] == [r.id for r in reversed(asc)]

    # Resource filter: both rows about customer 2, and nothing for an id of the wrong type.
    about = _all(client, resource_type="customer", resource_id=customers[2])
    assert _trail(about) == [created[2], renamed]
    assert _all(client, resource_type="contract", resource_id=customers[2]) == []

    # Time window: starting_on is inclusive, ending_before exclusive.
    t2 = asc[2].timestamp
    assert [r.id for r in _all(client, starting_on=t2)] == [r.id for r in asc if r.timestamp >= t2]
    assert [r.id for r in _all(client, ending_before=t2)] == [r.id for r in asc if r.timestamp < t2]
    assert _all(client, starting_on=t2, ending_before=t2) == []
    window = _all(
        client, starting_on=asc[0].timestamp, ending_before=asc[-1].timestamp + timedelta(seconds=1)
    )
    assert [r.id for r in window] == [r.id for r in asc]


@pytest.mark.parametrize(
    "params",
    [
        {"resource_id": "x"},
        {"resource_type": "customer"},
        {"sort": "newest"},
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "ten"},
        {"next_page": "not-a-cursor"},
        {"starting_on": "yesterday"},
        {"ending_before": "2025-13-01T00:00:00Z"},
    ],
    ids=lambda p: "&".join(f"{k}={v}" for k, v in p.items()),
)
def test_bad_parameters_are_400(http: httpx.Client, params: dict[str, str]) -> None:
    r = http.get("/v1/auditLogs", params=params)
    assert r.status_code == 400, r.text
    assert r.json()["message"]


def test_a_cursor_is_bound_to_its_sort_order(server: Running, uid: str) -> None:
    client, http = _tenant(server, f"audit-c-{uid}")
    with http:
        for i in range(3):
            client.v1.customers.create(name=f"S{i} {uid}")
        cursor = client.v1.audit_logs.list(limit=1).next_page
        assert cursor
        r = http.get("/v1/auditLogs", params={"limit": 1, "next_page": cursor, "sort": "date_desc"})
    assert r.status_code == 400, r.text
    assert "sort" in r.json()["message"]


def test_other_tenants_never_see_the_log(server: Running, uid: str) -> None:
    a, ha = _tenant(server, f"audit-ia-{uid}")
    b, hb = _tenant(server, f"audit-ib-{uid}")
    with ha, hb:
        customer = a.v1.customers.create(name=f"Private {uid}").data.id
        # B's attempt on A's customer fails, so it leaves a row in neither log.
        with pytest.raises(metronome.NotFoundError):
            b.v1.customers.set_name(customer_id=customer, name="stolen")
        mine = b.v1.customers.create(name=f"Bravo {uid}").data.id
    assert _trail(_all(b)) == [("customer.create", "customer", mine)]
    assert _all(b, resource_type="customer", resource_id=customer) == []
    assert _trail(_all(a)) == [("customer.create", "customer", customer)]
