"""The typed terms (issue 13 §1): documents written by the existing terms normalization parse into
`contracts.terms.model` values and dump back to the same JSON, so stored documents need no migration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from tally.contracts import service as contracts
from tally.contracts.terms import model
from tally.credit_types.builtin import USD_CENTS_ID
from tally.db.uow import WriteConn
from tally.kit.api import parse
from tally.products import service as products
from tally.products.schemas import CreateProduct
from tally.wire import decode_json, encode_json
from tests.service import factories as f

START = datetime(2026, 3, 1, tzinfo=UTC)
END = START + timedelta(days=365)
NOW = datetime(2026, 3, 2, tzinfo=UTC)


def _product(conn: WriteConn, tenant_id: str, kind: str) -> str:
    body = {"name": kind.title(), "type": kind}
    return products.create(conn, tenant_id, parse(CreateProduct, body), NOW, "t")


def _rich_contract(conn: WriteConn) -> contracts.Contract:
    c = f.catalog(conn, NOW, START, {"rate_type": "FLAT", "price": 4})
    customer = f.customer(conn, c, NOW, "typed")
    fixed = _product(conn, c.tenant.id, "FIXED")
    sub = _product(conn, c.tenant.id, "SUBSCRIPTION")
    pro = _product(conn, c.tenant.id, "PRO_SERVICE")
    access = {"schedule_items": [{"amount": 10000, "starting_at": f.iso(START), "ending_before": f.iso(END)}]}
    body: dict[str, Any] = {
        "ending_before": f.iso(END),
        "name": "typed",
        "net_payment_terms_days": 30,
        "salesforce_opportunity_id": "sf-1",
        "usage_statement_schedule": {"frequency": "MONTHLY", "day": "CONTRACT_START"},
        "commits": [
            {
                "type": "PREPAID",
                "product_id": fixed,
                "temporary_id": "tmp-commit",
                "access_schedule": access,
                "invoice_schedule": {
                    "recurring_schedule": {
                        "amount_distribution": "DIVIDED",
                        "frequency": "QUARTERLY",
                        "starting_at": f.iso(START),
                        "ending_before": f.iso(END),
                        "amount": 9000,
                    }
                },
                "applicable_product_ids": [c.product_id],
                "priority": 2,
                "rollover_fraction": "0.5",
                "description": "prepaid",
            },
            {
                "type": "POSTPAID",
                "product_id": fixed,
                "access_schedule": access,
                "invoice_schedule": {
                    "schedule_items": [{"timestamp": f.iso(END - timedelta(days=1)), "amount": 10000}]
                },
                "specifiers": [{"product_id": c.product_id, "pricing_group_values": {"region": "eu"}}],
            },
        ],
        "credits": [
            {
                "product_id": fixed,
                "access_schedule": {**access, "credit_type_id": USD_CENTS_ID},
                "applicable_product_tags": ["api"],
                "rate_type": "COMMIT_RATE",
                "name": "credit",
            }
        ],
        "overrides": [
            {"starting_at": f.iso(START), "product_id": c.product_id, "multiplier": "0.9"},
            {
                "starting_at": f.iso(START),
                "ending_before": f.iso(END),
                "product_id": c.product_id,
                "type": "OVERWRITE",
                "overwrite_rate": {"rate_type": "FLAT", "price": 3},
                "priority": 1,
            },
            {
                "starting_at": f.iso(START),
                "override_specifiers": [{"product_id": c.product_id, "commit_ids": ["tmp-commit"]}],
                "is_commit_specific": True,
                "type": "OVERWRITE",
                "overwrite_rate": {"rate_type": "TIERED", "tiers": [{"price": 2, "size": 100}, {"price": 1}]},
            },
        ],
        "scheduled_charges": [
            {
                "product_id": fixed,
                "name": "setup",
                "schedule": {
                    "schedule_items": [{"timestamp": f.iso(START), "unit_price": 500, "quantity": 2}]
                },
            }
        ],
        "discounts": [
            {
                "product_id": fixed,
                "schedule": {"schedule_items": [{"timestamp": f.iso(START), "amount": 100}]},
            }
        ],
        "professional_services": [
            {
                "product_id": pro,
                "max_amount": 1000,
                "quantity": 2,
                "unit_price": 300,
                "description": "onboarding",
            }
        ],
        **f.recurring_templates(fixed, START),
        "subscriptions": [
            {
                "collection_schedule": "ADVANCE",
                "proration": {"invoice_behavior": "BILL_IMMEDIATELY", "is_prorated": True},
                "subscription_rate": {"billing_frequency": "MONTHLY", "product_id": sub},
                "initial_quantity": 3,
                "name": "seats",
            },
            {
                "collection_schedule": "ARREARS",
                "proration": {},
                "subscription_rate": {"billing_frequency": "ANNUAL", "product_id": sub},
                "quantity_management_mode": "SEAT_BASED",
                "seat_config": {"initial_seat_ids": ["a", "b"], "seat_group_key": "seat"},
            },
        ],
    }
    contract_id = f.contract(conn, c, customer, START, NOW, **body)
    return contracts.get(conn, c.tenant.id, customer, contract_id)


def _stored(value: Any) -> Any:
    """What the JSON column gives back: the stored bytes decoded."""
    return decode_json(encode_json(value))


def test_stored_documents_round_trip_through_the_typed_terms(conn: WriteConn) -> None:
    contract = _rich_contract(conn)
    terms = model.parse(contract.terms, model.Terms)
    assert _stored(model.dump(terms)) == contract.terms
    # Two commits, a credit, and the recurring templates' children.
    assert {b.kind for b in contract.balances} == {"PREPAID", "POSTPAID", "CREDIT"}
    for b in contract.balances:
        parsed = model.parse(b.doc, model.Balance)
        assert parsed.type == model.CommitType(b.kind)
        assert _stored(model.dump(parsed)) == b.doc, b.kind


def test_the_edge_values_are_the_parsed_documents(conn: WriteConn) -> None:
    contract = _rich_contract(conn)
    assert contract.parsed == model.parse(contract.terms, model.Terms)
    assert contract.parsed.usage_statement_schedule.day is model.AnchorDay.CONTRACT_START
    assert [o.type for o in contract.parsed.overrides] == [
        model.OverrideType.MULTIPLIER,
        model.OverrideType.OVERWRITE,
        model.OverrideType.OVERWRITE,
    ]
    for b in contract.balances:
        assert b.parsed == model.parse(b.doc, model.Balance)


@pytest.mark.parametrize(
    ("doc", "kind"),
    [
        ({"id": "i", "timestamp": "2026-01-01T00:00:00Z", "amount": 5}, model.ScheduleItem),
        (
            {"id": "i", "timestamp": "2026-01-01T00:00:00.250Z", "unit_price": Decimal("0.1"), "quantity": 3},
            model.ScheduleItem,
        ),
        ({"access_type": "QUANTITY", "schedule_items": []}, model.AccessSchedule),
        ({"rate_type": "CUSTOM", "custom_rate": {"a": [1, {"b": None}]}}, model.OverwriteRate),
        (
            {"frequency": "ANNUAL", "day": "CUSTOM_DATE", "billing_anchor_date": "2026-02-03T04:00:00Z"},
            model.UsageStatementSchedule,
        ),
    ],
)
def test_pieces_round_trip(doc: dict[str, Any], kind: type[model._Value]) -> None:
    assert _stored(model.dump(model.parse(_stored(doc), kind))) == _stored(doc)


def test_as_of_reads_the_typed_snapshot(conn: WriteConn) -> None:
    contract = _rich_contract(conn)
    tenant_id = conn.execute(
        text("select tenant_id from contracts where id = :id"), {"id": contract.id}
    ).scalar()
    assert tenant_id is not None
    then = contracts.get_as_of(conn, tenant_id, contract.customer_id, contract.id, NOW)
    assert (then.starting_at, then.ending_before, then.rate_card_id, then.archived_at) == (
        contract.starting_at,
        contract.ending_before,
        contract.rate_card_id,
        None,
    )
    assert then.parsed == contract.parsed
    assert sorted((b.id, b.kind, b.created_at) for b in then.balances) == sorted(
        (b.id, b.kind, b.created_at) for b in contract.balances
    )
    assert [b.parsed for b in sorted(then.balances, key=lambda b: b.id)] == [
        b.parsed for b in sorted(contract.balances, key=lambda b: b.id)
    ]
