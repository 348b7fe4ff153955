"""The invoices service in process, checked line by line (issue 13 §8): product, quantity, unit price,
amount and group values of every line, not only totals. Figures are worked out by hand in comments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from tally.db.uow import WriteConn
from tally.invoices import service as invoices
from tally.invoices.finalizer import PassResult, finalize_contracts
from tally.invoices.inputs import Catalog, Loader
from tests.service import factories as f

START = datetime(2026, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 1, 20, tzinfo=UTC)  # inside January: January's usage invoice is a draft


def _usage_doc(conn: WriteConn, tenant_id: str, customer_id: str, now: datetime) -> dict[str, Any]:
    loader = Loader(conn, tenant_id)
    (entry,) = [
        e
        for e in invoices.entries(conn, loader, tenant_id, customer_id, now)
        if e.key.start == START and e.key.kind == "USAGE"
    ]
    doc = entry.materialize(loader, now)
    doc["_id"] = entry.id
    return doc


def _lines(doc: dict[str, Any]) -> list[tuple[Any, ...]]:
    return sorted(
        (
            li["product_id"],
            Decimal(str(li["quantity"])),
            Decimal(str(li["unit_price"])),
            Decimal(str(li["total"])),
            tuple(sorted((li.get("presentation_group_values") or {}).items())),
        )
        for li in doc["line_items"]
        if li.get("type") == "usage"
    )


def test_a_flat_rate_bills_each_region_on_its_own_line(conn: WriteConn) -> None:
    c = f.catalog(conn, NOW, START, {"rate_type": "FLAT", "price": 3})
    customer = f.customer(conn, c, NOW, "acme")
    f.contract(conn, c, customer, START, NOW)
    f.usage(
        conn,
        c,
        "acme",
        NOW,
        [
            (START + timedelta(hours=1), {"units": 60, "region": "us"}),
            (START + timedelta(hours=2), {"units": 30, "region": "eu"}),
            (START + timedelta(days=3), {"units": "40", "region": "us"}),
        ],
    )
    doc = _usage_doc(conn, c.tenant.id, customer, NOW)
    # us: 60 + 40 = 100 units x 3 cents = 300; eu: 30 x 3 = 90. Total 390 cents.
    assert _lines(doc) == sorted(
        [
            (c.product_id, Decimal(100), Decimal(3), Decimal(300), (("region", "us"),)),
            (c.product_id, Decimal(30), Decimal(3), Decimal(90), (("region", "eu"),)),
        ]
    )
    assert Decimal(str(doc["total"])) == Decimal(390)
    assert doc["status"] == "DRAFT"


def test_a_tiered_rate_splits_the_line_into_its_tiers(conn: WriteConn) -> None:
    tiers = {"rate_type": "TIERED", "tiers": [{"price": 2, "size": 100}, {"price": 1}]}
    c = f.catalog(conn, NOW, START, tiers, by_region=False)
    customer = f.customer(conn, c, NOW, "tiered")
    f.contract(conn, c, customer, START, NOW)
    f.usage(
        conn,
        c,
        "tiered",
        NOW,
        [(START + timedelta(hours=h), {"units": 50, "region": "us"}) for h in range(1, 4)],
    )
    doc = _usage_doc(conn, c.tenant.id, customer, NOW)
    (line,) = [li for li in doc["line_items"] if li.get("type") == "usage"]
    # 3 x 50 = 150 units: tier 1 holds 100 x 2 = 200 cents, tier 2 holds 50 x 1 = 50 cents; 250 in all.
    assert line["product_id"] == c.product_id
    assert Decimal(str(line["quantity"])) == Decimal(150)
    assert Decimal(str(line["total"])) == Decimal(250)
    tier_rows = [t for sub in line["sub_line_items"] for t in sub["tiers"]]
    assert [
        (
            Decimal(str(t["starting_at"])),
            Decimal(str(t["quantity"])),
            Decimal(str(t["price"])),
            Decimal(str(t["subtotal"])),
        )
        for t in tier_rows
    ] == [
        (Decimal(0), Decimal(100), Decimal(2), Decimal(200)),
        (Decimal(100), Decimal(50), Decimal(1), Decimal(50)),
    ]


def test_finalize_void_and_regenerate_in_process(conn: WriteConn) -> None:
    c = f.catalog(conn, NOW, START, {"rate_type": "FLAT", "price": 5})
    customer = f.customer(conn, c, NOW, "cycle")
    contract_id = f.contract(conn, c, customer, START, NOW)
    f.usage(conn, c, "cycle", NOW, [(START + timedelta(hours=5), {"units": 7, "region": "us"})])
    # After January and its grace period (24 hours by default) the worker's pass finalizes it.
    later = datetime(2026, 2, 2, tzinfo=UTC)
    result = PassResult()
    finalize_contracts(
        conn, c.tenant.id, [contract_id], later, invoices.grace(conn, c.tenant.id), Catalog(), result
    )
    assert result.finalized >= 1
    doc = _usage_doc(conn, c.tenant.id, customer, later)
    assert doc["status"] == "FINALIZED"
    # 7 units x 5 cents = 35 cents, on one line.
    assert _lines(doc) == [(c.product_id, Decimal(7), Decimal(5), Decimal(35), (("region", "us"),))]
    invoices.void(conn, c.tenant.id, doc["_id"], later)
    assert _usage_doc(conn, c.tenant.id, customer, later)["status"] == "VOID"
    new_id = invoices.regenerate(conn, c.tenant.id, doc["_id"], later)
    assert new_id != doc["_id"]
    loader = Loader(conn, c.tenant.id)
    regenerated = invoices.find(conn, loader, c.tenant.id, customer, new_id, later)
    # Its period is past due (January plus the grace period), so the regenerated invoice is finalized at
    # once, with the same lines (nothing changed underneath).
    assert regenerated.status == "FINALIZED"
    assert _lines(regenerated.materialize(loader, later)) == _lines(doc)
