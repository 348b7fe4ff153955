"""Commit and credit edits in process (issue 13 §1): a v2 edit's update_commits / update_credits and
editCommit / editCredit change the typed balance (`model.Balance`, its segments and invoice schedule)
and store its dump; what they refuse keeps its message."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from msgspec.structs import replace
from sqlalchemy import text

from tally.contracts import service as contracts
from tally.contracts.edits import lifecycle
from tally.contracts.edits.schemas import EditContract
from tally.contracts.edits.schemas_balance import EditCommit, EditCredit
from tally.contracts.terms import model
from tally.db.uow import WriteConn
from tally.errors import BadRequest
from tally.kit.api import parse
from tests.service import factories as f
from tests.service.test_terms_model import END, NOW, START, _product, _rich_contract

AT = NOW + timedelta(hours=1)
Change = Callable[[str], dict[str, Any]]


def _balances(
    conn: WriteConn, c: contracts.Contract
) -> tuple[str, dict[model.CommitType, contracts.Balance]]:
    tid = conn.execute(text("select tenant_id from contracts where id = :id"), {"id": c.id}).scalar_one()
    got = contracts.get(conn, tid, c.customer_id, c.id)
    # The contract's own commits and credits, not its recurring templates' children.
    own = [b for b in got.balances if not (b.parsed.recurring_commit_id or b.parsed.recurring_credit_id)]
    return tid, {b.kind: b for b in own}


def _typed(b: contracts.Balance) -> model.Balance:
    """The stored document, checked to be the dump of the typed balance it parses into."""
    parsed = model.parse(b.doc, model.Balance)
    assert model.parse(model.dump(parsed), model.Balance) == parsed
    return parsed


def test_update_commits_and_credits_change_the_typed_balances(conn: WriteConn) -> None:
    c = _rich_contract(conn)
    tid, before = _balances(conn, c)
    commit, credit = before[model.CommitType.PREPAID].parsed, before[model.CommitType.CREDIT].parsed
    other = _product(conn, tid, "FIXED")
    assert commit.invoice_schedule is not None
    (seg,) = commit.access_schedule.schedule_items
    items = commit.invoice_schedule.schedule_items
    cut = END - timedelta(days=30)
    body = {
        "customer_id": c.customer_id,
        "contract_id": c.id,
        "update_commits": [
            {
                "commit_id": commit.id,
                "priority": 5,
                "applicable_product_ids": [other],
                "access_schedule": {
                    "update_schedule_items": [{"id": seg.id, "ending_before": f.iso(cut)}],
                    "add_schedule_items": [
                        {
                            "amount": 500,
                            "starting_at": f.iso(cut),
                            "ending_before": f.iso(END),
                        }
                    ],
                },
                "invoice_schedule": {
                    "remove_schedule_items": [{"id": items[0].id}],
                    "update_schedule_items": [{"id": items[1].id, "amount": 3000}],
                    "add_schedule_items": [
                        {"timestamp": f.iso(END - timedelta(days=1)), "unit_price": 100, "quantity": 3}
                    ],
                },
            }
        ],
        "update_credits": [
            {
                "credit_id": credit.id,
                "priority": 7,
                "access_schedule": {
                    "update_schedule_items": [
                        {
                            "id": credit.access_schedule.schedule_items[0].id,
                            "ending_before": f.iso(END - timedelta(days=60)),
                        }
                    ]
                },
            }
        ],
    }
    lifecycle.edit(conn, tid, parse(EditContract, body), AT, "test")

    _, after = _balances(conn, c)
    got = _typed(after[model.CommitType.PREPAID])
    assert (got.priority, got.applicable_product_ids) == (Decimal(5), (other,))
    first, added = got.access_schedule.schedule_items
    assert first == model.Segment(id=seg.id, amount=seg.amount, starting_at=START, ending_before=cut)
    assert (added.amount, added.starting_at, added.ending_before) == (
        Decimal(500),
        cut,
        END,
    )
    assert added.id not in (None, seg.id)
    assert got.invoice_schedule is not None
    new_items = got.invoice_schedule.schedule_items
    assert new_items[:3] == (replace(items[1], amount=Decimal(3000)), items[2], items[3])
    assert (new_items[3].amount, new_items[3].unit_price, new_items[3].quantity) == (
        Decimal(300),
        Decimal(100),
        Decimal(3),
    )
    # What the edit does not name stays as it was.
    assert (got.description, got.rollover_fraction, got.type) == (
        commit.description,
        commit.rollover_fraction,
        commit.type,
    )
    cred = _typed(after[model.CommitType.CREDIT])
    assert cred.priority == Decimal(7)
    assert cred.access_schedule.schedule_items[0].ending_before == END - timedelta(days=60)
    assert (cred.applicable_product_tags, cred.rate_type) == (
        credit.applicable_product_tags,
        credit.rate_type,
    )
    # The history records the fields set, as sent (the schedules are left out, as before).
    history = contracts.get(conn, tid, c.customer_id, c.id).edits[-1].changes
    assert [list(u) for u in history["update_commits"]] == [
        ["commit_id", "applicable_product_ids", "priority"]
    ]
    assert [list(u) for u in history["update_credits"]] == [["credit_id", "priority"]]


def test_edit_commit_and_edit_credit_change_the_typed_balances(conn: WriteConn) -> None:
    c = _rich_contract(conn)
    tid, before = _balances(conn, c)
    commit, credit = before[model.CommitType.PREPAID].parsed, before[model.CommitType.CREDIT].parsed
    (seg,) = commit.access_schedule.schedule_items
    assert commit.invoice_schedule is not None
    items = commit.invoice_schedule.schedule_items
    mid = START + timedelta(days=100)
    req = {
        "customer_id": c.customer_id,
        "commit_id": commit.id,
        "priority": 9,
        "applicable_product_tags": ["api"],
        "access_schedule": {
            "remove_schedule_items": [{"id": seg.id}],
            "add_schedule_items": [
                {"amount": 4000, "starting_at": f.iso(START), "ending_before": f.iso(mid)},
                {"amount": 6000, "starting_at": f.iso(mid), "ending_before": f.iso(END)},
            ],
        },
        "invoice_schedule": {"remove_schedule_items": [{"id": items[3].id}]},
    }
    lifecycle.edit_balance(conn, tid, parse(EditCommit, req), "commit", AT, "test")
    credit_seg = credit.access_schedule.schedule_items[0].id
    credit_req = {
        "customer_id": c.customer_id,
        "credit_id": credit.id,
        "priority": 4,
        "applicable_product_ids": [f_product := _product(conn, tid, "FIXED")],
        "applicable_product_tags": [],
        "access_schedule": {"update_schedule_items": [{"id": credit_seg, "ending_before": f.iso(mid)}]},
    }
    lifecycle.edit_balance(conn, tid, parse(EditCredit, credit_req), "credit", AT, "test")

    _, after = _balances(conn, c)
    got = _typed(after[model.CommitType.PREPAID])
    assert (got.priority, got.applicable_product_tags) == (Decimal(9), ("api",))
    assert got.applicable_product_ids == commit.applicable_product_ids
    assert [(s.amount, s.starting_at, s.ending_before) for s in got.access_schedule.schedule_items] == [
        (Decimal(4000), START, mid),
        (Decimal(6000), mid, END),
    ]
    assert got.invoice_schedule is not None
    assert got.invoice_schedule.schedule_items == items[:3]
    cred = _typed(after[model.CommitType.CREDIT])
    assert (cred.priority, cred.applicable_product_ids, cred.applicable_product_tags) == (
        Decimal(4),
        (f_product,),
        (),
    )
    assert cred.access_schedule.schedule_items[0].ending_before == mid
    kinds = [e.kind for e in contracts.get(conn, tid, c.customer_id, c.id).edits]
    assert kinds[-2:] == ["EDIT_COMMIT", "EDIT_CREDIT"]


def _access(key: str, item: dict[str, object]) -> Change:
    return lambda seg_id: {"access_schedule": {key: [{"id": seg_id, **item}]}}


@pytest.mark.parametrize(
    ("kind", "change", "message"),
    [
        (
            "commit",
            lambda _: {"access_schedule": {"remove_schedule_items": [{"id": "nope"}]}},
            r"commit\.access_schedule\.remove_schedule_items\[0\]\.id: nope not found",
        ),
        (
            "commit",
            lambda _: {"invoice_schedule": {"update_schedule_items": [{"id": "nope", "amount": 1}]}},
            r"commit\.invoice_schedule\.update_schedule_items\[0\]\.id: nope not found",
        ),
        (
            "commit",
            _access("remove_schedule_items", {}),
            r"commit\.access_schedule: a balance keeps at least one segment",
        ),
        (
            "commit",
            lambda _: {
                "invoice_schedule": {
                    "add_schedule_items": [{"timestamp": f.iso(END), "amount": 1, "unit_price": 1}]
                }
            },
            r"commit\.invoice_schedule\.add_schedule_items\[0\]: give amount, or unit_price",
        ),
        ("commit", lambda _: {"priority": 0}, r"commit\.priority: must be greater than 0"),
        (
            "credit",
            _access("update_schedule_items", {"amount": -1}),
            r"credit\.access_schedule\.schedule_items\[0\]\.amount: must not be negative",
        ),
        (
            "credit",
            _access("update_schedule_items", {"ending_before": f.iso(START)}),
            r"credit\.access_schedule\.schedule_items\[0\]\.ending_before: must be after starting_at",
        ),
    ],
)
def test_balance_edits_refuse_with_the_same_messages(
    conn: WriteConn, kind: str, change: Change, message: str
) -> None:
    c = _rich_contract(conn)
    tid, before = _balances(conn, c)
    b = before[model.CommitType.PREPAID if kind == "commit" else model.CommitType.CREDIT].parsed
    seg_id = b.access_schedule.schedule_items[0].id
    assert seg_id is not None
    body = {"customer_id": c.customer_id, f"{kind}_id": b.id, **change(seg_id)}
    schema = EditCommit if kind == "commit" else EditCredit
    with pytest.raises(BadRequest, match=message):
        lifecycle.edit_balance(conn, tid, parse(schema, body), kind, AT, "test")
