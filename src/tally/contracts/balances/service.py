"""Customer-level commits and credits, manual ledger entries, balance listing and net balance (SPEC §5.4,
§7). Balances are computed from the ledger (tally.contracts.balances.ledger), never stored as counters."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from msgspec.structs import replace
from sqlalchemy import Connection

from tally.contracts import repository as repo
from tally.contracts import schemas as s
from tally.contracts.balances import ledger
from tally.contracts.schemas_create import CreateCustomerCommit, CreateCustomerCredit
from tally.contracts.service import BALANCE_ENTITY, Balance, insert_balance
from tally.contracts.terms import model
from tally.contracts.terms.normalize import Terms, dump
from tally.credit_types.builtin import USD_CENTS_ID
from tally.custom_fields import service as custom_fields
from tally.customers import service as customers
from tally.db.uow import WriteConn
from tally.errors import BadRequest, NotFound
from tally.ids import new_id
from tally.kit.api import hour_aligned
from tally.money.context import total as money_total
from tally.rating.inputs import AccessType, CommitType

MANUAL_SCOPE = "manual_ledger_entry"
SCOPE = {"commit": "customer_commit", "credit": "customer_credit"}


def create_customer_balance(
    conn: WriteConn,
    tenant_id: str,
    req: CreateCustomerCommit | CreateCustomerCredit,
    kind: str,
    now: datetime,
) -> str:
    customers.get(conn, tenant_id, req.customer_id)
    body = dump(req)
    t = Terms(conn, tenant_id, now, now)
    btype = body.pop("type") if kind == "commit" else CommitType.CREDIT
    for i, cid in enumerate(body.get("applicable_contract_ids") or []):
        found = repo.get_contract(conn, tenant_id, cid)
        if found is None or found.customer_id != req.customer_id:
            raise BadRequest(f"applicable_contract_ids[{i}]: contract {cid} not found for this customer")
    inv_contract = body.pop("invoice_contract_id", None)
    needs_invoice = btype == CommitType.POSTPAID or (
        btype == CommitType.PREPAID
        and body.get("invoice_schedule")
        and not body["invoice_schedule"].get("do_not_invoice")
    )
    if needs_invoice and inv_contract is None:
        raise BadRequest("invoice_contract_id: required for POSTPAID commits and invoiced PREPAID commits")
    if inv_contract is not None:
        found = repo.get_contract(conn, tenant_id, inv_contract)
        if found is None or found.customer_id != req.customer_id:
            raise BadRequest(f"invoice_contract_id: contract {inv_contract} not found for this customer")
    key = body.pop("uniqueness_key", None)
    custom = body.pop("custom_fields", None)
    body.pop("customer_id")
    doc = t.balance(body, btype, kind)
    doc["applicable_contract_ids"] = body.get("applicable_contract_ids") or []
    if inv_contract is not None:
        doc["invoice_contract_id"] = inv_contract
    if key is not None:
        repo.reserve_key(conn, tenant_id, SCOPE[kind], key, doc["id"], now)
        doc["uniqueness_key"] = key
    insert_balance(conn, tenant_id, req.customer_id, None, doc, custom, now)
    return str(doc["id"])


def of_contract(conn: Connection, tenant_id: str, contract_id: str) -> list[Balance]:
    """The stored commits and credits of one contract (archived ones too), in id order."""
    return [Balance.of(r) for r in repo.balances_of_contracts(conn, tenant_id, [contract_id])]


def visible(
    b: Balance, at: datetime | None, starting_at: datetime | None, effective_before: datetime | None
) -> bool:
    """Has the balance a segment covering `at`, one ending after `starting_at` and one starting before
    `effective_before` (each only when given)? The list filters of balances and seat balances."""
    segs = ledger.segments(b.doc)
    if at is not None and not any(g.starting_at <= at < g.ending_before for g in segs):
        return False
    if starting_at is not None and not any(g.ending_before > starting_at for g in segs):
        return False
    return effective_before is None or any(g.starting_at < effective_before for g in segs)


def live_balances(
    conn: Connection,
    tenant_id: str,
    customer_id: str,
    now: datetime,
    limit: int,
    balance_id: str | None = None,
) -> list[Balance]:
    """Every unarchived commit and credit of the customer, customer-level and on its contracts (only the
    one with `balance_id` when given)."""
    return list_balances(
        conn,
        tenant_id,
        customer_id,
        kinds=(CommitType.PREPAID, CommitType.POSTPAID, CommitType.CREDIT),
        include_contract=True,
        include_archived=False,
        balance_id=balance_id,
        covering=None,
        starting_at=None,
        effective_before=None,
        after=None,
        limit=limit,
        now=now,
    )


def list_balances(
    conn: Connection,
    tenant_id: str,
    customer_id: str,
    *,
    kinds: tuple[str, ...],
    include_contract: bool,
    include_archived: bool,
    balance_id: str | None,
    covering: datetime | None,
    starting_at: datetime | None,
    effective_before: datetime | None,
    after: str | None,
    limit: int,
    now: datetime,
    exclude_zero: bool = False,
    access_type: str | None = None,
) -> list[Balance]:
    customers.get(conn, tenant_id, customer_id)
    rows = repo.balances_of_customer(
        conn,
        tenant_id,
        customer_id,
        kinds=kinds,
        customer_level_only=not include_contract,
        after=after,
        ids=[balance_id] if balance_id else None,
    )
    out: list[Balance] = []
    entries = ledger.entries_by_balance(conn, tenant_id, [r.id for r in rows]) if exclude_zero else {}
    for r in rows:
        b = Balance.of(r)
        if b.archived_at is not None and not include_archived:
            continue
        if (
            access_type is not None
            and (b.parsed.access_schedule.access_type or AccessType.SPEND) != access_type
        ):
            continue
        if not visible(b, covering, starting_at, effective_before):
            continue
        if exclude_zero and ledger.balance_at(b.doc, entries.get(b.id, []), b.archived_at, now) == 0:
            continue
        out.append(b)
        if len(out) > limit:
            break
    return out


def update_end_date(conn: WriteConn, tenant_id: str, req: Any, kind: str, now: datetime) -> None:
    """Shorten a customer-level PREPAID commit or credit: its access and/or invoice schedule end earlier."""
    bid = req.commit_id if kind == "commit" else req.credit_id
    b = repo.get_balance(conn, tenant_id, bid, lock=True)
    if b is None or b.customer_id != req.customer_id or (b.kind == CommitType.CREDIT) != (kind == "credit"):
        raise NotFound(f"{kind.capitalize()} {bid} not found")
    if b.kind == CommitType.POSTPAID:
        raise BadRequest("Only PREPAID commits can have their end date updated")
    current = Balance.of(b).parsed
    access_end = req.access_ending_before
    invoices_end = getattr(req, "invoices_ending_before", None)
    if access_end is None and invoices_end is None:
        raise BadRequest("access_ending_before or invoices_ending_before is required")
    if access_end is not None:
        hour_aligned(access_end, "access_ending_before")
        items = tuple(
            replace(seg, ending_before=min(seg.ending_before, access_end))
            for seg in current.access_schedule.schedule_items
            if seg.starting_at < access_end
        )
        if not items:
            raise BadRequest("access_ending_before: must be after the first segment starts")
        current = replace(current, access_schedule=replace(current.access_schedule, schedule_items=items))
    if invoices_end is not None and current.invoice_schedule:
        kept = tuple(i for i in current.invoice_schedule.schedule_items if i.timestamp < invoices_end)
        current = replace(current, invoice_schedule=replace(current.invoice_schedule, schedule_items=kept))
    repo.update_balance(conn, tenant_id, b.id, {"doc": model.dump(current)})


def add_manual_entry(conn: WriteConn, tenant_id: str, req: s.AddManualBalanceEntry, now: datetime) -> None:
    b = repo.get_balance(conn, tenant_id, req.id, lock=True)
    if b is None or b.customer_id != req.customer_id:
        raise NotFound(f"Commit or credit {req.id} not found")
    if (req.contract_id or None) != b.contract_id:
        raise NotFound(
            f"Commit or credit {req.id} not found on contract {req.contract_id or '(customer level)'}"
        )
    seg = next((g for g in ledger.segments(b.doc) if g.id == req.segment_id), None)
    if seg is None:
        raise BadRequest(f"segment_id: {req.segment_id} is not a segment of {req.id}")
    if not req.reason.strip():
        raise BadRequest("reason: required")
    if req.per_group_amounts is not None and money_total(req.per_group_amounts.values()) != req.amount:
        raise BadRequest("per_group_amounts: must sum to amount")
    entry_id = new_id()
    if req.uniqueness_key is not None:
        repo.reserve_key(conn, tenant_id, MANUAL_SCOPE, req.uniqueness_key, entry_id, now)
    repo.insert_entries(
        conn,
        [
            {
                "id": entry_id,
                "tenant_id": tenant_id,
                "customer_id": b.customer_id,
                "contract_id": b.contract_id,
                "balance_id": b.id,
                "segment_id": seg.id,
                "type": f"{ledger.PREFIX[b.kind]}_MANUAL",
                "amount": req.amount,
                "timestamp": req.timestamp or seg.starting_at,
                "reason": req.reason,
                "created_at": now,
            }
        ],
    )


_TYPE_OF = {
    CommitType.PREPAID: "PREPAID_COMMIT",
    CommitType.POSTPAID: "POSTPAID_COMMIT",
    CommitType.CREDIT: "CREDIT",
}


def net_balance(
    conn: Connection, tenant_id: str, req: s.GetNetBalance, now: datetime
) -> tuple[Decimal, str | None]:
    customers.get(conn, tenant_id, req.customer_id)
    if req.invoice_inclusion_mode == "FINALIZED_AND_DRAFT":
        # Drafts are computed by the invoices layer, above this one; counting them here is not built yet.
        raise BadRequest("invoice_inclusion_mode: FINALIZED_AND_DRAFT is not supported by tally yet")
    access = req.access_type or "SPEND"
    if access == "QUANTITY" and req.credit_type_id is not None:
        raise BadRequest("credit_type_id: not allowed with access_type QUANTITY")
    credit_type = None if access == "QUANTITY" else (req.credit_type_id or USD_CENTS_ID)
    rows = [Balance.of(r) for r in repo.balances_of_customer(conn, tenant_id, req.customer_id)]
    rows = [
        b
        for b in rows
        if (b.parsed.access_schedule.access_type or AccessType.SPEND) == access
        and b.parsed.access_schedule.credit_type_id == credit_type
    ]
    if req.filters:
        custom = {
            e: custom_fields.values_for(conn, tenant_id, e, [b.id for b in rows])
            for e in set(BALANCE_ENTITY.values())
        }
        rows = [
            b for b in rows if any(_matches(b, f, custom[BALANCE_ENTITY[b.kind]][b.id]) for f in req.filters)
        ]
    entries = ledger.entries_by_balance(conn, tenant_id, [b.id for b in rows])
    net = money_total(ledger.balance_at(b.doc, entries.get(b.id, []), b.archived_at, now) for b in rows)
    return net, credit_type


def _matches(b: Balance, f: s.BalanceFilter, custom: dict[str, str]) -> bool:
    if f.balance_types and _TYPE_OF[b.kind] not in f.balance_types:
        return False
    if f.ids and b.id not in f.ids:
        return False
    return not f.custom_fields or all(custom.get(k) == v for k, v in f.custom_fields.items())
