"""A multi-step v2 edit in process (issue 13 §1, §5): the contract's typed terms pass through
`lifecycle.EDIT_STEPS` and are stored once; the stored document parses back into the terms the steps
built."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import text

from tally.contracts import service as contracts
from tally.contracts.edits import lifecycle
from tally.contracts.edits.schemas import EditContract
from tally.contracts.terms import model
from tally.db.uow import WriteConn
from tally.kit.api import parse
from tests.service import factories as f
from tests.service.test_terms_model import END, NOW, START, _rich_contract

LATER = START + timedelta(days=31)


def test_a_multi_step_edit_changes_the_typed_terms(conn: WriteConn) -> None:
    before = _rich_contract(conn)
    tid = conn.execute(text("select tenant_id from contracts where id = :id"), {"id": before.id}).scalar_one()
    terms = before.parsed
    charge, removed = terms.scheduled_charges[0], terms.overrides[0]
    usage_product = removed.product_id
    assert usage_product is not None
    sub, rc = terms.subscriptions[0], terms.recurring_commits[0]
    body = {
        "customer_id": before.customer_id,
        "contract_id": before.id,
        "add_overrides": [{"starting_at": f.iso(START), "product_id": usage_product, "multiplier": "0.8"}],
        "remove_overrides": [{"id": removed.id}],
        "archive_scheduled_charges": [{"id": charge.id}],
        "update_contract_name": "edited",
        "update_recurring_commits": [{"recurring_commit_id": rc.id, "access_amount": {"unit_price": 1500}}],
        "update_subscriptions": [
            {"subscription_id": sub.id, "quantity_updates": [{"starting_at": f.iso(LATER), "quantity": 5}]}
        ],
        "update_contract_end_date": f.iso(END - timedelta(days=30)),
    }
    lifecycle.edit(conn, tid, parse(EditContract, body), NOW + timedelta(hours=1), "test")

    after = contracts.get(conn, tid, before.customer_id, before.id)
    got = after.parsed
    assert got.name == "edited"
    assert got.ending_before == END - timedelta(days=30)
    assert after.ending_before == got.ending_before
    # remove_overrides drops the override; add_overrides appends a typed one.
    assert [o.id for o in got.overrides[:-1]] == [o.id for o in terms.overrides[1:]]
    added = got.overrides[-1]
    assert (added.type, added.multiplier, added.product_id) == (
        model.OverrideType.MULTIPLIER,
        Decimal("0.8"),
        usage_product,
    )
    # archive_scheduled_charges keeps the charge, archived; the other pieces are untouched.
    assert got.scheduled_charges[0].archived_at is not None
    assert got.scheduled_charges[0].schedule == charge.schedule
    assert got.discounts == terms.discounts
    assert got.professional_services == terms.professional_services
    assert got.recurring_commits[0].access_amount.unit_price == Decimal(1500)
    assert got.recurring_commits[0].access_amount.quantity == rc.access_amount.quantity
    updated = got.subscriptions[0]
    assert updated.quantity_updates == ({"starting_at": f.iso(LATER), "quantity": 5},)
    assert got.subscriptions[1:] == terms.subscriptions[1:]
    # The stored document is the dump of the typed terms.
    assert model.parse(after.terms, model.Terms) == got
    (history,) = [e for e in after.edits if e.kind == "EDIT"]
    assert list(history.changes) == [
        "add_overrides",
        "archive_scheduled_charges",
        "remove_overrides",
        "update_contract_name",
        "update_recurring_commits",
        "update_subscriptions",
        "update_contract_end_date",
    ]


def test_edit_steps_are_listed_once_in_order() -> None:
    names = [step.__name__ for step in lifecycle.EDIT_STEPS]
    assert names[0] == "add_terms"
    assert names[-1] == "change_end_date"
    assert len(set(names)) == len(names)
