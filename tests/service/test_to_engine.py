"""The engine's inputs built from the typed terms (`contracts.terms.to_engine`, issue 13 §1) equal what
`rating.from_wire` builds from the same stored documents: one rule, two entry points."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from tally.contracts import service as contracts
from tally.contracts.balances import ledger
from tally.contracts.balances import service as balances
from tally.contracts.edits import lifecycle
from tally.contracts.edits.schemas import EditContract
from tally.contracts.schemas_create import CreateCustomerCommit
from tally.contracts.terms import model, to_engine
from tally.credit_types.builtin import USD_CENTS_ID
from tally.db.uow import WriteConn
from tally.kit.api import parse
from tally.products import service as products
from tally.products.schemas import CreateProduct
from tally.rating import from_wire
from tally.rating import inputs as ri
from tests.service import factories as f

START = datetime(2026, 3, 1, tzinfo=UTC)
MID = START + timedelta(days=180)
END = START + timedelta(days=365)
NOW = datetime(2026, 3, 2, tzinfo=UTC)
AT = START + timedelta(days=40)


def _product(conn: WriteConn, tenant_id: str, kind: str) -> str:
    return products.create(
        conn, tenant_id, parse(CreateProduct, {"name": kind.title(), "type": kind}), NOW, "t"
    )


def _segments(*amounts: int) -> dict[str, Any]:
    """Access segments of `amounts`, the first in [START, MID), the next in [MID, END)."""
    bounds = [(START, MID), (MID, END)]
    return {
        "schedule_items": [
            {"amount": a, "starting_at": f.iso(lo), "ending_before": f.iso(hi)}
            for a, (lo, hi) in zip(amounts, bounds, strict=False)
        ]
    }


def _body(product: str, fixed: str, sub: str) -> dict[str, Any]:
    return {
        "ending_before": f.iso(END),
        "net_payment_terms_days": 45,
        "scheduled_charges_on_usage_invoices": "ALL",
        "multiplier_override_prioritization": "EXPLICIT",
        "usage_statement_schedule": {
            "frequency": "MONTHLY",
            "day": "CUSTOM_DATE",
            "billing_anchor_date": f.iso(START + timedelta(days=9)),
        },
        "commits": [
            {
                "type": "PREPAID",
                "product_id": fixed,
                "temporary_id": "tmp-commit",
                "access_schedule": _segments(10000, 5000),
                "invoice_schedule": {
                    "schedule_items": [
                        {"timestamp": f.iso(START), "unit_price": 4500, "quantity": 1},
                        {"timestamp": f.iso(MID), "amount": 4500},
                    ]
                },
                "applicable_product_ids": [product],
                "priority": 2,
                "rollover_fraction": "0.5",
                "rate_type": "COMMIT_RATE",
                "name": "prepaid",
            },
            {
                "type": "POSTPAID",
                "product_id": fixed,
                "access_schedule": _segments(20000),
                "invoice_schedule": {
                    "schedule_items": [{"timestamp": f.iso(END - timedelta(days=1)), "amount": 20000}]
                },
                "specifiers": [
                    {"product_id": product, "pricing_group_values": {"region": "eu"}},
                    {"product_tags": ["api"], "presentation_group_values": {"region": "us"}},
                ],
            },
        ],
        "credits": [
            {
                "product_id": fixed,
                "access_schedule": {**_segments(700, 300), "credit_type_id": USD_CENTS_ID},
                "applicable_product_tags": ["api"],
                "priority": 1,
                "name": "credit",
            }
        ],
        "overrides": [
            {"starting_at": f.iso(START), "product_id": product, "multiplier": "0.9", "priority": 3},
            {
                "starting_at": f.iso(START),
                "ending_before": f.iso(MID),
                "product_id": product,
                "type": "OVERWRITE",
                "overwrite_rate": {"rate_type": "TIERED", "tiers": [{"price": 2, "size": 100}, {"price": 1}]},
                "priority": 1,
            },
            {
                "starting_at": f.iso(MID),
                "override_specifiers": [
                    {
                        "product_id": product,
                        "pricing_group_values": {"region": "eu"},
                        "billing_frequency": "MONTHLY",
                    }
                ],
                "type": "TIERED",
                "tiers": [{"multiplier": "1", "size": 1000}, {"multiplier": "0.8"}],
                "priority": 2,
            },
            {
                "starting_at": f.iso(START),
                "override_specifiers": [{"product_id": product, "commit_ids": ["tmp-commit"]}],
                "is_commit_specific": True,
                "target": "COMMIT_RATE",
                "type": "OVERWRITE",
                "overwrite_rate": {"rate_type": "FLAT", "price": 3, "is_prorated": False},
                "priority": 4,
            },
            {"starting_at": f.iso(START), "applicable_product_tags": ["beta"], "entitled": False},
        ],
        "scheduled_charges": [
            {
                "product_id": fixed,
                "name": "setup",
                "schedule": {
                    "schedule_items": [{"timestamp": f.iso(START), "unit_price": 500, "quantity": 2}]
                },
            },
            {
                "product_id": fixed,
                "schedule": {
                    "recurring_schedule": {
                        "amount_distribution": "EACH",
                        "frequency": "MONTHLY",
                        "starting_at": f.iso(START),
                        "ending_before": f.iso(START + timedelta(days=92)),
                        "unit_price": 100,
                        "quantity": 3,
                    }
                },
            },
        ],
        "discounts": [
            {
                "product_id": fixed,
                "schedule": {"schedule_items": [{"timestamp": f.iso(START), "amount": 100}]},
            }
        ],
        **f.recurring_templates(fixed, START),
        "subscriptions": [
            {
                "collection_schedule": "ADVANCE",
                "proration": {
                    "invoice_behavior": "BILL_ON_NEXT_COLLECTION_DATE",
                    "is_prorated": True,
                    "rounding": {"decimal_places": 2, "rounding_method": "FLOOR"},
                },
                "subscription_rate": {"billing_frequency": "MONTHLY", "product_id": sub},
                "initial_quantity": 3,
                "name": "seats",
                "billing_cycle_config": {"invoice_placement": "ON_SCHEDULED_INVOICE"},
            },
            {
                "collection_schedule": "ARREARS",
                "proration": {"is_prorated": False},
                "quantity_management_mode": "SEAT_BASED",
                "seat_config": {"initial_seat_ids": ["a", "b"], "seat_group_key": "seat"},
                "subscription_rate": {"billing_frequency": "ANNUAL", "product_id": sub},
                "starting_at": f.iso(START + timedelta(days=14)),
                "ending_before": f.iso(END),
            },
        ],
    }


def _rich(conn: WriteConn) -> tuple[f.Catalog, contracts.Contract]:
    c = f.catalog(conn, NOW, START, {"rate_type": "FLAT", "price": 4})
    customer = f.customer(conn, c, NOW, "engine")
    fixed = _product(conn, c.tenant.id, "FIXED")
    sub = _product(conn, c.tenant.id, "SUBSCRIPTION")
    cid = f.contract(conn, c, customer, START, NOW, **_body(c.product_id, fixed, sub))
    contract = contracts.get(conn, c.tenant.id, customer, cid)
    subscription = contract.parsed.subscriptions[0].id
    edit = {
        "customer_id": customer,
        "contract_id": cid,
        "update_subscriptions": [
            {
                "subscription_id": subscription,
                "quantity_updates": [
                    {"starting_at": f.iso(START + timedelta(days=31)), "quantity": 5},
                    {"starting_at": f.iso(START + timedelta(days=61)), "quantity_delta": -1},
                ],
            }
        ],
    }
    lifecycle.edit(conn, c.tenant.id, parse(EditContract, edit), NOW, "t")
    for body in (
        {"applicable_contract_ids": [cid]},  # customer-level, for this contract
        {},  # customer-level, for every contract of the customer
    ):
        req = {
            "customer_id": customer,
            "type": "PREPAID",
            "product_id": fixed,
            "priority": 5,
            "access_schedule": {**_segments(4000), "credit_type_id": USD_CENTS_ID},
            **body,
        }
        balances.create_customer_balance(conn, c.tenant.id, parse(CreateCustomerCommit, req), "commit", NOW)
    contract = contracts.get(conn, c.tenant.id, customer, cid)
    # What finalized invoices drew: part of the first segment of every balance.
    drawn = [
        ledger.Deduction(
            b.id, b.parsed.access_schedule.schedule_items[0].id, Decimal(n + 1) * 100, AT, "inv-1", cid
        )
        for n, b in enumerate(contract.balances)
    ]
    ledger.record_deductions(conn, c.tenant.id, drawn, NOW)
    return c, contract


def test_the_typed_terms_give_the_engine_what_from_wire_gives(conn: WriteConn) -> None:
    c, contract = _rich(conn)
    tenant, customer = c.tenant.id, contract.customer_id
    docs = ledger.balances_for(conn, tenant, customer, contract.id, AT)
    commits = ledger.commits_for(conn, tenant, customer, contract.id, AT)
    assert len(commits) >= 7  # two commits, a credit, recurring children, two customer-level commits
    assert {ri.CommitType.PREPAID, ri.CommitType.POSTPAID, ri.CommitType.CREDIT} <= {k.type for k in commits}
    assert any(s.consumed > 0 for k in commits for s in k.access_schedule)
    customer_level = [k.applicable_contract_ids for k in commits if k.applicable_contract_ids is not None]
    assert sorted(customer_level) == [(), (contract.id,)]

    wire = {
        **contract.terms,
        "commits": [d for d in docs if d["type"] != ri.CommitType.CREDIT],
        "credits": [d for d in docs if d["type"] == ri.CommitType.CREDIT],
    }
    expected = from_wire.contract_from_wire(wire, {"id": "card", "rates": []}, [])
    got = to_engine.contract(contract.parsed, expected.rate_card, expected.products, commits)
    assert got.subscriptions[0].quantity_updates  # the edit's quantity updates are there
    assert got.subscriptions[0].proration_rounding is not None
    overwrite, tiered = ri.OverrideType.OVERWRITE, ri.OverrideType.TIERED
    assert [o.type for o in got.overrides] == [ri.OverrideType.MULTIPLIER, overwrite, tiered, overwrite, None]
    assert got.overrides[2].tiers
    assert got.overrides[3].commit_ids  # the specifier's temporary id, resolved
    assert len(got.scheduled_charges[1].schedule.schedule_items) > 1  # a recurring schedule, expanded
    assert got.usage_statement_schedule.billing_anchor_date is not None
    for name in ri.Contract.__dataclass_fields__:
        assert getattr(got, name) == getattr(expected, name), name
    assert got == expected


@pytest.mark.parametrize("field", ["overrides", "subscriptions", "scheduled_charges", "discounts"])
def test_each_piece_converts_as_from_wire_does(conn: WriteConn, field: str) -> None:
    _, contract = _rich(conn)
    wire = from_wire.contract_from_wire(contract.terms, {"id": "card", "rates": []}, [])
    typed = to_engine.contract(contract.parsed, wire.rate_card, wire.products)
    assert getattr(typed, field) == getattr(wire, field)
    assert getattr(typed, field)


def test_a_balance_without_ledger_amounts_is_its_stored_grant(conn: WriteConn) -> None:
    _, contract = _rich(conn)
    for b in contract.balances:
        kind = model.CommitType(b.kind)
        assert to_engine.commit(b.parsed, kind) == from_wire.commit_from_wire(b.doc, kind), b.kind
