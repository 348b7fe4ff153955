"""Customer-level commits and credits, manual ledger entries, balance lists and net balance through the
official SDK in strict mode, on every backend (SPEC §5.4, §7). Figures are hand-computed below.

The server runs on the real clock, so active segments span [2025-01-01, 2030-01-01) and expired ones end
in 2025."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import metronome
import pytest
from metronome import Metronome
from sqlalchemy import select

from tally.contracts.balances.ledger import Deduction, balances_for, record_deductions
from tally.db import uow
from tally.db.engine import make_engine
from tally.models.tenants import tenants
from tally.settings import sqlite_url
from tests.conftest import Running
from tests.sdk.test_contracts import FAR, FEB, JAN, MISSING, USD, Catalog, iso, make_catalog


@pytest.fixture
def cat(client: Metronome, uid: str) -> Catalog:
    return make_catalog(client, uid)


def _seg(amount: int, start: datetime = JAN, end: datetime = FAR) -> Any:
    return {"amount": amount, "starting_at": iso(start), "ending_before": iso(end)}


def test_customer_commits_credits_and_net_balance(client: Metronome, cat: Catalog, uid: str) -> None:
    contract = client.v1.contracts.create(customer_id=cat.customer, starting_at=JAN).data.id
    commit = client.v1.customers.commits.create(
        customer_id=cat.customer,
        type="PREPAID",
        product_id=cat.fixed,
        priority=1,
        access_schedule={"schedule_items": [_seg(10000)]},
        invoice_schedule={"schedule_items": [{"timestamp": iso(JAN), "amount": 9000}]},
        invoice_contract_id=contract,
        uniqueness_key=f"cc-{uid}",
    ).data.id
    credit = client.v1.customers.credits.create(
        customer_id=cat.customer,
        product_id=cat.fixed,
        priority=2,
        access_schedule={"schedule_items": [_seg(2500)]},
        applicable_contract_ids=[contract],
    ).data.id
    expired = client.v1.customers.credits.create(
        customer_id=cat.customer,
        product_id=cat.fixed,
        priority=2,
        access_schedule={"schedule_items": [_seg(700, JAN, FEB)]},
    ).data.id
    # a contract-level credit counts too
    client.v1.contracts.create(
        customer_id=cat.customer,
        starting_at=JAN,
        credits=[{"product_id": cat.fixed, "access_schedule": {"schedule_items": [_seg(300)]}}],
    )
    commits = list(client.v1.customers.commits.list(customer_id=cat.customer, include_balance=True))
    assert [(c.id, c.balance, c.cost_basis) for c in commits] == [(commit, 10000, 0.9)]
    credits = client.v1.customers.credits.list(
        customer_id=cat.customer, include_ledgers=True, include_balance=True
    ).data
    assert [c.id for c in credits] == [credit, expired]
    assert credits[0].applicable_contract_ids == [contract]
    assert credits[1].balance == 0
    assert [(e.type, e.amount) for e in credits[1].ledger or []] == [
        ("CREDIT_SEGMENT_START", 700),
        ("CREDIT_EXPIRATION", -700),
    ]
    with_contract = client.v1.customers.credits.list(
        customer_id=cat.customer, include_contract_credits=True
    ).data
    assert len(with_contract) == 3

    # 10,000 + 2,500 + 300 (the expired 700 counts 0)
    assert client.v1.contracts.get_net_balance(customer_id=cat.customer).data.balance == 12800
    only_credits = client.v1.contracts.get_net_balance(
        customer_id=cat.customer, filters=[{"balance_types": ["CREDIT"]}]
    ).data
    assert only_credits.balance == 2800
    assert only_credits.credit_type_id == USD
    by_id = client.v1.contracts.get_net_balance(customer_id=cat.customer, filters=[{"ids": [commit]}]).data
    assert by_id.balance == 10000

    # manual entries: -4,000 then -7,000 (clamped at 0), idempotent by uniqueness_key
    seg_id = commits[0].access_schedule.schedule_items[0].id  # type: ignore[union-attr]
    client.v1.contracts.add_manual_balance_entry(
        id=commit,
        customer_id=cat.customer,
        segment_id=seg_id,
        amount=-4000,
        reason="goodwill",
        uniqueness_key=f"m-{uid}",
    )
    with pytest.raises(metronome.ConflictError):
        client.v1.contracts.add_manual_balance_entry(
            id=commit,
            customer_id=cat.customer,
            segment_id=seg_id,
            amount=-4000,
            reason="goodwill",
            uniqueness_key=f"m-{uid}",
        )
    listed = client.v1.contracts.list_balances(
        customer_id=cat.customer, id=commit, include_balance=True, include_ledgers=True
    ).data
    assert listed[0].balance == 6000
    assert [(e.type, e.amount) for e in listed[0].ledger or []] == [
        ("PREPAID_COMMIT_SEGMENT_START", 10000),
        ("PREPAID_COMMIT_MANUAL", -4000),
    ]
    client.v1.contracts.add_manual_balance_entry(
        id=commit, customer_id=cat.customer, segment_id=seg_id, amount=-7000, reason="x"
    )
    assert (
        client.v1.contracts.get_net_balance(
            customer_id=cat.customer, filters=[{"ids": [commit]}]
        ).data.balance
        == 0
    )
    assert client.v1.contracts.get_net_balance(customer_id=cat.customer).data.balance == 2800

    # updateEndDate shortens access: ends before now → nothing usable
    client.v1.customers.credits.update_end_date(
        customer_id=cat.customer, credit_id=credit, access_ending_before=FEB
    )
    got = client.v1.customers.credits.list(
        customer_id=cat.customer, credit_id=credit, include_balance=True
    ).data[0]
    assert got.access_schedule is not None
    assert got.access_schedule.schedule_items[0].ending_before == FEB
    assert got.balance == 0


def test_list_balances_pages(client: Metronome, cat: Catalog) -> None:
    ids = [
        client.v1.customers.credits.create(
            customer_id=cat.customer,
            product_id=cat.fixed,
            priority=1,
            access_schedule={"schedule_items": [_seg(i + 1)]},
        ).data.id
        for i in range(5)
    ]
    first = client.v1.contracts.list_balances(customer_id=cat.customer, limit=2)
    assert len(first.data) == 2
    assert first.next_page
    assert [b.id for b in client.v1.contracts.list_balances(customer_id=cat.customer, limit=2)] == ids


def test_bad_balance_bodies(client: Metronome, cat: Catalog, http: httpx.Client) -> None:
    base = {
        "customer_id": cat.customer,
        "product_id": cat.fixed,
        "priority": 1,
        "access_schedule": {"schedule_items": [_seg(10)]},
    }
    contract = client.v1.contracts.create(customer_id=cat.customer, starting_at=JAN).data.id
    cases = [
        ("/v1/contracts/customerCommits/create", {**base, "type": "POSTPAID"}, "invoice_contract_id"),
        (
            "/v1/contracts/customerCommits/create",
            {
                **base,
                "type": "PREPAID",
                "invoice_schedule": {"schedule_items": [{"timestamp": iso(JAN), "amount": 5}]},
            },
            "invoice_contract_id",
        ),
        (
            "/v1/contracts/customerCommits/create",
            {**base, "type": "PREPAID", "product_id": cat.usage},
            "FIXED",
        ),
        (
            "/v1/contracts/customerCredits/create",
            {**base, "applicable_contract_ids": [MISSING]},
            "applicable_contract_ids",
        ),
        ("/v1/contracts/customerCredits/create", {**base, "priority": 0}, "priority"),
        (
            "/v1/contracts/customerCredits/create",
            {**base, "access_schedule": {"schedule_items": []}},
            "segment",
        ),
        (
            "/v1/contracts/customerBalances/getNetBalance",
            {"customer_id": cat.customer, "access_type": "QUANTITY", "credit_type_id": USD},
            "credit_type_id",
        ),
    ]
    for path, body, needle in cases:
        r = http.post(path, json=body)
        assert r.status_code == 400, (path, body, r.text)
        assert needle in r.json()["message"]
    assert (
        client.v1.contracts.list_balances(customer_id=cat.customer, include_contract_balances=False).data
        == []
    )
    del contract


def test_balances_cross_tenant(client: Metronome, intruder: Metronome, cat: Catalog) -> None:
    credit = client.v1.customers.credits.create(
        customer_id=cat.customer,
        product_id=cat.fixed,
        priority=1,
        access_schedule={"schedule_items": [_seg(100)]},
    ).data.id
    with pytest.raises(metronome.NotFoundError):
        intruder.v1.customers.credits.list(customer_id=cat.customer)
    with pytest.raises(metronome.NotFoundError):
        intruder.v1.contracts.get_net_balance(customer_id=cat.customer)
    with pytest.raises(metronome.NotFoundError):
        intruder.v1.contracts.add_manual_balance_entry(
            id=credit, customer_id=cat.customer, segment_id=credit, amount=-1, reason="x"
        )
    with pytest.raises(metronome.NotFoundError):
        intruder.v1.customers.credits.update_end_date(
            customer_id=cat.customer, credit_id=credit, access_ending_before=FEB
        )
    assert client.v1.contracts.get_net_balance(customer_id=cat.customer).data.balance == 100


def test_ledger_interface_for_invoices(server: Running, client: Metronome, cat: Catalog) -> None:
    """record_deductions / balances_for: what the invoice layer will call, checked against the API."""

    cid = client.v1.contracts.create(
        customer_id=cat.customer,
        starting_at=JAN,
        credits=[{"product_id": cat.fixed, "access_schedule": {"schedule_items": [_seg(1000)]}}],
    ).data.id
    credit = client.v2.contracts.retrieve(customer_id=cat.customer, contract_id=cid).data.credits[0]  # type: ignore[index]
    seg = credit.access_schedule.schedule_items[0].id  # type: ignore[union-attr]
    env = server.server.env
    url = env.get("TALLY_DATABASE_URL") or sqlite_url(Path(env["TALLY_DATA_DIR"]))
    engine = make_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with uow.read(engine) as conn:
        tenant = str(conn.execute(select(tenants.c.id).where(tenants.c.name == "alpha")).scalar_one())
    now = datetime.now(UTC)  # the server under test runs on the real clock too
    with uow.write(engine) as conn:
        record_deductions(conn, tenant, [Deduction(credit.id, seg, Decimal(630), FEB, "inv-1", cid)], now)
    with uow.read(engine) as conn:
        docs = balances_for(conn, tenant, cat.customer, cid, now)
    engine.dispose()
    assert [(d["id"], d["access_schedule"]["schedule_items"][0]["consumed"]) for d in docs] == [
        (credit.id, 630)
    ]
    got = client.v2.contracts.retrieve(
        customer_id=cat.customer, contract_id=cid, include_ledgers=True, include_balance=True
    ).data
    c = got.credits[0]  # type: ignore[index]
    assert c.balance == 370
    assert [(e.type, e.amount) for e in c.ledger or []] == [
        ("CREDIT_SEGMENT_START", 1000),
        ("CREDIT_AUTOMATED_INVOICE_DEDUCTION", -630),
    ]
