"""Changing a contract after creation (SPEC §5.14): v1 amend, v2 edit / editCommit / editCredit, end
date, archive and usage filters. Each change appends to the edit history with a snapshot.

Edits change terms in place (DRAFT invoices are recomputed from them by the invoice layer); history is
kept by the append-only `contract_edits` rows, never by rewriting the ledger.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

import msgspec
from msgspec.structs import replace
from sqlalchemy import Connection

from tally.contracts import repository as repo
from tally.contracts import schemas as s
from tally.contracts.balances import recurring, thresholds
from tally.contracts.edits import updates
from tally.contracts.edits.context import EditContext, EditStep, dump_all
from tally.contracts.edits.schemas import EditContract, UpdateBalanceFields, UpdateCommit, UpdateCredit
from tally.contracts.edits.schemas_balance import EditCommit, EditCredit
from tally.contracts.schemas_create import AmendContract
from tally.contracts.service import (
    Balance,
    Contract,
    build_terms,
    get,
    insert_balance,
    record_edit,
    set_term_custom_fields,
)
from tally.contracts.terms import model
from tally.contracts.terms.model import plain
from tally.contracts.terms.normalize import Doc, Terms, dump
from tally.contracts.terms.schemas import (
    ArchiveCommit,
    UpdateCommitAccessSchedule,
    UpdateCommitAccessScheduleUpdateScheduleItem,
    UpdateCommitInvoiceSchedule,
    UpdateCommitInvoiceScheduleUpdateScheduleItem,
)
from tally.contracts.wire import (
    Names,
    balance_wire,
    override_wire,
    pro_service_wire,
    recurring_wire,
    scheduled_wire,
    subscription_wire,
)
from tally.custom_fields import service as custom_fields
from tally.db.uow import WriteConn
from tally.errors import BadRequest, NotFound
from tally.ids import new_id
from tally.kit.api import hour_aligned
from tally.money.context import mul
from tally.notifications import lifecycle as notifications
from tally.rating.inputs import CommitType
from tally.wire import format_timestamp

EDIT_SCOPE = "contract_edit"
# A schedule edit's items (an access schedule's segments, an invoice schedule's items) and item updates.
ItemT = TypeVar("ItemT", model.Segment, model.ScheduleItem)
ItemUpdate = UpdateCommitAccessScheduleUpdateScheduleItem | UpdateCommitInvoiceScheduleUpdateScheduleItem
# The lists of terms an amend or edit may add to, and the typed value of each piece.
_LISTS: dict[str, type[msgspec.Struct]] = {
    "overrides": model.Override,
    "scheduled_charges": model.ScheduledCharge,
    "discounts": model.ScheduledCharge,
    "professional_services": model.ProfessionalService,
    "recurring_commits": model.Recurring,
    "recurring_credits": model.Recurring,
    "subscriptions": model.Subscription,
}
_EDIT_KEYS = {
    "add_commits": "commits",
    "add_credits": "credits",
    "add_overrides": "overrides",
    "add_scheduled_charges": "scheduled_charges",
    "add_discounts": "discounts",
    "add_professional_services": "professional_services",
    "add_recurring_commits": "recurring_commits",
    "add_recurring_credits": "recurring_credits",
    "add_subscriptions": "subscriptions",
}


def _find(items: Iterable[Any], item_id: str, field: str) -> None:
    if not any(x.id == item_id for x in items):
        raise BadRequest(f"{field}: {item_id} is not on this contract")


def _writable(conn: Connection, tenant_id: str, customer_id: str, contract_id: str) -> Contract:
    c = get(conn, tenant_id, customer_id, contract_id, lock=True)
    if c.archived_at is not None:
        raise BadRequest(f"Contract {contract_id} is archived")
    return c


def _add_terms(
    conn: Connection,
    tenant_id: str,
    c: Contract,
    terms: model.Terms,
    body: Doc,
    now: datetime,
    amendment_id: str | None,
) -> tuple[model.Terms, dict[str, list[Doc]]]:
    """Validate the added terms (`body` keyed as a create body), normalize them as a create does, store
    their custom fields, commits and credits, and return the terms with the new pieces appended (parsed
    into typed values) and what was added, as stored."""
    start, end = terms.starting_at, terms.ending_before
    t = Terms(conn, tenant_id, start, now)
    built = build_terms(t, body, start, end, terms.multiplier_override_prioritization)
    added: dict[str, Any] = {}
    for key, kind in _LISTS.items():
        if built[key]:
            current: tuple[Any, ...] = getattr(terms, key)
            added[key] = (*current, *(model.parse(plain(d), kind) for d in built[key]))
        set_term_custom_fields(conn, tenant_id, key, body.get(key) or [], built[key])
    terms = replace(terms, **added)
    if built["recurring_commits"] or built["recurring_credits"]:
        recurring.materialize(conn, tenant_id, c.customer_id, c.id, model.dump(terms), now)
    for key in ("commits", "credits"):
        for raw, doc in zip(body.get(key) or [], built[key], strict=True):
            insert_balance(
                conn, tenant_id, c.customer_id, c.id, doc, raw.get("custom_fields"), now, amendment_id
            )
    return terms, built


# ------------------------------------------------------------------------------------------ amend


def amend(conn: WriteConn, tenant_id: str, req: AmendContract, now: datetime, created_by: str) -> str:
    c = _writable(conn, tenant_id, req.customer_id, req.contract_id)
    hour_aligned(req.starting_at, "starting_at")
    amendment_id = new_id()
    terms, built = _add_terms(conn, tenant_id, c, c.parsed, dump(req), now, amendment_id)
    repo.update_contract(conn, tenant_id, c.id, {"terms": model.dump(terms)})
    changes: Doc = {k: v for k, v in built.items() if v and k not in ("commits", "credits")}
    changes["starting_at"] = req.starting_at
    for key in ("netsuite_sales_order_id", "salesforce_opportunity_id", "total_contract_value"):
        if (value := getattr(req, key)) is not None:
            changes[key] = value
    if req.custom_fields:
        custom_fields.set_values(conn, tenant_id, "contract", c.id, req.custom_fields)
    record_edit(
        conn, tenant_id, c.id, "AMEND", changes, req.starting_at, now, created_by, edit_id=amendment_id
    )
    return amendment_id


# ------------------------------------------------------------------------------------------- edit

_UNSUPPORTED = (
    "add_reseller_royalties",
    "add_billing_provider_configuration_update",
    "add_revenue_system_configuration_update",
    "archive_spend_trackers",
)


def edit(conn: WriteConn, tenant_id: str, req: EditContract, now: datetime, created_by: str) -> str:
    """A v2 contract edit: the contract's typed terms passed through every step of `EDIT_STEPS` in turn,
    then stored once, with its history row."""
    c = _writable(conn, tenant_id, req.customer_id, req.contract_id)
    for key in _UNSUPPORTED:
        if getattr(req, key) is not None:
            raise BadRequest(f"{key}: not supported by tally yet")
    edit_id = new_id()
    if req.uniqueness_key is not None:
        repo.reserve_key(conn, tenant_id, EDIT_SCOPE, req.uniqueness_key, edit_id, now)
    ctx = EditContext(conn, tenant_id, c, now)
    terms = c.parsed
    for step in EDIT_STEPS:
        terms = step(ctx, terms, req)
    if not ctx.changes:
        raise BadRequest("Nothing to edit: the request changes no terms")
    values: dict[str, Any] = {"terms": model.dump(terms)}
    if req.update_contract_end_date is not None:
        values["ending_before"] = terms.ending_before
    repo.update_contract(conn, tenant_id, c.id, values)
    updates.sync_recurring_children(conn, tenant_id, c.customer_id, c.id, terms, ctx.touched, now)
    if req.uniqueness_key is not None:
        ctx.changes["uniqueness_key"] = req.uniqueness_key
    record_edit(conn, tenant_id, c.id, "EDIT", ctx.changes, now, now, created_by, edit_id=edit_id)
    return edit_id


def add_terms(ctx: EditContext, terms: model.Terms, req: EditContract) -> model.Terms:
    """add_overrides, add_commits, ...: new terms built as a create builds them."""
    adds = {dst: dump_all(got) for src, dst in _EDIT_KEYS.items() if (got := getattr(req, src)) is not None}
    if not adds:
        return terms
    terms, built = _add_terms(ctx.conn, ctx.tenant_id, ctx.contract, terms, adds, ctx.now, None)
    for src, dst in _EDIT_KEYS.items():
        if built[dst]:
            ctx.changes[src] = built[dst]
    return terms


def archive_scheduled_charges(ctx: EditContext, terms: model.Terms, req: EditContract) -> model.Terms:
    """archive_scheduled_charges: kept in the terms, archived."""
    for i, ref in enumerate(req.archive_scheduled_charges or []):
        _find(terms.scheduled_charges, ref.id, f"archive_scheduled_charges[{i}].id")
        charges = tuple(
            replace(x, archived_at=ctx.now) if x.id == ref.id else x for x in terms.scheduled_charges
        )
        terms = replace(terms, scheduled_charges=charges)
        ctx.changes["archive_scheduled_charges"] = dump_all(req.archive_scheduled_charges or [])
    return terms


def remove_overrides(ctx: EditContext, terms: model.Terms, req: EditContract) -> model.Terms:
    """remove_overrides: gone from the terms."""
    for i, ref in enumerate(req.remove_overrides or []):
        _find(terms.overrides, ref.id, f"remove_overrides[{i}].id")
        terms = replace(terms, overrides=tuple(x for x in terms.overrides if x.id != ref.id))
        ctx.changes["remove_overrides"] = dump_all(req.remove_overrides or [])
    return terms


def archive_balances(ctx: EditContext, terms: model.Terms, req: EditContract) -> model.Terms:
    """archive_commits / archive_credits: the balances are stored apart; the terms stay as they are."""
    for key, refs in (("archive_commits", req.archive_commits), ("archive_credits", req.archive_credits)):
        for i, ref in enumerate(refs or []):
            b = repo.get_balance(ctx.conn, ctx.tenant_id, ref.id)
            if b is None or b.contract_id != ctx.contract.id:
                raise BadRequest(f"{key}[{i}].id: {ref.id} is not on this contract")
            repo.update_balance(ctx.conn, ctx.tenant_id, b.id, {"archived_at": ctx.now})
            ctx.changes[key] = dump_all(refs or [])
    return terms


def update_balances(ctx: EditContext, terms: model.Terms, req: EditContract) -> model.Terms:
    """update_commits / update_credits: the stored balances change; the terms stay as they are."""
    parts: tuple[tuple[str, str, list[UpdateCommit | UpdateCredit]], ...] = (
        ("update_commits", "commit", list(req.update_commits or [])),
        ("update_credits", "credit", list(req.update_credits or [])),
    )
    for key, kind, upds in parts:
        for i, upd in enumerate(upds):
            bid = upd.commit_id if isinstance(upd, UpdateCommit) else upd.credit_id
            row = repo.get_balance(ctx.conn, ctx.tenant_id, bid, lock=True)
            wrong_kind = (row is not None) and (row.kind == CommitType.CREDIT) != (kind == "credit")
            if row is None or row.contract_id != ctx.contract.id or wrong_kind:
                raise BadRequest(f"{key}[{i}].{kind}_id: {bid} is not a {kind} on this contract")
            b = Balance.of(row)
            new = update_balance(ctx.checker(), b.kind, b.parsed, upd, f"{key}[{i}]")
            repo.update_balance(ctx.conn, ctx.tenant_id, b.id, {"doc": model.dump(new)})
            ctx.changes.setdefault(key, []).append({f"{kind}_id": bid, **_balance_fields(upd)})
    return terms


def update_scheduled_charges(ctx: EditContext, terms: model.Terms, req: EditContract) -> model.Terms:
    for i, upd in enumerate(req.update_scheduled_charges or []):
        field = f"update_scheduled_charges[{i}]"
        found = [x for x in terms.scheduled_charges if x.id == upd.scheduled_charge_id]
        if not found:
            raise BadRequest(f"{field}.scheduled_charge_id: not on this contract")
        new = found[0]
        if upd.invoice_schedule is not None:
            where = f"{field}.invoice_schedule"
            new = replace(
                new, schedule=_schedule_update(ctx.checker(), new.schedule, upd.invoice_schedule, where)
            )
        if upd.netsuite_sales_order_id:
            new = replace(new, netsuite_sales_order_id=upd.netsuite_sales_order_id)
        charges = tuple(new if x.id == new.id else x for x in terms.scheduled_charges)
        terms = replace(terms, scheduled_charges=charges)
        ctx.changes.setdefault("update_scheduled_charges", []).append(dump(upd))
    return terms


def set_fields(ctx: EditContext, terms: model.Terms, req: EditContract) -> model.Terms:
    """The contract's name, payment terms, threshold configurations and spend trackers."""
    if req.update_contract_name is not None:
        terms = replace(terms, name=req.update_contract_name)
        ctx.changes["update_contract_name"] = req.update_contract_name
    if req.update_net_payment_terms_days is not None:
        if req.update_net_payment_terms_days < 0:
            raise BadRequest("update_net_payment_terms_days: must not be negative")
        terms = replace(terms, net_payment_terms_days=Decimal(req.update_net_payment_terms_days))
        ctx.changes["update_net_payment_terms_days"] = req.update_net_payment_terms_days
    if req.add_spend_threshold_configuration is not None:
        cfg = dump(req.add_spend_threshold_configuration)
        spend = model.parse(cfg, model.SpendThresholdConfiguration)
        terms = replace(terms, spend_threshold_configuration=spend)
        ctx.changes["add_spend_threshold_configuration"] = cfg
    if req.add_prepaid_balance_threshold_configuration is not None:
        cfg = dump(req.add_prepaid_balance_threshold_configuration)
        prepaid = model.parse(cfg, model.PrepaidBalanceThresholdConfiguration)
        terms = replace(terms, prepaid_balance_threshold_configuration=prepaid)
        ctx.changes["add_prepaid_balance_threshold_configuration"] = cfg
    if req.add_spend_trackers is not None:
        trackers = dump_all(req.add_spend_trackers)
        added = tuple(model.parse(x, model.SpendTracker) for x in trackers)
        terms = replace(terms, spend_trackers=(*(terms.spend_trackers or ()), *added))
        ctx.changes["add_spend_trackers"] = trackers
    return terms


def check_thresholds(ctx: EditContext, terms: model.Terms, req: EditContract) -> model.Terms:
    """The threshold configurations the edit added or updated, checked as merged."""

    def named(key: str) -> bool:
        return getattr(req, f"add_{key}") is not None or getattr(req, f"update_{key}") is not None

    thresholds.check(
        ctx.checker(),
        terms.spend_threshold_configuration if named(thresholds.SPEND) else None,
        terms.prepaid_balance_threshold_configuration if named(thresholds.PREPAID) else None,
        terms.spend_trackers or (),
        ctx.contract.rate_card_id,
    )
    return terms


def change_end_date(ctx: EditContext, terms: model.Terms, req: EditContract) -> model.Terms:
    end = req.update_contract_end_date
    if end is None:
        return terms
    _check_end(
        ctx.conn,
        ctx.tenant_id,
        ctx.contract,
        end,
        "update_contract_end_date",
        bool(req.allow_contract_ending_before_finalized_invoice),
        "allow_contract_ending_before_finalized_invoice",
    )
    ctx.changes["update_contract_end_date"] = end
    ctx.touched |= updates.all_recurring_ids(terms)
    return replace(terms, ending_before=end)


EDIT_STEPS: tuple[EditStep, ...] = (
    add_terms,
    archive_scheduled_charges,
    remove_overrides,
    archive_balances,
    update_balances,
    update_scheduled_charges,
    set_fields,
    updates.update_recurring,
    updates.update_subscriptions,
    updates.update_thresholds,
    check_thresholds,
    change_end_date,
)


def _check_end(
    conn: Connection,
    tenant_id: str,
    c: Contract,
    end: datetime | None,
    field: str,
    allow_before_finalized: bool,
    flag: str,
) -> None:
    if end is None:
        return
    hour_aligned(end, field)
    if end <= c.parsed.starting_at:
        raise BadRequest(f"{field}: must be after the contract's starting_at")
    # Metronome: an end date earlier than the end of an existing finalized invoice is refused unless the
    # caller allows it; the finalized invoices stay as they are either way.
    last = repo.last_finalized_invoice_end(conn, tenant_id, c.id)
    if last is not None and end < last and not allow_before_finalized:
        raise BadRequest(
            f"{field}: {format_timestamp(end)} is before the end of a finalized invoice"
            f" ({format_timestamp(last)}); set {flag} to allow it"
        )


def _remove_and_update_items(
    items: tuple[ItemT, ...],
    upd: UpdateCommitAccessSchedule | UpdateCommitInvoiceSchedule,
    field: str,
) -> tuple[ItemT, ...]:
    """A schedule edit's `remove_schedule_items` and `update_schedule_items` applied to `items` (an
    access schedule's segments or an invoice schedule's items)."""
    ids = {i.id for i in items}
    refs: list[ArchiveCommit] = upd.remove_schedule_items or []
    changes: list[ItemUpdate] = list(upd.update_schedule_items or [])
    for j, ref in enumerate(refs):
        if ref.id not in ids:
            raise BadRequest(f"{field}.remove_schedule_items[{j}].id: {ref.id} not found")
        items = tuple(i for i in items if i.id != ref.id)
    for j, u in enumerate(changes):
        if u.id not in ids:
            raise BadRequest(f"{field}.update_schedule_items[{j}].id: {u.id} not found")
        changed = u.model_dump(exclude_none=True, exclude={"id"})
        items = tuple(model.with_json(i, changed) if i.id == u.id else i for i in items)
    return items


def _schedule_update(
    t: Terms, current: model.InvoiceSchedule, upd: UpdateCommitInvoiceSchedule, field: str
) -> model.InvoiceSchedule:
    items = _remove_and_update_items(current.schedule_items, upd, field)
    for j, a in enumerate(upd.add_schedule_items or []):
        t._amount_or_price(dump(a), f"{field}.add_schedule_items[{j}]")
        quantity = Decimal(1) if a.quantity is None else a.quantity
        amount = a.amount
        if amount is None:
            assert a.unit_price is not None  # _amount_or_price: amount or unit_price
            amount = mul(a.unit_price, quantity)
        unit_price = amount if a.unit_price is None else a.unit_price
        added = model.ScheduleItem(
            id=new_id(), timestamp=a.timestamp, amount=amount, unit_price=unit_price, quantity=quantity
        )
        items = (*items, added)
    return replace(current, schedule_items=items)


BalanceEdit = UpdateCommit | UpdateCredit | EditCommit | EditCredit
# What a balance edit names rather than sets (the history of a balance edit records the rest, as sent).
_NOT_SET = {"commit_id", "credit_id", "customer_id", "access_schedule", "invoice_schedule"}
_APPLICABILITY = ("specifiers", "applicable_product_ids", "applicable_product_tags")


def _balance_fields(upd: BalanceEdit) -> Doc:
    """The fields of a balance that `upd` sets, as sent."""
    out: Doc = upd.model_dump(exclude_none=True, exclude=_NOT_SET)
    return out


def update_balance(
    t: Terms, kind: CommitType, b: model.Balance, upd: BalanceEdit, field: str
) -> model.Balance:
    """Apply an update_commits / update_credits / editCommit / editCredit body to a balance."""
    if upd.product_id:
        t.product(upd.product_id, f"{field}.product_id", {"FIXED"})
    rf = upd.rollover_fraction if isinstance(upd, UpdateBalanceFields) else None
    if rf is not None and not (0 <= rf <= 1):
        raise BadRequest(f"{field}.rollover_fraction: must be between 0 and 1")
    t.positive(upd.priority, f"{field}.priority")
    new = model.with_json(b, _balance_fields(upd))
    t.applicability(model.pick(new, _APPLICABILITY), field)
    acc = upd.access_schedule
    if acc is not None:
        where = f"{field}.access_schedule"
        segs = _remove_and_update_items(b.access_schedule.schedule_items, acc, where)
        for a in acc.add_schedule_items or []:
            seg = model.Segment(
                id=new_id(), amount=a.amount, ending_before=a.ending_before, starting_at=a.starting_at
            )
            segs = (*segs, seg)
        for j, seg in enumerate(segs):
            t.range(seg.starting_at, seg.ending_before, f"{where}.schedule_items[{j}]")
            t.non_negative(seg.amount, f"{where}.schedule_items[{j}].amount")
        if not segs:
            raise BadRequest(f"{where}: a balance keeps at least one segment")
        new = replace(new, access_schedule=replace(b.access_schedule, schedule_items=segs))
    inv = upd.invoice_schedule if isinstance(upd, UpdateCommit | EditCommit) else None
    if inv is not None:
        if kind == CommitType.CREDIT or b.invoice_schedule is None:
            raise BadRequest(f"{field}.invoice_schedule: this balance has no invoice schedule")
        schedule = _schedule_update(t, b.invoice_schedule, inv, f"{field}.invoice_schedule")
        new = replace(new, invoice_schedule=schedule)
    if kind == CommitType.POSTPAID:
        segs = new.access_schedule.schedule_items
        inv_items = new.invoice_schedule.schedule_items if new.invoice_schedule else ()
        if len(segs) != 1 or len(inv_items) != 1 or segs[0].amount != inv_items[0].amount:
            raise BadRequest(
                f"{field}: a POSTPAID commit keeps one access and one invoice item with equal amounts"
            )
    return new


def edit_balance(
    conn: Connection, tenant_id: str, req: EditCommit | EditCredit, kind: str, now: datetime, created_by: str
) -> None:
    """v2 editCommit / editCredit: contract-level or customer-level."""
    bid = req.commit_id if isinstance(req, EditCommit) else req.credit_id
    row = repo.get_balance(conn, tenant_id, bid, lock=True)
    if (
        row is None
        or row.customer_id != req.customer_id
        or (row.kind == CommitType.CREDIT) != (kind == "credit")
    ):
        raise NotFound(f"{kind.capitalize()} {bid} not found")
    b = Balance.of(row)
    if b.archived_at is not None:
        raise BadRequest(f"{kind.capitalize()} {bid} is archived")
    if b.contract_id is not None and req.applicable_contract_ids is not None:
        raise BadRequest("applicable_contract_ids: not editable on a contract-level balance")
    if b.kind == CommitType.POSTPAID and req.applicable_contract_ids is not None:
        raise BadRequest("applicable_contract_ids: not editable on a POSTPAID commit")
    t = Terms(conn, tenant_id, now, now)
    invoice_contract_id = req.invoice_contract_id if isinstance(req, EditCommit) else None
    if invoice_contract_id:
        found = repo.get_contract(conn, tenant_id, invoice_contract_id)
        if found is None or found.customer_id != req.customer_id:
            raise BadRequest(f"invoice_contract_id: contract {invoice_contract_id} not found")
    new = update_balance(t, b.kind, b.parsed, req, kind)
    repo.update_balance(conn, tenant_id, b.id, {"doc": model.dump(new)})
    if b.contract_id is not None:
        record_edit(
            conn,
            tenant_id,
            b.contract_id,
            f"EDIT_{kind.upper()}",
            {f"update_{kind}s": [{f"{kind}_id": bid, **_balance_fields(req)}]},
            now,
            now,
            created_by,
        )
    else:
        notifications.balance_changed(conn, tenant_id, b.id, "edit", now)


# ---------------------------------------------------------------------------------- history wire


def history_wire(c: Contract, names: Names) -> list[Doc]:
    out = []
    by_id = {b.id: b for b in c.balances}
    for e in c.edits:
        if e.kind not in ("EDIT", "EDIT_COMMIT", "EDIT_CREDIT", "UPDATE_END_DATE"):
            continue
        ch = e.changes
        item: Doc = {"id": e.id, "timestamp": e.created_at}
        for key in ("add_commits", "add_credits"):
            if ch.get(key):
                item[key] = [_added_balance(by_id.get(d["id"]), names) for d in ch[key] if d["id"] in by_id]
        if ch.get("add_overrides"):
            item["add_overrides"] = [
                override_wire(o, names) for o in _pieces(ch, "add_overrides", model.Override)
            ]
        if ch.get("add_scheduled_charges"):
            item["add_scheduled_charges"] = [
                scheduled_wire(x, names, "scheduled_charge")
                for x in _pieces(ch, "add_scheduled_charges", model.ScheduledCharge)
            ]
        if ch.get("add_discounts"):
            item["add_discounts"] = [
                scheduled_wire(x, names, "discount")
                for x in _pieces(ch, "add_discounts", model.ScheduledCharge)
            ]
        if ch.get("add_professional_services"):
            item["add_pro_services"] = [
                pro_service_wire(x, names)
                for x in _pieces(ch, "add_professional_services", model.ProfessionalService)
            ]
        for key, credit in (("add_recurring_commits", False), ("add_recurring_credits", True)):
            if ch.get(key):
                item[key] = [
                    recurring_wire(r, names, c.id, credit) for r in _pieces(ch, key, model.Recurring)
                ]
        if ch.get("add_subscriptions"):
            # As added; later quantity changes show under update_subscriptions.
            item["add_subscriptions"] = [
                subscription_wire(x, names, {}) for x in _pieces(ch, "add_subscriptions", model.Subscription)
            ]
        for key in ("archive_commits", "archive_credits", "archive_scheduled_charges", "remove_overrides"):
            if ch.get(key):
                item[key] = [{"id": x["id"]} for x in ch[key]]
        for key in ("update_contract_end_date", "update_contract_name", "uniqueness_key"):
            if ch.get(key) is not None:
                item[key] = ch[key]
        for key, idk in (("update_commits", "commit_id"), ("update_credits", "credit_id")):
            if ch.get(key):
                item[key] = [
                    {"id": u[idk], **{k: v for k, v in u.items() if k in _UPDATE_ECHO}} for u in ch[key]
                ]
        for key, idk in _TEMPLATE_UPDATES:
            if ch.get(key):
                item[key] = [
                    {"id": u[idk], **{k: v for k, v in u.items() if k in _TEMPLATE_ECHO}} for u in ch[key]
                ]
        for key in _CONFIG_ECHO:
            if ch.get(key):
                item[key] = ch[key]
        out.append(item)
    return out


def _pieces(changes: Doc, key: str, kind: type[model.V]) -> list[model.V]:
    """The terms an edit added under `key` (its history record stores them as written)."""
    return [model.parse(x, kind) for x in changes[key]]


_TEMPLATE_UPDATES = (
    ("update_recurring_commits", "recurring_commit_id"),
    ("update_recurring_credits", "recurring_credit_id"),
    ("update_subscriptions", "subscription_id"),
)
_TEMPLATE_ECHO = (
    "access_amount",
    "ending_before",
    "invoice_amount",
    "proration_rounding",
    "rate_type",
    "name",
    "quantity_updates",
    "seat_updates",
)
_CONFIG_ECHO = (
    "add_spend_threshold_configuration",
    "add_prepaid_balance_threshold_configuration",
    "update_spend_threshold_configuration",
    "update_prepaid_balance_threshold_configuration",
)
_UPDATE_ECHO = (
    "applicable_product_ids",
    "applicable_product_tags",
    "priority",
    "rate_type",
    "rollover_fraction",
    "netsuite_sales_order_id",
)


def _added_balance(b: Any, names: Names) -> Doc:
    w = balance_wire(
        b, names, b.created_at, include_balance=False, include_ledgers=False, with_contract=False
    )
    keep = (
        "id",
        "product",
        "type",
        "access_schedule",
        "applicable_product_ids",
        "applicable_product_tags",
        "description",
        "hierarchy_configuration",
        "invoice_schedule",
        "name",
        "netsuite_sales_order_id",
        "priority",
        "rate_type",
        "rollover_fraction",
        "salesforce_opportunity_id",
        "specifiers",
    )
    return {k: w[k] for k in keep if k in w}


# ------------------------------------------------------------------------ end date, archive, filter


def update_end_date(
    conn: Connection, tenant_id: str, req: s.UpdateEndDate, now: datetime, created_by: str
) -> None:
    c = _writable(conn, tenant_id, req.customer_id, req.contract_id)
    _check_end(
        conn,
        tenant_id,
        c,
        req.ending_before,
        "ending_before",
        bool(req.allow_ending_before_finalized_invoice),
        "allow_ending_before_finalized_invoice",
    )
    terms = replace(c.parsed, ending_before=req.ending_before)
    repo.update_contract(
        conn, tenant_id, c.id, {"terms": model.dump(terms), "ending_before": req.ending_before}
    )
    updates.sync_recurring_children(
        conn, tenant_id, c.customer_id, c.id, terms, updates.all_recurring_ids(terms), now
    )
    record_edit(
        conn,
        tenant_id,
        c.id,
        "UPDATE_END_DATE",
        {"update_contract_end_date": req.ending_before},
        now,
        now,
        created_by,
    )


def archive(conn: Connection, tenant_id: str, req: s.ArchiveContract, now: datetime, created_by: str) -> None:
    c = _writable(conn, tenant_id, req.customer_id, req.contract_id)
    repo.update_contract(conn, tenant_id, c.id, {"archived_at": now})
    repo.archive_balances(conn, tenant_id, c.id, now)
    record_edit(conn, tenant_id, c.id, "ARCHIVE", {"void_invoices": req.void_invoices}, now, now, created_by)


def set_usage_filter(
    conn: Connection, tenant_id: str, req: s.SetUsageFilter, now: datetime, created_by: str
) -> None:
    c = _writable(conn, tenant_id, req.customer_id, req.contract_id)
    if not req.group_values:
        raise BadRequest("group_values: at least one value is required")
    if not req.group_key:
        raise BadRequest("group_key: required")
    added = model.UsageFilter(
        group_key=req.group_key, group_values=tuple(req.group_values), starting_at=req.starting_at
    )
    kept = tuple(v for v in c.parsed.usage_filter if v.starting_at < req.starting_at)
    repo.update_contract(
        conn, tenant_id, c.id, {"terms": model.dump(replace(c.parsed, usage_filter=(*kept, added)))}
    )
    record_edit(
        conn,
        tenant_id,
        c.id,
        "SET_USAGE_FILTER",
        {"usage_filter": model.dump(added)},
        req.starting_at,
        now,
        created_by,
    )
