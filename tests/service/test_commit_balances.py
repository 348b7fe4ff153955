"""The contracts service in process (issue 13 §8): a contract's prepaid commit, a manual ledger entry on
it, and the draw-down a finalized usage invoice makes, read back through the ledger arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tally.contracts.balances import ledger
from tally.contracts.balances import service as balances
from tally.contracts.schemas import AddManualBalanceEntry
from tally.db.uow import WriteConn
from tally.invoices import service as invoices
from tally.invoices.finalizer import PassResult, finalize_contracts
from tally.invoices.inputs import Catalog
from tally.kit.api import parse
from tally.products import service as products
from tally.products.schemas import CreateProduct
from tests.service import factories as f

START = datetime(2026, 3, 1, tzinfo=UTC)
NOW = datetime(2026, 3, 2, tzinfo=UTC)


def _balance(conn: WriteConn, tenant_id: str, customer_id: str, at: datetime) -> Decimal:
    (commit,) = balances.live_balances(conn, tenant_id, customer_id, at, limit=10)
    entries = ledger.entries_by_balance(conn, tenant_id, [commit.id]).get(commit.id, [])
    return ledger.balance_at(commit.doc, entries, commit.archived_at, at)


def test_a_commit_is_drawn_down_by_a_manual_entry_and_by_usage(conn: WriteConn) -> None:
    c = f.catalog(conn, NOW, START, {"rate_type": "FLAT", "price": 4})
    customer = f.customer(conn, c, NOW, "drawdown")
    fixed = products.create(
        conn, c.tenant.id, parse(CreateProduct, {"name": "Commit", "type": "FIXED"}), NOW, "t"
    )
    commit = {
        "type": "PREPAID",
        "product_id": fixed,
        "access_schedule": {
            "schedule_items": [
                {
                    "amount": 10000,
                    "starting_at": f.iso(START),
                    "ending_before": f.iso(START + timedelta(days=365)),
                }
            ]
        },
        "applicable_product_ids": [c.product_id],
    }
    contract_id = f.contract(conn, c, customer, START, NOW, commits=[commit])
    # Granted 10,000 cents ($100.00).
    assert _balance(conn, c.tenant.id, customer, NOW) == Decimal(10000)
    (b,) = balances.live_balances(conn, c.tenant.id, customer, NOW, limit=10)
    (segment,) = ledger.segments(b.doc)
    entry = {"id": b.id, "customer_id": customer, "contract_id": contract_id, "segment_id": segment.id}
    balances.add_manual_entry(
        conn, c.tenant.id, parse(AddManualBalanceEntry, {**entry, "amount": -2500, "reason": "goodwill"}), NOW
    )
    # 10,000 - 2,500 = 7,500 cents.
    assert _balance(conn, c.tenant.id, customer, NOW) == Decimal(7500)
    # March usage: 30 units x 4 cents = 120 cents, drawn from the commit when March is finalized.
    f.usage(conn, c, "drawdown", NOW, [(START + timedelta(hours=3), {"units": 30, "region": "us"})])
    later = datetime(2026, 4, 3, tzinfo=UTC)
    result = PassResult()
    finalize_contracts(
        conn, c.tenant.id, [contract_id], later, invoices.grace(conn, c.tenant.id), Catalog(), result
    )
    assert result.finalized >= 1
    # 7,500 - 120 = 7,380 cents.
    assert _balance(conn, c.tenant.id, customer, later) == Decimal(7380)
